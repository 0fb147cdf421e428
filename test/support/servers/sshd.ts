import { chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createServerDirs,
  createSystemUser,
  freePort,
  recordPid,
  removeDir,
  run,
  spawnServer,
  startWatchdog,
  stopChild,
  waitForGreeting,
} from "./common.ts";
import type { RawServer } from "./types.ts";

/**
 * OpenSSH's sshd in the foreground (`-D -e -f <config>`) with only `internal-sftp`, a generated ed25519 host key,
 * a system user that may log in with its password or with a generated client key. No chroot (sshd wants a
 * root-owned path for that), so `remote.root` is the absolute server directory, as on many real hosts.
 */
export async function startSshd(): Promise<RawServer> {
  const dirs = await createServerDirs("sshd");
  const user = await createSystemUser(dirs.root);
  await chown(dirs.root, user.uid, user.gid);
  const hostKeyFile = join(dirs.etc, "ssh_host_ed25519_key");
  const keys = join(dirs.base, "keys");
  await mkdir(keys, { mode: 0o755 });
  const clientKeyFile = join(dirs.etc, "client_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "siteloom-test-host", "-f", hostKeyFile]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "siteloom-test-client", "-f", clientKeyFile]);
  const authorizedKeys = join(keys, "authorized_keys");
  await writeFile(authorizedKeys, await readFile(`${clientKeyFile}.pub`), { mode: 0o644 });
  const { stdout: fp } = await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKeyFile}.pub`]);
  const hostKey = fp.split(" ")[1] ?? "";
  const publicKey = (await readFile(`${hostKeyFile}.pub`, "utf8")).trim().split(" ").slice(0, 2).join(" ");
  // sshd's privilege separation directory; the Debian package creates it only when its service starts.
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const port = await freePort();
  const confFile = join(dirs.etc, "sshd_config");
  await writeFile(
    confFile,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dirs.etc, "sshd.pid")}`,
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "UsePAM no",
      "PermitRootLogin no",
      `AllowUsers ${user.name}`,
      "Subsystem sftp internal-sftp -u 022",
      "ForceCommand internal-sftp -u 022",
      "AllowTcpForwarding no",
      "X11Forwarding no",
      "MaxStartups 100:30:200",
      "MaxSessions 100",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const args = ["-D", "-e", "-f", confFile];
  let { child, output } = spawnServer("/usr/sbin/sshd", args);
  try {
    await waitForGreeting(port, "SSH-", child, output);
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
    remoteRoot: dirs.root,
    tls: undefined,
    hostKey,
    hostKeyLine: `[127.0.0.1]:${port} ${publicKey}`,
    privateKeyFile: clientKeyFile,
    authorizedKeysFile: authorizedKeys,
    async restart() {
      await stopChild(child);
      ({ child, output } = spawnServer("/usr/sbin/sshd", args));
      await recordPid(dirs.base, child.pid);
      await waitForGreeting(port, "SSH-", child, output);
    },
    async stop() {
      watchdog.cancel();
      await stopChild(child);
      await user.remove();
      await removeDir(dirs.base);
    },
  };
}
