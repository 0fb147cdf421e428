import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSelfSignedCert, freePort, PURE_FTPD_DIR, passiveRange, run } from "./common.ts";
import { describeDaemon, launchDaemon } from "./daemon.ts";
import type { RawServer } from "./types.ts";

export interface PureFtpdOptions {
  /** Require explicit TLS (AUTH TLS) for everything (-Y 2). */
  tls: boolean;
}

/**
 * pure-ftpd (unpacked from the Debian package, see scripts/setup-test-servers.sh) with one virtual user in a puredb,
 * mapped to a generated system user and chrooted into the server's root directory. pure-ftpd has MLSD, so it
 * covers the machine-readable listing path that vsftpd (LIST only) does not.
 */
export async function startPureFtpd(options: PureFtpdOptions): Promise<RawServer> {
  const daemon = await launchDaemon(options.tls ? "pure-ftpd-ftps" : "pure-ftpd-ftp", async ({ dirs, user }) => {
    // The system user only owns the files; login is through the puredb with its own password.
    const login = `web${user.name.slice(3)}`;
    // `openssl passwd -6` (SHA-512 crypt): pure-ftpd's own default hash is deliberately slow to check.
    // the password goes on stdin: a generated one may start with "-", and argv is visible to other processes
    const hash = execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: `${user.password}\n`, encoding: "utf8" });
    const passwdFile = join(dirs.etc, "pureftpd.passwd");
    const pdbFile = join(dirs.etc, "pureftpd.pdb");
    // account:hash:uid:gid:gecos:home(/./ = chroot):... (pure-pw(8) format, 18 fields)
    const fields = [login, hash.trim(), String(user.uid), String(user.gid), "", `${dirs.root}/./`];
    while (fields.length < 18) fields.push("");
    await writeFile(passwdFile, `${fields.join(":")}\n`, { mode: 0o600 });
    await run(join(PURE_FTPD_DIR, "usr/bin/pure-pw"), ["mkdb", pdbFile, "-f", passwdFile]);
    const tls = options.tls ? await createSelfSignedCert(dirs.etc) : undefined;
    const port = await freePort();
    const [pasvMin, pasvMax] = passiveRange();
    const args = [
      "-S",
      `127.0.0.1,${port}`,
      "-l",
      `puredb:${pdbFile}`,
      "-E", // no anonymous
      "-A", // chroot everyone
      "-H", // do not resolve names
      "-4",
      "-D", // list dot files
      "-p",
      `${pasvMin}:${pasvMax}`,
      "-P",
      "127.0.0.1",
      "-u",
      "1",
      "-c",
      "100",
      "-C",
      "100",
      "-g",
      join(dirs.etc, "pure-ftpd.pid"),
      "-U",
      "133:022",
    ];
    if (tls) args.push("-Y", "2", "-2", `${tls.certFile},${tls.keyFile}`);
    const command = join(PURE_FTPD_DIR, "usr/sbin/pure-ftpd");
    return { command, args, port, greeting: "220", extra: { tls, login } };
  });
  return describeDaemon(daemon, { user: daemon.extra.login, tls: daemon.extra.tls });
}
