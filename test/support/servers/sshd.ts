import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, run } from "./common.ts";
import { describeDaemon, launchDaemon } from "./daemon.ts";
import type { RawServer } from "./types.ts";

/**
 * OpenSSH's sshd in the foreground (`-D -e -f <config>`) with only `internal-sftp`, a generated ed25519 host key,
 * a system user that may log in with its password or with a generated client key. No chroot (sshd wants a
 * root-owned path for that), so `remote.root` is the absolute server directory, as on many real hosts.
 */
export async function startSshd(options: { idleSeconds?: number | undefined } = {}): Promise<RawServer> {
  const daemon = await launchDaemon("sshd", async ({ dirs, user }) => {
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
        // a host that closes idle sessions (OpenSSH 9.2+); ClientAlive* would not: it only drops clients that stop
        // answering its keepalives, and ssh2 answers them
        ...(options.idleSeconds !== undefined
          ? [
              `ChannelTimeout session:*=${options.idleSeconds}s session=${options.idleSeconds}s`,
              `UnusedConnectionTimeout ${options.idleSeconds}s`,
            ]
          : []),
        "",
      ].join("\n"),
    );
    const extra = { hostKey, publicKey, clientKeyFile, authorizedKeys };
    return { command: "/usr/sbin/sshd", args: ["-D", "-e", "-f", confFile], port, greeting: "SSH-", extra };
  });
  const { hostKey, publicKey, clientKeyFile, authorizedKeys } = daemon.extra;
  return describeDaemon(daemon, {
    remoteRoot: daemon.dirs.root,
    hostKey,
    hostKeyLine: `[127.0.0.1]:${daemon.port} ${publicKey}`,
    privateKeyFile: clientKeyFile,
    authorizedKeysFile: authorizedKeys,
  });
}
