import { chown } from "node:fs/promises";
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
  const dirs = await createServerDirs(prefix);
  let user: TestUser | undefined;
  let child: ReturnType<typeof spawnServer>["child"] | undefined;
  try {
    user = await createSystemUser(dirs.root);
    await chown(dirs.root, user.uid, user.gid);
    const spec = await prepare({ dirs, user });
    const start = async () => {
      const spawned = spawnServer(spec.command, spec.args);
      child = spawned.child;
      await recordPid(dirs.base, child.pid);
      if (spec.greeting === undefined) await waitForPort(spec.port, spawned.child, spawned.output);
      else await waitForGreeting(spec.port, spec.greeting, spawned.child, spawned.output);
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
    if (child) await stopChild(child);
    await user?.remove();
    await removeDir(dirs.base);
    throw error;
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
