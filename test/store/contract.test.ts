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
