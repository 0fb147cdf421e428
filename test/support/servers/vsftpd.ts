import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSelfSignedCert, freePort, passiveRange, type TlsMaterial } from "./common.ts";
import { describeDaemon, launchDaemon } from "./daemon.ts";
import type { RawServer } from "./types.ts";

export interface VsftpdOptions {
  /** Require explicit TLS (AUTH TLS) for login and data. */
  tls: boolean;
  /** TLS from the first byte (the port-990 style), instead of AUTH TLS. */
  implicit?: boolean;
  /** Closes control connections idle this long. @default 600 */
  idleSeconds?: number | undefined;
  /** Listen on every address (reached at this one from containers), not only 127.0.0.1; passive replies name it. */
  hostAddress?: string | undefined;
  /** The passive ports. @default 40 random ones */
  passiveRange?: [number, number] | undefined;
}

/** vsftpd on 127.0.0.1 with a real local user chrooted into its home (the server's root directory). */
export async function startVsftpd(options: VsftpdOptions): Promise<RawServer> {
  const prefix = options.implicit ? "vsftpd-ftps-implicit" : options.tls ? "vsftpd-ftps" : "vsftpd-ftp";
  const daemon = await launchDaemon(prefix, async ({ dirs }) => {
    const empty = join(dirs.base, "empty");
    await mkdir(empty, { mode: 0o755 });
    const tls = options.tls ? await createSelfSignedCert(dirs.etc) : undefined;
    const port = await freePort();
    const [pasvMin, pasvMax] = options.passiveRange ?? passiveRange();
    const confFile = join(dirs.etc, "vsftpd.conf");
    const implicit = options.implicit === true;
    await writeFile(
      confFile,
      _config({
        port,
        pasvMin,
        pasvMax,
        empty,
        tls,
        implicit,
        log: join(dirs.etc, "vsftpd.log"),
        idle: options.idleSeconds ?? 600,
        hostAddress: options.hostAddress,
      }),
    );
    // implicit TLS greets only after the handshake: wait for the port instead
    return { command: "/usr/sbin/vsftpd", args: [confFile], port, greeting: implicit ? undefined : "220", extra: tls };
  });
  return describeDaemon(daemon, { tls: daemon.extra });
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
  idle: number;
  hostAddress: string | undefined;
}): string {
  const lines = [
    "listen=YES",
    "listen_ipv6=NO",
    `listen_address=${o.hostAddress ? "0.0.0.0" : "127.0.0.1"}`,
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
    `pasv_address=${o.hostAddress ?? "127.0.0.1"}`,
    `pasv_min_port=${o.pasvMin}`,
    `pasv_max_port=${o.pasvMax}`,
    "port_enable=NO",
    "utf8_filesystem=YES",
    "max_clients=200",
    "max_per_ip=100",
    `idle_session_timeout=${o.idle}`,
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
