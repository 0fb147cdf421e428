import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploySchema, ExportSchema } from "../../src/config/schema.ts";
import { createRemoteConnector } from "../../src/transfer/connect.ts";
import { createRemotePool, runDeploy, runExport, type UnsafeEntry } from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";

// vsftpd (LIST) and ProFTPD (MLSD; resets a data connection it refuses a command for)
describe.each(["vsftpd-ftp", "proftpd-ftp"] as const)("transfer: export and deploy faults against %s", (kind) => {
  let server: TestServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = await startServer(kind);
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it("a hostile listing (../ names, absolute paths) writes nothing outside export/ and is reported", async () => {
    const dir = await useTempDir("siteloom-hostile-");
    await writeFile(join(server.rootDir, "evil1.txt"), "one");
    await writeFile(join(server.rootDir, "evil2.txt"), "two");
    await writeFile(join(server.rootDir, "fine.txt"), "fine");
    await server.own(server.rootDir);
    const hostile = (text: string) => text.replace("evil1.txt", "../../x1.txt").replace("evil2.txt", "/etc/x2");
    proxy.rewriteData = (chunk) => Buffer.from(hostile(chunk.toString("latin1")), "latin1");
    // vsftpd lists over the control connection (STAT)
    proxy.rewriteControl = hostile;
    const unsafe: UnsafeEntry[] = [];
    const connect = await createRemoteConnector(
      { ...server.remoteConfig, port: proxy.port },
      (v) => server.resolve(v),
      {
        onUnsafe: (e) => unsafe.push(e),
      },
    );
    const pool = createRemotePool({ size: 2, connect });
    try {
      const result = await runExport({
        site: "demo",
        exportDir: join(dir, "site/export"),
        pool,
        config: ExportSchema.parse({}),
      });
      expect(result.failures).toEqual([]);
    } finally {
      await pool.close();
      proxy.rewriteData = undefined;
      proxy.rewriteControl = undefined;
    }
    expect(unsafe.length).toBeGreaterThanOrEqual(2);
    expect((await readdir(dir)).sort()).toEqual(["site"]);
    expect((await readdir(join(dir, "site"))).sort()).toEqual(["export"]);
    expect(await readFile(join(dir, "site/export/fine.txt"), "utf8")).toBe("fine");
  });

  it("a server restarted in the middle of a deploy: the run reconnects and ends byte-identical", async () => {
    const dir = await useTempDir("siteloom-restart-");
    const output = join(dir, "output");
    const extra: Record<string, Buffer> = {};
    for (let i = 0; i < 120; i++) extra[`pages/p${i}.html`] = Buffer.alloc(30_000 + i, 97 + (i % 26));
    await writeSite(output, { extra });
    const connect = await createRemoteConnector(server.remoteConfig, (v) => server.resolve(v));
    const pool = createRemotePool({ size: 3, connect });
    let restarted: Promise<void> | undefined;
    try {
      const result = await runDeploy({
        site: "demo",
        env: "restart",
        outputDir: output,
        stateDir: join(dir, "state"),
        pool,
        config: DeploySchema.parse({ retries: 8, retryBaseMs: 100, retryMaxMs: 1000 }),
        onProgress: (e) => {
          // while the pool is still opening its connections: new logins fail until the server is back
          if (e.phase === "mkdir" && restarted === undefined) restarted = server.restart();
        },
      });
      await restarted;
      expect(restarted).toBeDefined();
      expect(result.failures).toEqual([]);
    } finally {
      await pool.close();
    }
    const remote = await snapshot(server.rootDir);
    for (const name of ["fine.txt", "evil1.txt", "evil2.txt"]) delete remote.files[name];
    expect(remote).toEqual(await snapshot(output));
  });

  it("a server process still writing a broken upload never changes the file deployed after it", async () => {
    // attempt 1 dies at 400 KB; attempt 2 (a resume) dies at 300 KB with its last chunk reaching its server process
    // only after the deploy is over; attempt 3 completes. Whether the server closes the broken data connection before
    // the late chunk arrives is its own timing (under load ProFTPD sometimes does), so the whole scenario runs again
    // until the late chunk was delivered (at most 4 rounds); every round checks the deployed bytes.
    const deliveredBefore = proxy.stats.lateDelivered;
    for (let round = 0; round < 4 && proxy.stats.lateDelivered === deliveredBefore; round++) {
      const dir = await useTempDir("siteloom-stale-");
      for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
      const output = join(dir, "output");
      await mkdir(join(output, "media"), { recursive: true });
      const big = randomBytes(1_500_000);
      await writeFile(join(output, "media/big.bin"), big);
      await writeFile(join(output, "index.html"), "<p>stale</p>");
      const tripped = proxy.stats.late;
      proxy.addFault({ on: "data", claim: "crossing", afterBytes: 400_000, action: "reset" });
      proxy.addFault({ on: "data", claim: "crossing", afterBytes: 300_000, action: "late", delayMs: 1500 });
      const connect = await createRemoteConnector({ ...server.remoteConfig, port: proxy.port }, (v) =>
        server.resolve(v),
      );
      const pool = createRemotePool({ size: 1, connect });
      let notes: string[];
      try {
        const result = await runDeploy({
          site: "stale",
          env: "test",
          outputDir: output,
          stateDir: join(dir, "state"),
          pool,
          config: DeploySchema.parse({ parallel: 1, retryBaseMs: 10, retryMaxMs: 50 }),
        });
        expect(result.failures).toEqual([]);
        notes = result.notes;
      } finally {
        await pool.close();
        proxy.clearFaults();
      }
      expect(proxy.stats.late).toBe(tripped + 1);
      await new Promise((resolve) => setTimeout(resolve, 2000)); // the late chunk is due 1.5 s after its trip
      await new Promise((resolve) => setTimeout(resolve, 300)); // the stale process writes what it was given
      // the resume went on where attempt 1 ended
      expect(notes.join("\n")).toMatch(/media\/big\.bin: resumed at byte/);
      expect((await readFile(join(server.rootDir, "media/big.bin"))).equals(big)).toBe(true);
      // the broken attempts' temp files are gone
      expect((await readdir(join(server.rootDir, "media"))).sort()).toEqual(["big.bin"]);
    }
    expect(proxy.stats.lateDelivered, JSON.stringify(proxy.stats)).toBeGreaterThan(deliveredBefore);
  });

  // the proxy shifts every time the server sends: ProFTPD's MLSD/MLST (modify=), vsftpd's LIST dates ("Dec 07 08:12",
  // UTC with use_localtime=NO) and MDTM replies
  it("a server clock hours off neither skips a changed file nor re-uploads the rest", async () => {
    const dir = await useTempDir("siteloom-clock-");
    for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
    const output = join(dir, "output");
    await writeSite(output);
    // built a while ago, as a site usually is before its deploy
    const built = async (path: string, minutes: number) => {
      const at = new Date(Date.now() - minutes * 60_000);
      await utimes(join(output, path), at, at);
    };
    for (const path of Object.keys((await snapshot(output)).files)) await built(path, 10);
    const connect = await createRemoteConnector({ ...server.remoteConfig, port: proxy.port }, (v) => server.resolve(v));
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const shift = (hours: number) => {
      const moveList = (text: string) =>
        text.replace(
          / ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d) /g,
          (all, mon: string, day: string, h: string, m: string) => {
            const month = months.indexOf(mon);
            if (month < 0) return all;
            const year = new Date().getUTCFullYear();
            const at = new Date(Date.UTC(year, month, +day.trim(), +h, +m) + hours * 3_600_000);
            const pad = (n: number) => String(n).padStart(2, "0");
            const shownDay = day.startsWith(" ") ? String(at.getUTCDate()).padStart(2, " ") : pad(at.getUTCDate());
            return ` ${months[at.getUTCMonth()]} ${shownDay} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())} `;
          },
        );
      const move = (text: string) =>
        moveList(text).replace(/(modify=|^213 )(\d{14})/gim, (_all, head: string, time: string) => {
          const at = Date.UTC(
            +time.slice(0, 4),
            +time.slice(4, 6) - 1,
            +time.slice(6, 8),
            +time.slice(8, 10),
            +time.slice(10, 12),
            +time.slice(12, 14),
          );
          return head + new Date(at + hours * 3_600_000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
        });
      proxy.rewriteControl = move;
      proxy.rewriteData = (chunk) => Buffer.from(move(chunk.toString("latin1")), "latin1");
    };
    // no manifest on either side: nothing vouches for the server's files, their times decide
    const deployForgetting = async () => {
      await rm(join(server.rootDir, ".siteloom"), { recursive: true, force: true });
      await rm(join(dir, "state"), { recursive: true, force: true });
      const pool = createRemotePool({ size: 2, connect });
      try {
        const result = await runDeploy({
          site: "demo",
          env: "test",
          outputDir: output,
          stateDir: join(dir, "state"),
          pool,
          config: DeploySchema.parse({ retryBaseMs: 10, retryMaxMs: 50 }),
        });
        expect(result.failures).toEqual([]);
        expect(result.mode).toBe("listing");
        return result;
      } finally {
        await pool.close();
      }
    };
    try {
      await deployForgetting();
      // deployed a while ago, after the build (LIST times have minute precision: a change within the minute of the upload, same size,
      // cannot be told from the listing on any server)
      for (const path of Object.keys((await snapshot(output)).files)) {
        const at = new Date(Date.now() - 5 * 60_000);
        await utimes(join(server.rootDir, path), at, at);
      }
      // the server's clock 3 hours ahead: a file changed here since (same size) is older than the server's copy
      shift(3);
      await writeFile(
        join(output, "css/site.css"),
        (await readFile(join(output, "css/site.css"), "utf8")).toUpperCase(),
      );
      const ahead = await deployForgetting();
      expect(ahead.plan.upload.map((u) => u.path)).toEqual(["css/site.css"]);
      // 3 hours behind: every file on the server looks older than ours, yet nothing changed
      shift(-3);
      await built("css/site.css", 10);
      const behind = await deployForgetting();
      expect(behind.plan.upload).toEqual([]);
      expect(behind.notes.join("\n")).toMatch(/clock is -1\d\d min off/);
    } finally {
      proxy.rewriteControl = undefined;
      proxy.rewriteData = undefined;
    }
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
  });
});
