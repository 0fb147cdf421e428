import { chown, readdir, readFile, readlink } from "node:fs/promises";
import { connect } from "node:net";
import {
  createServerDirs,
  createSystemUser,
  recordPid,
  removeDir,
  type ServerDirs,
  spawnServer,
  startWatchdog,
  stopChild,
  type TestUser,
  waitForGreeting,
  waitForPort,
} from "./common.ts";
import type { RawServer } from "./types.ts";

/** What a launcher's `prepare` returns: how to start the daemon and when it is up. */
export interface DaemonSpec {
  /** Absolute path of the server binary, run in the foreground. */
  command: string;
  args: string[];
  /** The 127.0.0.1 port the daemon listens on. */
  port: number;
  /**
   * First line the daemon sends once it is ready (`"220"`, `"SSH-"`); `undefined` waits until the port accepts
   * connections (servers that speak TLS from the first byte).
   */
  greeting: string | undefined;
}

/** A running daemon with its folders and system user; `stop()` removes all three. */
export interface Daemon<T> {
  dirs: ServerDirs;
  user: TestUser;
  port: number;
  /** What `prepare` returned besides the spec (certificates, key files, config paths). */
  extra: T;
  /** Stops the daemon and starts it again on the same port with the same config (fault tests). */
  restart(): Promise<void>;
  /** Stops the daemon, deletes its user and every file of the instance. */
  stop(): Promise<void>;
}

/**
 * The one start/wait/clean-up path of every test server: creates the instance folders under /tmp and a system
 * user owning the server root, lets `prepare` write the config (keys, certificates, user databases), spawns the
 * daemon in the foreground, waits for its greeting, and arms a watchdog that removes server, user and folders if
 * the test process dies before `stop()`. A failure anywhere on the way removes what was made so far.
 *
 *   const daemon = await launchDaemon("vsftpd-ftp", async ({ dirs, user }) => ({
 *     command: "/usr/sbin/vsftpd", args: [conf], port, greeting: "220", extra: { conf },
 *   }));
 */
export async function launchDaemon<T = undefined>(
  prefix: string,
  prepare: (home: { dirs: ServerDirs; user: TestUser }) => Promise<DaemonSpec & { extra: T }>,
): Promise<Daemon<T>> {
  // The port is free when `prepare` picks it, but another process (an outgoing connection, another suite's server)
  // may take it before the daemon binds it: that is the harness's race, so a fresh instance on a new port tries again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await _launchOnce(prefix, prepare);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** The fields every launcher reports the same way; `fields` adds or overrides the server-specific ones. */
export function describeDaemon(daemon: Daemon<unknown>, fields: Partial<RawServer> = {}): RawServer {
  return {
    host: "127.0.0.1",
    port: daemon.port,
    user: daemon.user.name,
    password: daemon.user.password,
    uid: daemon.user.uid,
    gid: daemon.user.gid,
    rootDir: daemon.dirs.root,
    remoteRoot: "/",
    tls: undefined,
    restart: daemon.restart,
    stop: daemon.stop,
    ...fields,
  };
}

// --- internal ---

/** The daemon could not listen: another process holds its port (vsftpd exits 2 without a word, so it is asked). */
class PortTakenError extends Error {}

async function _launchOnce<T>(
  prefix: string,
  prepare: (home: { dirs: ServerDirs; user: TestUser }) => Promise<DaemonSpec & { extra: T }>,
): Promise<Daemon<T>> {
  const dirs = await createServerDirs(prefix);
  let user: TestUser | undefined;
  let child: ReturnType<typeof spawnServer>["child"] | undefined;
  let port: number | undefined;
  try {
    user = await createSystemUser(dirs.root);
    await chown(dirs.root, user.uid, user.gid);
    const spec = await prepare({ dirs, user });
    port = spec.port;
    const start = async () => {
      const spawned = spawnServer(spec.command, spec.args);
      child = spawned.child;
      await recordPid(dirs.base, child.pid);
      if (spec.greeting === undefined) await waitForPort(spec.port, spawned.child, spawned.output);
      else await waitForGreeting(spec.port, spec.greeting, spawned.child, spawned.output);
      // whatever answered must be this daemon, not another process that holds the port while ours failed to bind
      if (!(await _listensOn(spawned.child.pid, spec.port))) {
        throw new PortTakenError(`port ${spec.port} is held by another process; output: ${spawned.output()}`);
      }
    };
    await start();
    const owner = user;
    const watchdog = startWatchdog({ pid: () => child?.pid, user: owner.name, dir: dirs.base });
    return {
      dirs,
      user: owner,
      port: spec.port,
      extra: spec.extra,
      async restart() {
        if (child) await stopChild(child);
        await start();
      },
      async stop() {
        watchdog.cancel();
        if (child) await stopChild(child);
        await owner.remove();
        await removeDir(dirs.base);
      },
    };
  } catch (error) {
    const exited = child !== undefined && (child.exitCode !== null || child.signalCode !== null);
    if (child) await stopChild(child);
    await user?.remove();
    await removeDir(dirs.base);
    if (error instanceof PortTakenError) throw error;
    if (exited && port !== undefined && (await _accepts(port))) {
      throw new PortTakenError(`port ${port} was taken by another process: ${String(error)}`, { cause: error });
    }
    throw error;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function _accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * Whether process `pid` or one of its descendants holds the listening TCP socket of `port`: the socket's inode from
 * /proc/net/tcp{,6}, looked for among the processes' open files.
 */
async function _listensOn(pid: number | undefined, port: number): Promise<boolean> {
  if (pid === undefined) return false;
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address:port, f[3] state (0A = LISTEN), f[9] inode
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === "0A" && f[9]) inodes.add(`socket:[${f[9]}]`);
    }
  }
  for (const p of await _withDescendants(pid)) {
    const fds = await readdir(`/proc/${p}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if (inodes.has(await readlink(`/proc/${p}/fd/${fd}`).catch(() => ""))) return true;
    }
  }
  return false;
}

async function _withDescendants(pid: number): Promise<number[]> {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const tasks = await readdir(`/proc/${all[i]}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${all[i]}/task/${task}/children`, "utf8").catch(() => "");
      for (const child of children.split(" ").filter(Boolean)) all.push(Number(child));
    }
  }
  return all;
}
