import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploySchema } from "../../src/config/schema.ts";
import { createRemoteConnector, createRemotePool, runDeploy } from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";

// remote.pipelining against vsftpd behind a proxy that plays a server mishandling pipelined commands (it passes the
// first two commands of a pipelined write swapped, so their replies come back out of order).
describe("transfer: ftp pipelining modes", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function deployThrough(
    proxyOptions: { reorderPipelined?: { when?: (commands: string[]) => boolean } },
    pipelining: "auto" | "on" | "off",
  ) {
    for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
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
      const result = await runDeploy({
        site: "demo",
        env: `pipelining-${pipelining}-${Date.now()}`,
        outputDir: output,
        stateDir: join(dir, "state"),
        pool,
        config: DeploySchema.parse({ parallel: 3, retries: 4, retryBaseMs: 10, retryMaxMs: 50 }),
        delete: true,
      });
      return { result, warnings, stats: { ...proxy.stats }, output };
    } finally {
      await pool.close();
      await proxy.close();
    }
  }

  it("auto: replies out of order at login turn pipelining off with one warning; the deploy completes", async () => {
    const run = await deployThrough({ reorderPipelined: {} }, "auto");
    expect(run.result.failures).toEqual([]);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(run.output));
    expect(run.warnings).toHaveLength(1);
    expect(run.warnings[0]).toMatch(/when its commands were pipelined: FTP command pipelining is off for the rest/);
    // only the login batches of the connections opened at once were pipelined (and swapped); none after them
    expect(run.stats.reordered).toBeGreaterThanOrEqual(1);
    expect(run.stats.reordered).toBeLessThanOrEqual(3);
    expect(run.stats.pipelined).toBe(run.stats.reordered);
  });

  it("auto: a batch garbled in the middle of a session gives that session up; the deploy completes", async () => {
    // login batches pass; batches after them are swapped
    const run = await deployThrough(
      { reorderPipelined: { when: (commands) => !commands.some((c) => c.startsWith("USER ")) } },
      "auto",
    );
    expect(run.result.failures).toEqual([]);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(run.output));
    expect(run.stats.reordered).toBeGreaterThanOrEqual(1);
    expect(run.warnings.filter((w) => /pipelining is off/.test(w))).toHaveLength(1);
  });

  it("off: no write holds more than one command, and the deploy is the same", async () => {
    const run = await deployThrough({}, "off");
    expect(run.result.failures).toEqual([]);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(run.output));
    expect(run.stats.pipelined).toBe(0);
    expect(run.warnings).toEqual([]);
  });

  it("auto against a server that handles pipelining: batches are pipelined, no warning", async () => {
    const run = await deployThrough({}, "auto");
    expect(run.result.failures).toEqual([]);
    expect(run.stats.pipelined).toBeGreaterThan(0);
    expect(run.warnings).toEqual([]);
  });
});
