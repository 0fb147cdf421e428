import { chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createSelfSignedCert,
  createServerDirs,
  createSystemUser,
  freePort,
  passiveRange,
  recordPid,
  removeDir,
  spawnServer,
  startWatchdog,
  stopChild,
  type TlsMaterial,
  waitForGreeting,
  waitForPort,
} from "./common.ts";
import type { RawServer } from "./types.ts";

export interface VsftpdOptions {
  /** Require explicit TLS (AUTH TLS) for login and data. */
  tls: boolean;
  /** TLS from the first byte (the port-990 style), instead of AUTH TLS. */
  implicit?: boolean;
}

/** vsftpd on 127.0.0.1 with a real local user chrooted into its home (the server's root directory). */
export async function startVsftpd(options: VsftpdOptions): Promise<RawServer> {
  const dirs = await createServerDirs(
    options.implicit ? "vsftpd-ftps-implicit" : options.tls ? "vsftpd-ftps" : "vsftpd-ftp",
  );
  const user = await createSystemUser(dirs.root);
  await chown(dirs.root, user.uid, user.gid);
  const empty = join(dirs.base, "empty");
  await mkdir(empty, { mode: 0o755 });
  const tls = options.tls ? await createSelfSignedCert(dirs.etc) : undefined;
  const port = await freePort();
  const [pasvMin, pasvMax] = passiveRange();
  const confFile = join(dirs.etc, "vsftpd.conf");
  await writeFile(
    confFile,
    _config({
      port,
      pasvMin,
      pasvMax,
      empty,
      tls,
      implicit: options.implicit === true,
      log: join(dirs.etc, "vsftpd.log"),
    }),
  );
  const server = spawnServer("/usr/sbin/vsftpd", [confFile]);
  let { child, output } = server;
  const ready = () =>
    options.implicit ? waitForPort(port, child, output) : waitForGreeting(port, "220", child, output);
  try {
    await ready();
  } catch (error) {
    await stopChild(child);
    await user.remove();
    await removeDir(dirs.base);
    throw error;
  }
  await recordPid(dirs.base, child.pid);
  const watchdog = startWatchdog({ pid: () => child.pid, user: user.name, dir: dirs.base });
  return {
    host: "127.0.0.1",
    port,
    user: user.name,
    password: user.password,
    uid: user.uid,
    gid: user.gid,
    rootDir: dirs.root,
    remoteRoot: "/",
    tls,
    async restart() {
      await stopChild(child);
      ({ child, output } = spawnServer("/usr/sbin/vsftpd", [confFile]));
      await recordPid(dirs.base, child.pid);
      await ready();
    },
    async stop() {
      watchdog.cancel();
      await stopChild(child);
      await user.remove();
      await removeDir(dirs.base);
    },
  };
}

// --- internal ---

function _config(o: {
  port: number;
  pasvMin: number;
  pasvMax: number;
  empty: string;
  tls: TlsMaterial | undefined;
  implicit: boolean;
  log: string;
}): string {
  const lines = [
    "listen=YES",
    "listen_ipv6=NO",
    "listen_address=127.0.0.1",
    `listen_port=${o.port}`,
    // Foreground, no seccomp (it kills vsftpd in containers), its own empty dir for the privilege-separated child.
    "background=NO",
    "seccomp_sandbox=NO",
    `secure_chroot_dir=${o.empty}`,
    "anonymous_enable=NO",
    "local_enable=YES",
    "write_enable=YES",
    "local_umask=022",
    "chroot_local_user=YES",
    "allow_writeable_chroot=YES",
    "pam_service_name=vsftpd",
    // Dot files (.htaccess, the deploy manifest folder) must show in listings.
    "force_dot_files=YES",
    "pasv_enable=YES",
    "pasv_address=127.0.0.1",
    `pasv_min_port=${o.pasvMin}`,
    `pasv_max_port=${o.pasvMax}`,
    "port_enable=NO",
    "utf8_filesystem=YES",
    "max_clients=200",
    "max_per_ip=100",
    "idle_session_timeout=600",
    "data_connection_timeout=120",
    "xferlog_enable=YES",
    `vsftpd_log_file=${o.log}`,
    "dual_log_enable=NO",
    "use_localtime=NO",
  ];
  if (o.tls) {
    lines.push(
      "ssl_enable=YES",
      `rsa_cert_file=${o.tls.certFile}`,
      `rsa_private_key_file=${o.tls.keyFile}`,
      "force_local_logins_ssl=YES",
      "force_local_data_ssl=YES",
      "ssl_tlsv1=YES",
      "ssl_sslv2=NO",
      "ssl_sslv3=NO",
      // Node resumes the control connection's session on data connections, but TLS 1.3 tickets arrive late;
      // requiring reuse would make the first transfer fail at random.
      "require_ssl_reuse=NO",
      "ssl_ciphers=HIGH",
    );
    if (o.implicit) lines.push("implicit_ssl=YES");
  }
  return `${lines.join("\n")}\n`;
}
