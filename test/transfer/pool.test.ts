import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteloomError } from "../../src/errors.ts";
import { Secret } from "../../src/secret.ts";
import {
  createFtpRemote,
  createRemotePool,
  createSftpRemote,
  isConnectionError,
  type RemoteFS,
  type UnsafeEntry,
} from "../../src/transfer/index.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";

let local: string;
let payload: Buffer;
let payloadFile: string;

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), "siteloom-pool-"));
  payload = randomBytes(3 * 1024 * 1024);
  payloadFile = join(local, "payload.bin");
  await writeFile(payloadFile, payload);
});
afterAll(async () => {
  await rm(local, { recursive: true, force: true });
});

describe("transfer: pool over vsftpd through the fault proxy", () => {
  let server: TestServer;
  let proxy: FaultProxy;
  const connect = () =>
    createFtpRemote({
      host: "127.0.0.1",
      port: proxy.port,
      user: server.user,
      password: new Secret(server.password),
      timeoutMs: 2_000,
    });

  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
    proxy = await startFaultProxy({ target: { host: server.host, port: server.port }, ftp: true });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it("replaces a connection whose data transfer is reset mid-upload, and the file lands whole", async () => {
    const pool = createRemotePool({ connect, size: 2 });
    try {
      proxy.addFault({ on: "data", afterBytes: 500_000, action: "reset" });
      await pool.run((fs) => fs.upload(payloadFile, "reset.bin"));
      expect(proxy.stats.resets).toBe(1);
      expect(pool.connectionsOpened).toBe(2);
      expect((await readFile(join(server.rootDir, "reset.bin"))).equals(payload)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("put (pipelined upload, size check, rename): a reset mid-transfer is replaced; no final name holds a part", async () => {
    const pool = createRemotePool({ connect, size: 1 });
    const resets = proxy.stats.resets;
    try {
      proxy.addFault({ on: "data", afterBytes: 500_000, action: "reset" });
      await expect(
        pool.run((fs) => fs.put!(payloadFile, ".in.put.bin.1", "put.bin", { expectedSize: 3 << 20 })),
      ).resolves.toBeUndefined();
      expect(proxy.stats.resets - resets).toBe(1);
      expect(pool.connectionsOpened).toBe(2);
      expect((await readFile(join(server.rootDir, "put.bin"))).equals(payload)).toBe(true);
      await expect(readFile(join(server.rootDir, ".in.put.bin.1"))).rejects.toThrow(/ENOENT/);
    } finally {
      await pool.close();
    }
  });

  it("put: a refused STOR or a wrong size is an operation error and the connection stays in step", async () => {
    const pool = createRemotePool({ connect, size: 1 });
    try {
      const refused = pool.run((fs) => fs.put!(payloadFile, "missing-dir/.in.x.1", "missing-dir/x", {}));
      await expect(refused).rejects.toThrow(/cannot upload "missing-dir\/x": server replied 553/);
      const short = pool.run((fs) => fs.put!(payloadFile, ".in.short.1", "short.bin", { expectedSize: 12 }));
      await expect(short).rejects.toThrow(/size check failed after upload: the server has 3145728 bytes, expected 12/);
      await expect(readFile(join(server.rootDir, "short.bin"))).rejects.toThrow(/ENOENT/);
      // the replies of the pipelined commands were all read: the same connection goes on with the right answers
      await pool.run((fs) =>
        fs.put!(Readable.from([Buffer.from("after")]), ".in.after.1", "after.txt", { expectedSize: 5 }),
      );
      await pool.run((fs) => fs.mkdirMany!(["made", "made/deeper", "made"]));
      expect(await pool.run((fs) => fs.read("after.txt"))).toEqual(Buffer.from("after"));
      expect((await pool.run((fs) => fs.stat("made/deeper")))?.type).toBe("dir");
      expect(pool.connectionsOpened).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it("replaces a connection whose download stalls (timeout), and a stalled login", async () => {
    await writeFile(join(server.rootDir, "stall.bin"), payload);
    await server.own(join(server.rootDir, "stall.bin"));
    const pool = createRemotePool({ connect, size: 1 });
    try {
      proxy.addFault({ on: "data", afterBytes: 300_000, action: "stall" });
      await pool.run((fs) => fs.download("stall.bin", join(local, "stall-back.bin")));
      expect((await readFile(join(local, "stall-back.bin"))).equals(payload)).toBe(true);
      expect(pool.connectionsOpened).toBe(2);
      proxy.addFault({ on: "control", afterBytes: 0, action: "stall" });
      const fresh = createRemotePool({ connect, size: 1 });
      try {
        expect((await fresh.run((fs) => fs.read("stall.bin")))?.length).toBe(payload.length);
        expect(fresh.connectionsOpened).toBe(1);
      } finally {
        await fresh.close();
      }
    } finally {
      await pool.close();
    }
    expect(proxy.stats.stalls).toBe(2);
  });

  it("retries a broken connection `reconnectRetries` times, each on a fresh one, then rethrows the failure", async () => {
    const discarded: unknown[] = [];
    const pool = createRemotePool({ connect, size: 1, reconnectRetries: 2, onDiscard: (e) => discarded.push(e) });
    let calls = 0;
    try {
      // each attempt breaks its own connection the way a dead socket does: the client is closed under it
      const error = await pool
        .run(async (fs) => {
          calls++;
          await fs.close();
          return fs.stat("anything");
        })
        .catch((e: unknown) => e);
      expect(isConnectionError(error)).toBe(true);
      // one discard per attempt, in order, each its own failure: the last is the one rethrown
      expect(discarded).toHaveLength(3);
      expect(new Set(discarded).size).toBe(3);
      expect(discarded[2]).toBe(error);
      expect(calls).toBe(3);
      expect(pool.connectionsOpened).toBe(3);
      // the pool goes on with a fresh connection
      expect((await pool.run((fs) => fs.stat(".")))?.type).toBe("dir");
      expect(pool.connectionsOpened).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it("does not retry once it is closed", async () => {
    const pool = createRemotePool({ connect, size: 1 });
    let calls = 0;
    const run = pool.run(async (fs) => {
      calls++;
      await pool.close();
      return fs.stat("anything");
    });
    await expect(run).rejects.toSatisfy(isConnectionError);
    expect(calls).toBe(1);
  });

  it("rethrows operation errors and keeps the connection", async () => {
    const pool = createRemotePool({ connect, size: 1 });
    try {
      const error = await pool.run((fs) => fs.remove("no-such-file.txt")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SiteloomError);
      expect((error as SiteloomError).code).toBe("ERR_TRANSFER_IO");
      expect((error as SiteloomError).message).toMatch(/cannot remove "no-such-file.txt": server replied 550/);
      await pool.run((fs) => fs.upload(Readable.from([Buffer.from("ok")]), "after-error.txt"));
      expect(pool.connectionsOpened).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it("runs parallel work on at most `size` connections", async () => {
    const pool = createRemotePool({ connect, size: 4 });
    try {
      await pool.run((fs) => fs.mkdir("parallel"));
      await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          pool.run((fs) => fs.upload(Readable.from([Buffer.from(`file ${i}`)]), `parallel/f${i}.txt`)),
        ),
      );
      expect(pool.connectionsOpened).toBeLessThanOrEqual(4);
      for (let i = 0; i < 24; i++) {
        expect(await readFile(join(server.rootDir, "parallel", `f${i}.txt`), "utf8")).toBe(`file ${i}`);
      }
    } finally {
      await pool.close();
    }
  });

  it("keeps working with fewer connections when the host refuses extra logins", async () => {
    const limits: number[] = [];
    const pool = createRemotePool({ connect, size: 4, onLimit: (n) => limits.push(n) });
    try {
      await pool.run((fs) => fs.mkdir("limited"));
      // Every further login is reset at once, as a host with a per-IP connection limit would do.
      proxy.addFault({ on: "control", afterBytes: 0, action: "reset", times: 50 });
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          pool.run((fs) => fs.upload(Readable.from([Buffer.from(`limited ${i}`)]), `limited/f${i}.txt`)),
        ),
      );
      expect(pool.connectionsOpened).toBe(1);
      expect(limits.at(-1)).toBe(1);
      for (let i = 0; i < 8; i++) {
        expect(await readFile(join(server.rootDir, "limited", `f${i}.txt`), "utf8")).toBe(`limited ${i}`);
      }
    } finally {
      proxy.clearFaults();
      await pool.close();
    }
  });

  it("refuses '../' and absolute names a hostile server puts in a LIST listing", async () => {
    await writeFile(join(server.rootDir, "aaaa-evil.html"), "x");
    await writeFile(join(server.rootDir, "bbbb-abs.html"), "x");
    await writeFile(join(server.rootDir, "fine.html"), "x");
    const unsafe: UnsafeEntry[] = [];
    const hostile = (text: string) =>
      text.replace("aaaa-evil.html", "../evil.html").replace("bbbb-abs.html", "/etc/passwd");
    proxy.rewriteData = (chunk) => Buffer.from(hostile(chunk.toString("latin1")), "latin1");
    // vsftpd lists over the control connection (STAT)
    proxy.rewriteControl = hostile;
    const fs = await createFtpRemote({
      host: "127.0.0.1",
      port: proxy.port,
      user: server.user,
      password: new Secret(server.password),
      onUnsafe: (entry) => unsafe.push(entry),
    });
    try {
      const names = (await fs.list("")).map((entry) => entry.name);
      expect(names).toContain("fine.html");
      for (const name of names) expect(name).not.toMatch(/\/|^\.\.$|evil|passwd|aaaa|bbbb/);
      expect(unsafe.map((u) => u.reason).join("\n")).toMatch(/'\/' inside a name/);
    } finally {
      proxy.rewriteData = undefined;
      proxy.rewriteControl = undefined;
      await fs.close();
    }
  });
});

describe("transfer: hostile MLSD listing (pure-ftpd through the proxy)", () => {
  it("refuses '../' and absolute names in MLSD", async () => {
    const server = await startServer("pure-ftpd-ftp");
    const proxy = await startFaultProxy({ target: { host: server.host, port: server.port }, ftp: true });
    try {
      await writeFile(join(server.rootDir, "aaaa-evil.html"), "x");
      await writeFile(join(server.rootDir, "fine.html"), "x");
      proxy.rewriteData = (chunk) =>
        Buffer.from(chunk.toString("latin1").replace("aaaa-evil.html", "../../evil.html"), "latin1");
      const unsafe: UnsafeEntry[] = [];
      const fs = await createFtpRemote({
        host: "127.0.0.1",
        port: proxy.port,
        user: server.user,
        password: new Secret(server.password),
        onUnsafe: (entry) => unsafe.push(entry),
      });
      try {
        const names = (await fs.list("")).map((entry) => entry.name);
        expect(names).toEqual(["fine.html"]);
        // basic-ftp itself drops some unsafe MLSD names before we see them; whatever reaches us is reported.
        for (const entry of unsafe) expect(entry.name).toBe("../../evil.html");
      } finally {
        await fs.close();
      }
    } finally {
      await proxy.close();
      await server.stop();
    }
  });
});

describe("transfer: pool over OpenSSH SFTP through the fault proxy", () => {
  it("replaces a session reset mid-upload; the file lands whole", async () => {
    const { server, proxy, pool } = await _sftpPoolThroughProxy(1, 3_000);
    try {
      proxy.addFault({ on: "control", afterBytes: 600_000, action: "reset" });
      await pool.run((fs) => fs.upload(payloadFile, "reset.bin"));
      expect(proxy.stats.resets).toBe(1);
      expect(pool.connectionsOpened).toBe(2);
      expect((await readFile(join(server.rootDir, "reset.bin"))).equals(payload)).toBe(true);
    } finally {
      await pool.close();
      await proxy.close();
      await server.stop();
    }
  });
});

describe("transfer: pool over OpenSSH SFTP, several operations per session", () => {
  it("lends one session out for several operations at once; a reset session is replaced and every file lands", async () => {
    const { server, proxy, pool } = await _sftpPoolThroughProxy(2, 10_000);
    try {
      await pool.run((fs) => fs.mkdirMany!(["lanes"]));
      // 2 sessions of 4 lanes each: 8 operations at once
      expect(pool.size).toBe(8);
      // 8 operations that each wait until all 8 hold a session: only possible when sessions are shared
      const held: RemoteFS[] = [];
      let allIn: () => void = () => undefined;
      let noShare: NodeJS.Timeout | undefined;
      const together = new Promise<void>((resolve, reject) => {
        allIn = resolve;
        noShare = setTimeout(() => reject(new Error(`only ${held.length} operations were lent out at once`)), 30_000);
      });
      await Promise.all(
        Array.from({ length: 8 }, () =>
          pool.run(async (fs) => {
            held.push(fs);
            if (held.length === 8) allIn();
            await together;
            return fs.stat("lanes");
          }),
        ),
      );
      clearTimeout(noShare);
      expect(held).toHaveLength(8);
      expect(new Set(held).size).toBe(2);
      const upload = (i: number) =>
        pool.run((fs) =>
          fs.put!(payloadFile, `lanes/.in.f${i}.bin`, `lanes/f${i}.bin`, { expectedSize: payload.length }),
        );
      await Promise.all(Array.from({ length: 16 }, (_, i) => upload(i)));
      expect(pool.connectionsOpened).toBe(2);
      // a session reset while it carries several uploads: each is retried on a fresh session
      proxy.addFault({ on: "control", afterBytes: 1_000_000, action: "reset", claim: "crossing" });
      await Promise.all(Array.from({ length: 8 }, (_, i) => upload(16 + i)));
      expect(proxy.stats.resets).toBe(1);
      expect(pool.connectionsOpened).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < 24; i++) {
        expect((await readFile(join(server.rootDir, "lanes", `f${i}.bin`))).equals(payload)).toBe(true);
      }
      expect((await readdir(join(server.rootDir, "lanes"))).filter((name) => name.startsWith(".in."))).toEqual([]);
    } finally {
      await pool.close();
      await proxy.close();
      await server.stop();
    }
  });
});

describe("transfer: isConnectionError", () => {
  it("tells broken connections from refused operations", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const reply = (code: number) => Object.assign(new Error(`${code} reply`), { code });
    expect(isConnectionError(reset)).toBe(true);
    expect(isConnectionError(reply(421))).toBe(true);
    expect(isConnectionError(reply(426))).toBe(true);
    expect(isConnectionError(new Error("Timeout (control socket)"))).toBe(true);
    expect(isConnectionError(new Error("Client is closed"))).toBe(true);
    expect(isConnectionError(Object.assign(new Error("x"), { code: "ERR_SSL_DECRYPTION_FAILED" }))).toBe(true);
    expect(isConnectionError(new SiteloomError("ERR_TRANSFER_CONNECT", "x"))).toBe(true);
    expect(isConnectionError(reply(550))).toBe(false);
    expect(isConnectionError(reply(553))).toBe(false);
    expect(isConnectionError(new SiteloomError("ERR_TRANSFER_IO", "550 no such file"))).toBe(false);
    expect(isConnectionError(new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", "x"))).toBe(false);
  });
});

/** A pool of `size` SFTP sessions to a fresh OpenSSH through a fault proxy. */
async function _sftpPoolThroughProxy(size: number, timeoutMs: number) {
  const server = await startServer("sftp");
  const proxy = await startFaultProxy({ target: { host: server.host, port: server.port } });
  const pool = createRemotePool({
    size,
    connect: () =>
      createSftpRemote({
        host: "127.0.0.1",
        port: proxy.port,
        user: server.user,
        password: new Secret(server.password),
        root: server.rootDir,
        hostKey: server.remoteConfig.hostKey,
        timeoutMs,
      }),
  });
  return { server, proxy, pool };
}
