// A PostgreSQL restart while this process holds pooled connections between statements: node-postgres emits `error`
// on a checked-out client then, and an unheard `error` ends the process (vitest fails this file on it). What holds a
// connection goes through connectPg; these check that the process lives through it and the pool heals.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPg } from "../../src/store/pg-client.ts";
import { createPgCallLimiter } from "../../src/store/pg-limiter.ts";
import { withPgTransaction } from "../../src/store/pg-transaction.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

describe("pooled connections held across a PostgreSQL restart", () => {
  let server: TestPostgres;
  let url: string;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase("restart");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("a held client that loses its server is dropped on release, and the pool serves again after the restart", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on("error", () => undefined);
    try {
      const held = await connectPg(pool);
      await held.query("SELECT 1");
      await server.halt();
      // the server's goodbye reaches the idle client: heard, not fatal
      await until(() => (held as unknown as { _queryable: boolean })._queryable === false);
      held.release();
      expect(pool.totalCount).toBe(0);
      await server.start();
      const { rows } = await pool.query<{ n: number }>("SELECT 2 AS n");
      expect(rows[0]?.n).toBe(2);
      // a healthy client goes back to the pool and is lent again
      const again = await connectPg(pool);
      again.release();
      expect(pool.idleCount).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it("a transaction's client lost between statements fails the transaction, not the process", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on("error", () => undefined);
    try {
      await expect(
        withPgTransaction(pool, {}, async (client) => {
          await client.query("SELECT 1");
          await server.halt();
          await until(() => (client as unknown as { _queryable: boolean })._queryable === false);
          await client.query("SELECT 2");
        }),
      ).rejects.toThrow();
      await server.start();
      expect(
        await withPgTransaction(pool, {}, async (client) => (await client.query("SELECT 3 AS n")).rows[0]?.n),
      ).toBe(3);
    } finally {
      await pool.end();
    }
  });

  it("a model call holding a workspace-wide slot outlives a restart, and the slot is free afterwards", async () => {
    const limiter = createPgCallLimiter(async () => url, "restart-test", { concurrency: 1 });
    try {
      const value = await limiter.run(async () => {
        await server.halt();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await server.start();
        return "answered";
      });
      expect(value).toBe("answered");
      // the lost connection took its advisory lock with it: the one slot is free at once
      expect(await limiter.run(async () => "again")).toBe("again");
    } finally {
      await limiter.close();
    }
  });
});

async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if (check()) return;
  }
  throw new Error("timed out");
}
