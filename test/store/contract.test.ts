import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPostgresStore,
  createSqliteStore,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  openStateStore,
  redactUrl,
  type StateStore,
} from "../../src/store/index.ts";
import { useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { testStateStore } from "./contract.ts";

// SQLite: a fresh file per test; another connection is another better-sqlite3 handle on the same file.
const sqlitePaths = new WeakMap<StateStore, string>();
testStateStore("sqlite", {
  async open() {
    const path = join(await useTempDir(), "state.db");
    const store = createSqliteStore({ path });
    sqlitePaths.set(store, path);
    return store;
  },
  openAnother(store) {
    return createSqliteStore({ path: sqlitePaths.get(store) ?? "" });
  },
  url(store) {
    return `sqlite:${sqlitePaths.get(store)}`;
  },
});

// PostgreSQL: one real server for the file, a fresh database per test; another connection is another pool.
let server: TestPostgres;
let databases = 0;
const pgUrls = new WeakMap<StateStore, string>();
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

testStateStore("postgres", {
  // a network round trip per run: enough to draw colliding ids within a second, without a 10 s test
  manyRuns: 600,
  async open() {
    const url = await server.createDatabase(`contract_${++databases}`);
    const store = createPostgresStore({ url });
    pgUrls.set(store, url);
    return store;
  },
  openAnother(store) {
    return createPostgresStore({ url: pgUrls.get(store) ?? "", poolSize: 2 });
  },
  url(store) {
    return pgUrls.get(store) ?? "";
  },
});

describe("store: postgres specifics", () => {
  it("applies every migration once, also when several processes open a new database at once", async () => {
    const url = await server.createDatabase("migrate_race");
    const stores = Array.from({ length: 4 }, () => createPostgresStore({ url, poolSize: 1 }));
    expect(await Promise.all(stores.map((s) => s.schemaVersion()))).toEqual(
      [4, 4, 4, 4].map(() => LATEST_SCHEMA_VERSION),
    );
    await Promise.all(stores.map((s) => s.close()));
    const applied = await server.query(
      "SELECT version, name FROM schema_migrations ORDER BY version",
      [],
      "migrate_race",
    );
    expect(applied).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  });

  it("creates the call limiter's start log by migration, keeping the rows of one the limiter made itself", async () => {
    // a database from before migration 9: the limiter had created its table in code, with a start in it
    const url = await server.createDatabase("call_log");
    await server.query(
      `CREATE TABLE siteloom_call_log (name text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
       INSERT INTO siteloom_call_log (name) VALUES ('llm:older')`,
      [],
      "call_log",
    );
    const store = createPostgresStore({ url });
    const limiter = store.callLimiter?.("llm:test", { concurrency: 1, perMinute: 5 });
    expect(await limiter?.run(async () => "called")).toBe("called");
    await store.close();
    const rows = await server.query("SELECT name FROM siteloom_call_log ORDER BY at", [], "call_log");
    expect(rows).toEqual([{ name: "llm:older" }, { name: "llm:test" }]);
    // and on a new database, the limiter's first call finds the table the migrations made
    const fresh = createPostgresStore({ url: await server.createDatabase("call_log_fresh") });
    expect(await fresh.callLimiter?.("llm:test", { concurrency: 1, perMinute: 5 }).run(async () => 1)).toBe(1);
    await fresh.close();
    expect(await server.query("SELECT count(*)::int AS n FROM siteloom_call_log", [], "call_log_fresh")).toEqual([
      { n: 1 },
    ]);
  });

  it("keeps the month's settled total with every ledger write, and fills it from the ledger at migration", async () => {
    // a database from before migration 10: its ledger already holds 0.5 USD this month
    const url = await server.createDatabase("month_total");
    const before = createPostgresStore({ url });
    await before.schemaVersion();
    await before.close();
    await server.query(
      `DELETE FROM schema_migrations WHERE version = 10; DROP TRIGGER cost_ledger_month_total ON cost_ledger;
       DROP FUNCTION siteloom_budget_month_total(); DROP TABLE budget_months;
       INSERT INTO cost_ledger (id, time, month, site, topic, topic_id, provider, model, step, input_tokens,
         output_tokens, cost_usd, ok) VALUES ('old', 't', '2026-12', 's', 'b', 't', 'p', 'm', 'article', 1, 1, 0.5, 1)`,
      [],
      "month_total",
    );
    const store = createPostgresStore({ url });
    const reserve = (amountUsd: number) =>
      store.reserveBudget(
        { month: "2026-12", site: "s", topicId: "t", amountUsd, owner: "o", pid: 1, host: "h" },
        { maxMonthlyUsd: 1, isStale: () => false },
      );
    expect(await reserve(0.6)).toEqual({ granted: false, settledUsd: 0.5, reservedUsd: 0 });
    // an import, then hand edits of the ledger: every one moves what the next reservation counts
    const entry = { time: "2026-12-01T00:00:00.000Z", site: "s", topic: "b", topicId: "t", provider: "p" };
    const cost = { ...entry, model: "m", step: "article", inputTokens: 1, outputTokens: 1, costUsd: 0.25, ok: true };
    await store.importCosts("import", [cost]);
    expect(await reserve(0.3)).toEqual({ granted: false, settledUsd: 0.75, reservedUsd: 0 });
    await server.query("UPDATE cost_ledger SET cost_usd = 0.1 WHERE id = 'old'", [], "month_total");
    await server.query("UPDATE cost_ledger SET month = '2026-11' WHERE id <> 'old'", [], "month_total");
    expect(await reserve(0.95)).toEqual({ granted: false, settledUsd: 0.1, reservedUsd: 0 });
    await server.query("DELETE FROM cost_ledger WHERE id = 'old'", [], "month_total");
    expect(await reserve(0.95)).toMatchObject({ granted: true, settledUsd: 0, reservedUsd: 0 });
    await store.close();
  });

  it("refuses a database written by a newer schema, with a clear message", async () => {
    const url = await server.createDatabase("future_schema");
    await createPostgresStore({ url }).close();
    const first = createPostgresStore({ url });
    await first.schemaVersion();
    await first.close();
    await server.query(
      "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, 'future', 'now')",
      [LATEST_SCHEMA_VERSION + 1],
      "future_schema",
    );
    const store = createPostgresStore({ url });
    await expect(store.getRun("x")).rejects.toMatchObject({
      code: "ERR_STORE",
      message: expect.stringMatching(/newer than this siteloom knows.*upgrade siteloom/),
    });
    await store.close();
  });

  it("is chosen by SITELOOM_STORE or a resolved url, and never shows the password", async () => {
    const url = await server.createDatabase("selected");
    const store = openStateStore({ stateDir: "/nonexistent", url });
    expect(store.kind).toBe("postgres");
    expect(store.location).not.toContain(server.password);
    expect(store.location).toContain(":****@127.0.0.1");
    expect(redactUrl("postgres://u@h/db?sslmode=require&password=pw#x")).toBe(
      "postgres://u@h/db?sslmode=require&password=****#x",
    );
    await store.close();
    let resolved = 0;
    const lazy = openStateStore({
      stateDir: "/nonexistent",
      resolveUrl: async () => {
        resolved++;
        return url;
      },
    });
    expect(resolved).toBe(0);
    expect(await lazy.listRuns()).toEqual([]);
    await lazy.listRuns();
    expect(resolved).toBe(1);
    await lazy.close();
    const wrong = createPostgresStore({ url: url.replace(/:[^:@/]+@/, ":wrong@"), reconnectMs: 0 });
    const error = await wrong.listRuns().catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/password authentication failed/);
    expect(String((error as Error).message)).not.toContain(server.password);
    await wrong.close();
  });

  it("keeps working across a server restart: calls made while it is down wait and then succeed", async () => {
    const url = await server.createDatabase("restart");
    const store = createPostgresStore({ url, reconnectMs: 30_000 });
    const run = await store.createRun({
      env: "production",
      sites: ["a"],
      steps: ["deploy"],
      dryRun: false,
      started: new Date().toISOString(),
      actor: "t",
      host: "h",
      pid: 1,
      options: {},
    });
    await server.halt();
    // made while the server is down: retried until it is back, each applied exactly once
    const writes = Promise.all([
      store.saveStep(run.id, "a", "deploy", { status: "succeeded", bytes: 10 }),
      store.putDocument("manifests", "a", { files: 1 }),
      store.addConfigVersion({ actor: "t", source: "cli", diff: [], snapshot: {} }),
    ]);
    await new Promise((r) => setTimeout(r, 1_500));
    await server.start();
    await writes;
    expect((await store.listSteps(run.id)).map((s) => [s.status, s.bytes])).toEqual([["succeeded", 10]]);
    expect((await store.getDocument("manifests", "a"))?.version).toBe(1);
    expect((await store.listConfigVersions()).map((v) => v.id)).toEqual([1]);
    await store.close();
  });
});
