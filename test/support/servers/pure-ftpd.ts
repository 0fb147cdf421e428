import { execFileSync } from "node:child_process";
import { chown, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createSelfSignedCert,
  createServerDirs,
  createSystemUser,
  freePort,
  PURE_FTPD_DIR,
  passiveRange,
  recordPid,
  removeDir,
  run,
  spawnServer,
  startWatchdog,
  stopChild,
  waitForGreeting,
} from "./common.ts";
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
  const dirs = await createServerDirs(options.tls ? "pure-ftpd-ftps" : "pure-ftpd-ftp");
  // The system user only owns the files; login is through the puredb with its own password.
  const owner = await createSystemUser(dirs.root);
  await chown(dirs.root, owner.uid, owner.gid);
  const login = `web${owner.name.slice(3)}`;
  const password = owner.password;
  // `openssl passwd -6` (SHA-512 crypt): pure-ftpd's own default hash is deliberately slow to check.
  // the password goes on stdin: a generated one may start with "-", and argv is visible to other processes
  const hash = execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n`, encoding: "utf8" });
  const passwdFile = join(dirs.etc, "pureftpd.passwd");
  const pdbFile = join(dirs.etc, "pureftpd.pdb");
  // account:hash:uid:gid:gecos:home(/./ = chroot):... (pure-pw(8) format, 18 fields)
  const fields = [login, hash.trim(), String(owner.uid), String(owner.gid), "", `${dirs.root}/./`];
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
  const binary = join(PURE_FTPD_DIR, "usr/sbin/pure-ftpd");
  let { child, output } = spawnServer(binary, args);
  try {
    await waitForGreeting(port, "220", child, output);
  } catch (error) {
    await stopChild(child);
    await owner.remove();
    await removeDir(dirs.base);
    throw error;
  }
  await recordPid(dirs.base, child.pid);
  const watchdog = startWatchdog({ pid: () => child.pid, user: owner.name, dir: dirs.base });
  return {
    host: "127.0.0.1",
    port,
    user: login,
    password,
    uid: owner.uid,
    gid: owner.gid,
    rootDir: dirs.root,
    remoteRoot: "/",
    tls,
    async restart() {
      await stopChild(child);
      ({ child, output } = spawnServer(binary, args));
      await recordPid(dirs.base, child.pid);
      await waitForGreeting(port, "220", child, output);
    },
    async stop() {
      watchdog.cancel();
      await stopChild(child);
      await owner.remove();
      await removeDir(dirs.base);
    },
  };
}
