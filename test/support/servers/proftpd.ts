import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSelfSignedCert, freePort, PROFTPD_DIR, passiveRange, type TlsMaterial } from "./common.ts";
import { describeDaemon, launchDaemon } from "./daemon.ts";
import type { RawServer } from "./types.ts";

export interface ProftpdOptions {
  /** Require explicit TLS (AUTH TLS) for login and data (mod_tls). */
  tls: boolean;
  /** Closes control connections idle this long (TimeoutIdle). @default 600 */
  idleSeconds?: number | undefined;
}

/**
 * ProFTPD (Debian's proftpd-core and proftpd-mod-crypto, unpacked by scripts/setup-test-servers.sh: the package
 * conflicts with vsftpd) with one virtual user in an AuthUserFile, mapped to a generated system user and jailed in
 * the server's root directory. ProFTPD is the FTP server of much shared hosting; it has MLSD and answers some
 * command sequences differently from vsftpd and pure-ftpd (a refused RETR resets a data connection already open).
 */
export async function startProftpd(options: ProftpdOptions): Promise<RawServer> {
  const daemon = await launchDaemon(options.tls ? "proftpd-ftps" : "proftpd-ftp", async ({ dirs, user }) => {
    const login = `web${user.name.slice(3)}`;
    // the password goes on stdin: a generated one may start with "-", and argv is visible to other processes
    const hash = execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: `${user.password}\n`, encoding: "utf8" });
    const passwdFile = join(dirs.etc, "ftpd.passwd");
    await writeFile(passwdFile, `${login}:${hash.trim()}:${user.uid}:${user.gid}::${dirs.root}:/bin/false\n`, {
      mode: 0o600,
    });
    const tls = options.tls ? await createSelfSignedCert(dirs.etc) : undefined;
    const port = await freePort();
    const [pasvMin, pasvMax] = passiveRange();
    const confFile = join(dirs.etc, "proftpd.conf");
    await writeFile(
      confFile,
      _config({ port, pasvMin, pasvMax, etc: dirs.etc, passwdFile, tls, idle: options.idleSeconds ?? 600 }),
    );
    const command = join(PROFTPD_DIR, "usr/sbin/proftpd");
    // -n: foreground; -q: quiet start-up
    return { command, args: ["-n", "-q", "-c", confFile], port, greeting: "220", extra: { tls, login } };
  });
  return describeDaemon(daemon, { user: daemon.extra.login, tls: daemon.extra.tls });
}

// --- internal ---

function _config(o: {
  port: number;
  pasvMin: number;
  pasvMax: number;
  etc: string;
  passwdFile: string;
  tls: TlsMaterial | undefined;
  idle: number;
}): string {
  const lines = [
    `ModulePath ${join(PROFTPD_DIR, "usr/lib/proftpd")}`,
    ...(o.tls ? ["LoadModule mod_tls.c"] : []),
    'ServerName "siteloom test"',
    "ServerType standalone",
    "DefaultServer on",
    "UseIPv6 off",
    "DefaultAddress 127.0.0.1",
    "SocketBindTight on",
    `Port ${o.port}`,
    `PassivePorts ${o.pasvMin} ${o.pasvMax}`,
    "User nobody",
    "Group nogroup",
    "Umask 022",
    "AllowOverwrite on",
    // resumed uploads (APPE), as shared hosts allow them (without it APPE gets a 451 and a deploy sends the whole file)
    "AllowStoreRestart on",
    // the virtual user only: no PAM, no shell check, jailed in its home (the server root)
    `AuthUserFile ${o.passwdFile}`,
    "AuthOrder mod_auth_file.c",
    "RequireValidShell off",
    "DefaultRoot ~",
    // dot files (.htaccess, the deploy manifest folder) must show in listings
    'ListOptions "-a"',
    "UseReverseDNS off",
    "DelayEngine off",
    "WtmpLog off",
    "MaxInstances 200",
    "MaxClientsPerHost 100",
    `TimeoutIdle ${o.idle}`,
    `PidFile ${join(o.etc, "proftpd.pid")}`,
    `ScoreboardFile ${join(o.etc, "proftpd.scoreboard")}`,
    `SystemLog ${join(o.etc, "proftpd.log")}`,
    `TransferLog ${join(o.etc, "xferlog")}`,
    "<Directory />",
    "  AllowOverwrite on",
    "</Directory>",
  ];
  if (o.tls) {
    lines.push(
      "TLSEngine on",
      "TLSRequired on",
      `TLSRSACertificateFile ${o.tls.certFile}`,
      `TLSRSACertificateKeyFile ${o.tls.keyFile}`,
      "TLSProtocol TLSv1.2 TLSv1.3",
      `TLSLog ${join(o.etc, "tls.log")}`,
      // Node resumes the control connection's session on data connections, but TLS 1.3 tickets arrive late;
      // requiring reuse would make the first transfer fail at random (as with vsftpd's require_ssl_reuse)
      "TLSOptions NoSessionReuseRequired",
    );
  }
  return `${lines.join("\n")}\n`;
}
