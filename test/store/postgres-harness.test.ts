import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

describe("test support: throwaway PostgreSQL", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("runs PostgreSQL 15 on loopback with password auth", async () => {
    const [row] = await server.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    expect(row?.v).toMatch(/^15\./);
    expect(server.url).toMatch(new RegExp(`^postgres://siteloom:[^@]+@127\\.0\\.0\\.1:${server.port}/siteloom$`));
    const wrong = new pg.Client({ connectionString: server.url.replace(/:[^:@]+@/, ":wrong@") });
    wrong.on("error", () => undefined);
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
  });

  it("creates databases and keeps their data across a restart with downtime", async () => {
    const url = await server.createDatabase("harness_a");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("CREATE TABLE t (v int); INSERT INTO t VALUES (42)");
    await client.end();

    // halt and start, not restart({ downMs }): a timer guessing when the server is down loses on a loaded machine
    await server.halt();
    expect(server.running).toBe(false);
    const during = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    during.on("error", () => undefined);
    await expect(during.connect()).rejects.toThrow();
    await server.start();
    expect(server.running).toBe(true);

    const after = new pg.Client({ connectionString: url });
    await after.connect();
    expect((await after.query("SELECT v FROM t")).rows).toEqual([{ v: 42 }]);
    await after.end();
    expect(server.urlRef(url)).toMatch(/^\$\{SITELOOM_TEST_PG_URL_[0-9A-F]{8}\}$/);
  });

  it("stop() removes the cluster's files", async () => {
    const other = await startPostgres();
    const dir = other.socketDir;
    expect(existsSync(dir)).toBe(true);
    await other.stop();
    expect(existsSync(dir)).toBe(false);
    expect(other.running).toBe(false);
  });
});
