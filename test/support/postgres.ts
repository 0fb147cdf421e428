/**
 * A throwaway PostgreSQL 15 for tests: Debian's `postgresql` (installed by scripts/setup-postgres.sh), a fresh
 * cluster made by `initdb` in a temp folder, listening on 127.0.0.1 on a free port (its unix socket stays in the
 * temp folder), with a generated superuser password (scram-sha-256 over TCP). PostgreSQL refuses to run as root, so
 * the cluster belongs to a generated system user, as the FTP servers do (tests run as root).
 *
 *   import { startPostgres } from "../support/postgres.ts";
 *   const pg = await startPostgres();                // in beforeAll (one cluster per test file)
 *   pg.url                                           // postgres://siteloom:<pw>@127.0.0.1:<port>/siteloom
 *   const url = await pg.createDatabase("contract"); // a new empty database, its url
 *   pg.env / pg.urlRef(db)                           // the url as a `${VAR}` reference, for siteloom.yaml
 *   await pg.restart({ downMs: 10_000 })             // fast shutdown, stay down, start again on the same port
 *   await pg.stop()                                  // in afterAll: stops it and deletes every file and the user
 *
 * Tuned for tests, not durability: fsync, synchronous_commit and full_page_writes are off.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { createServerDirs, createSystemUser, freePort, recordPid, removeDir, startWatchdog } from "./servers/common.ts";

/** Where Debian's postgresql-15 puts its binaries. */
export const POSTGRES_BIN_DIR = process.env.SITELOOM_POSTGRES_BIN ?? "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The default database `siteloom`, as a connection URL (contains the password: keep it out of snapshots). */
  url: string;
  /** Folder of the unix socket (connect with `host=<socketDir>` to bypass TCP). */
  socketDir: string;
  /** `{ SITELOOM_TEST_PG_URL_xxx: url }`: the variable the `${VAR}` references of `urlRef` read. */
  env: Record<string, string>;
  /** Creates an empty database (name: letters, digits, `_`) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The URL of a database as a `${VAR}` reference (for siteloom.yaml); sets the variable in `env` and process.env. */
  urlRef(url: string): string;
  /** URL of database `name` (no check that it exists). */
  urlFor(name: string): string;
  /** Runs SQL as the superuser on database `name` (default `siteloom`). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<R[]>;
  /** Whether the server is running now. */
  readonly running: boolean;
  /** Fast shutdown (clients are disconnected); the data stays. Pair with `start()`. */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port. */
  start(): Promise<void>;
  /** `halt()`, wait `downMs` (default 0), `start()`: "PostgreSQL down for 10 s" tests. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server and deletes its files and system user. */
  stop(): Promise<void>;
}

/** Starts a fresh PostgreSQL cluster. Call `stop()` in afterAll. */
export async function startPostgres(): Promise<TestPostgres> {
  const dirs = await createServerDirs("postgres");
  const osUser = await createSystemUser(dirs.root).catch(async (error) => {
    await removeDir(dirs.base);
    throw error;
  });
  const dataDir = join(dirs.root, "data");
  const socketDir = join(dirs.root, "socket");
  const password = randomBytes(18).toString("base64url");
  const dbUser = "siteloom";
  let child: ChildProcess | undefined;
  let output = "";
  let watchdog: { cancel(): void } | undefined;

  const asUser = (command: string, args: string[]) =>
    spawn(join(POSTGRES_BIN_DIR, command), args, {
      uid: osUser.uid,
      gid: osUser.gid,
      cwd: dirs.root,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
    });

  try {
    await chown(dirs.root, osUser.uid, osUser.gid);
    await mkdir(socketDir, { mode: 0o700 });
    await chown(socketDir, osUser.uid, osUser.gid);
    const pwFile = join(dirs.root, "pwfile");
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    await chown(pwFile, osUser.uid, osUser.gid);
    await _exitOk(
      asUser("initdb", [
        "-D",
        dataDir,
        "-U",
        dbUser,
        `--pwfile=${pwFile}`,
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
        "--no-instructions",
      ]),
      "initdb",
    );
    const port = await freePort();

    const start = async () => {
      output = "";
      const server = asUser("postgres", [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-h",
        "127.0.0.1",
        "-k",
        socketDir,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "logging_collector=off",
        "-c",
        "log_min_messages=warning",
      ]);
      child = server;
      const collect = (d: Buffer) => {
        output += d.toString();
        if (output.length > 20_000) output = output.slice(-10_000);
      };
      server.stdout?.on("data", collect);
      server.stderr?.on("data", collect);
      await recordPid(dirs.base, server.pid);
      await _waitReady({ port, user: dbUser, password, child: server, output: () => output });
    };
    const halt = async () => {
      const current = child;
      child = undefined;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => current.once("exit", () => resolve()));
      // SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients instead of waiting for them (SIGTERM).
      current.kill("SIGINT");
      const timer = setTimeout(() => current.kill("SIGQUIT"), 10_000);
      await exited;
      clearTimeout(timer);
    };

    await start();
    await _createDb(port, dbUser, password, dbUser);
    watchdog = startWatchdog({ pid: () => child?.pid, user: osUser.name, dir: dirs.base });
    const urlFor = (name: string) =>
      `postgres://${dbUser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    const env: Record<string, string> = {};
    const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = dbUser) => {
      const client = new pg.Client({ connectionString: urlFor(database) });
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end();
      }
    };
    const armed = watchdog;
    return {
      host: "127.0.0.1",
      port,
      user: dbUser,
      password,
      url: urlFor(dbUser),
      socketDir,
      env,
      urlFor,
      query,
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async createDatabase(name) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
        await query(`CREATE DATABASE "${name}"`);
        return urlFor(name);
      },
      urlRef(url) {
        const variable = `SITELOOM_TEST_PG_URL_${randomBytes(4).toString("hex").toUpperCase()}`;
        env[variable] = url;
        process.env[variable] = url;
        return `\${${variable}}`;
      },
      halt,
      start,
      async restart(options = {}) {
        await halt();
        if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
        await start();
      },
      async stop() {
        armed.cancel();
        await halt();
        for (const variable of Object.keys(env)) delete process.env[variable];
        await osUser.remove();
        await removeDir(dirs.base);
      },
    };
  } catch (error) {
    watchdog?.cancel();
    child?.kill("SIGKILL");
    await osUser.remove();
    await removeDir(dirs.base);
    throw new Error(`PostgreSQL did not start (is scripts/setup-postgres.sh installed?): ${String(error)}\n${output}`);
  }
}

// --- internal ---

async function _exitOk(child: ChildProcess, what: string): Promise<void> {
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`${what} exited ${code}: ${out}`);
}

async function _createDb(port: number, user: string, password: string, name: string): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user, password, database: "postgres" });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/** Waits until the server accepts an authenticated connection over TCP. */
async function _waitReady(options: {
  port: number;
  user: string;
  password: string;
  child: ChildProcess;
  output: () => string;
}): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline) {
    if (options.child.exitCode !== null || options.child.signalCode !== null) {
      throw new Error(`postgres exited early (${options.child.exitCode ?? options.child.signalCode})`);
    }
    const client = new pg.Client({
      host: "127.0.0.1",
      port: options.port,
      user: options.user,
      password: options.password,
      database: "postgres",
      connectionTimeoutMillis: 2_000,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return;
    } catch (error) {
      last = String(error);
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`postgres on port ${options.port} did not accept connections: ${last}`);
}
