import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploySchema } from "../../src/config/schema.ts";
import { SiteloomError } from "../../src/errors.ts";
import {
  createRemoteConnector,
  createRemotePool,
  isConnectionError,
  type RemoteFS,
  type RemotePool,
  runDeploy,
} from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { type FaultProxyOptions, startFaultProxy } from "../support/fault-proxy.ts";
import { freePort } from "../support/servers/common.ts";
import { type ServerKind, startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";

const DEPLOY = DeploySchema.parse({ parallel: 3, retries: 4, retryBaseMs: 10, retryMaxMs: 50 });
const LOGIN = (commands: string[]) => commands.some((c) => c.startsWith("USER "));

async function emptyRoot(server: TestServer) {
  for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
}

async function deploy(pool: RemotePool, output: string, state: string) {
  return runDeploy({ site: "demo", env: "pipelining", outputDir: output, stateDir: state, pool, config: DEPLOY });
}

// remote.pipelining against real servers behind a proxy that plays a server mishandling pipelined commands: it
// answers them out of order ("reorder"), loses the last command of a write ("drop": the batch would wait forever
// without the NOOP probe), or refuses every command after the first ("refuse": 500). At login, or only after it.
describe.each(["vsftpd-ftp", "pure-ftpd-ftp", "proftpd-ftp"] as const)("transfer: ftp pipelining on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function deployThrough(proxyOptions: Omit<FaultProxyOptions, "target">, pipelining: "auto" | "on" | "off") {
    await emptyRoot(server);
    const dir = await useTempDir("siteloom-pipelining-");
    const output = join(dir, "output");
    await writeSite(output);
    const proxy = await startFaultProxy({
      target: { host: "127.0.0.1", port: server.port },
      ftp: true,
      ...proxyOptions,
    });
    const warnings: string[] = [];
    const connect = await createRemoteConnector(
      { ...server.remoteConfig, port: proxy.port, pipelining },
      (v) => server.resolve(v),
      { warn: (m) => warnings.push(m) },
    );
    const pool = createRemotePool({ size: 3, connect });
    try {
      const result = await deploy(pool, output, join(dir, "state"));
      return { result, warnings, stats: { ...proxy.stats }, output };
    } finally {
      await pool.close();
      await proxy.close();
    }
  }

  // every way on vsftpd; on the others the ways that hit their own replies (kept few: each costs a deploy)
  const cases = (
    [
      ["reorder", "login"],
      ["reorder", "after login"],
      ["drop", "login"],
      ["drop", "after login"],
      ["refuse", "after login"],
    ] as const
  ).filter(([how, where]) => kind === "vsftpd-ftp" || (how !== "reorder") === (where === "after login"));
  it.each(cases)("auto: %s at %s → pipelining off with one warning, the deploy completes", async (how, where) => {
    const when = where === "login" ? LOGIN : (commands: string[]) => !LOGIN(commands);
    const run = await deployThrough({ mishandlePipelined: { how, when } }, "auto");
    expect(run.result.failures).toEqual([]);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(run.output));
    expect(run.stats.mishandled).toBeGreaterThanOrEqual(1);
    expect(run.warnings.filter((w) => /pipelining is off for the rest/.test(w))).toHaveLength(1);
    expect(run.warnings[0]).toMatch(/when its commands were pipelined/);
    if (where === "login") {
      // only the login batches of the connections opened at once were pipelined; none after them
      expect(run.stats.mishandled).toBeLessThanOrEqual(3);
      expect(run.stats.pipelined).toBe(run.stats.mishandled);
    }
  });

  // one server is enough to show that "off" sends one command per write (defined there only: no skipped tests)
  if (kind === "vsftpd-ftp") {
    it("off: no write holds more than one command, and the deploy is the same", async () => {
      const run = await deployThrough({}, "off");
      expect(run.result.failures).toEqual([]);
      expect(await snapshot(server.rootDir)).toEqual(await snapshot(run.output));
      expect(run.stats.pipelined).toBe(0);
      expect(run.warnings).toEqual([]);
    });
  }

  it("auto against the server itself: batches are pipelined, no warning", async () => {
    const run = await deployThrough({}, "auto");
    expect(run.result.failures).toEqual([]);
    expect(run.stats.pipelined).toBeGreaterThan(0);
    expect(run.warnings).toEqual([]);
  });
});

// A server that closes idle control connections ("421 Timeout" and a FIN; OpenSSH's ChannelTimeout and
// UnusedConnectionTimeout): the pool's connections die between two deploys of one run; the next deploy logs in
// afresh instead of failing or spending retries on dead sessions.
const IDLE_SECONDS = 5;
describe.each(["vsftpd-ftp", "proftpd-ftp", "sftp"] as const satisfies ServerKind[])(
  "transfer: idle-closed control connections on %s",
  (kind) => {
    it("a deploy after the server closed every idle connection completes with no retry", {
      timeout: 180_000,
    }, async () => {
      // long enough that no connection idles out in the middle of a deploy on a loaded machine
      const server = await startServer(kind, { idleTimeoutSeconds: IDLE_SECONDS });
      const dir = await useTempDir("siteloom-idle-");
      const output = join(dir, "output");
      await writeSite(output);
      const login = await createRemoteConnector(server.remoteConfig, (v) => server.resolve(v));
      const connections: RemoteFS[] = [];
      const connect = async () => {
        const fs = await login();
        connections.push(fs);
        return fs;
      };
      // why connections were given up: only for having been closed while idle, never by an operation that failed
      const discarded: string[] = [];
      const pool = createRemotePool({ size: 3, connect, onDiscard: (e) => discarded.push(String(e)) });
      try {
        const first = await deploy(pool, output, join(dir, "state"));
        expect(first.failures).toEqual([]);
        const opened = pool.connectionsOpened;
        expect(opened).toBeGreaterThanOrEqual(1);
        // the server closes every idle connection after IDLE_SECONDS; wait until each one says so (a connection that
        // never notices its server hung up would be lent out dead: without `closed` this wait fails)
        const deadline = Date.now() + IDLE_SECONDS * 1000 + 30_000;
        while (!connections.every((fs) => fs.closed === true)) {
          if (Date.now() > deadline) throw new Error(`${kind}: idle connections not seen closed by the server`);
          await sleep(100);
        }
        await writeFile(join(output, "index.html"), "<p>changed</p>");
        await writeFile(join(output, "blog/new.html"), "<p>new</p>");
        discarded.length = 0;
        const second = await deploy(pool, output, join(dir, "state"));
        expect(second.failures).toEqual([]);
        expect(second.stats.uploaded).toBe(2);
        expect(second.stats.retries).toBe(0);
        expect(discarded.length).toBeGreaterThanOrEqual(1);
        expect(discarded.filter((e) => !/closed the idle connection/.test(e))).toEqual([]);
        expect(pool.connectionsOpened).toBeGreaterThan(opened);
        expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
      } finally {
        await pool.close();
        await server.stop();
      }
    });
  },
);

// vsftpd ends a session with "500 OOPS: …" and closes the connection when it cannot go on: "vsf_sysutil_bind" when it
// cannot bind a passive port (a narrow pasv range shared by many sessions, as on a busy host), then its unprivileged
// half's "priv_sock_get_int", which the client reads as the reply to the next command it sent (in the transfer
// benchmark: the RNFR of the next batch). A dead session to replace, not a server mishandling pipelined commands:
// pipelining stays on.
describe("transfer: vsftpd sessions that die (500 OOPS)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("a passive port taken by another process: the login fails as a lost connection", async () => {
    const port = await freePort();
    const narrow = await startServer("vsftpd-ftp", { passiveRange: [port, port] });
    const warnings: string[] = [];
    const connect = await createRemoteConnector(
      { ...narrow.remoteConfig, pipelining: "auto" },
      (v) => narrow.resolve(v),
      { warn: (m) => warnings.push(m) },
    );
    // the login batch ends with EPSV, for which vsftpd binds its only passive port
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(port, "127.0.0.1", () => done()));
    try {
      const error = await connect().then(
        (fs) => fs.close(),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SiteloomError);
      expect((error as SiteloomError).code).toBe("ERR_TRANSFER_CONNECT");
      // vsftpd writes "500 OOPS: " and its reason apart; basic-ftp may take the first write for the whole reply
      expect((error as Error).message).toMatch(/closed by the server: 500 OOPS:/);
      expect(isConnectionError(error)).toBe(true);
      await new Promise((done) => blocker.close(done));
      const fs = await connect();
      await fs.put!(Readable.from([Buffer.from("a")]), ".in.a.txt", "a.txt", { expectedSize: 1 });
      await fs.close();
      expect(await readFile(join(narrow.rootDir, "a.txt"), "utf8")).toBe("a");
      expect(warnings).toEqual([]);
    } finally {
      blocker.close();
      await narrow.stop();
    }
  });

  it("a session that dies mid-batch: the deploy completes on fresh sessions, still pipelined", async () => {
    await emptyRoot(server);
    const dir = await useTempDir("siteloom-oops-");
    const output = join(dir, "output");
    await writeSite(output);
    const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
    // vsftpd's line (as the benchmark met it) in place of the reply to the first RNFR
    let armed = true;
    proxy.rewriteControl = (text) => {
      if (!armed || !/^350 /m.test(text)) return text;
      armed = false;
      return text.replace(/^350 .*$/m, "500 OOPS: priv_sock_get_int\r");
    };
    const warnings: string[] = [];
    const connect = await createRemoteConnector(
      { ...server.remoteConfig, port: proxy.port, pipelining: "auto" },
      (v) => server.resolve(v),
      { warn: (m) => warnings.push(m) },
    );
    const pool = createRemotePool({ size: 2, connect });
    try {
      const result = await deploy(pool, output, join(dir, "state"));
      expect(armed).toBe(false);
      expect(result.failures).toEqual([]);
      expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
      expect(warnings).toEqual([]);
    } finally {
      await pool.close();
      await proxy.close();
    }
  });
});
