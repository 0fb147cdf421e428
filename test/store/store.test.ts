import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { isSiteloomError } from "../../src/errors.ts";
import {
  createSqliteStore,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type NewRun,
  openStateStore,
  type StateStore,
} from "../../src/store/index.ts";
import { useTempDir } from "../support/cli.ts";

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    env: "development",
    sites: ["alpha", "beta"],
    steps: ["export", "deploy"],
    dryRun: false,
    started: new Date().toISOString(),
    actor: "tester@host",
    host: "host",
    pid: process.pid,
    options: { concurrency: 2 },
    ...overrides,
  };
}

async function withStore(fn: (store: StateStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await useTempDir();
  const store = openStateStore({ stateDir: join(dir, ".siteloom"), url: undefined });
  try {
    await fn(store, dir);
  } finally {
    await store.close();
  }
}

describe("store: sqlite migrations", () => {
  it("creates .siteloom/state.db (folder mode 0700) and applies every migration once", async () => {
    const dir = await useTempDir();
    const stateDir = join(dir, ".siteloom");
    const first = openStateStore({ stateDir, url: "" });
    expect(await first.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    await first.close();
    expect(existsSync(join(stateDir, "state.db"))).toBe(true);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);

    // reopening does not re-apply anything
    const second = openStateStore({ stateDir, url: "" });
    await second.close();
    const db = new Database(join(stateDir, "state.db"), { readonly: true });
    const applied = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => (row as { name: string }).name);
    db.close();
    expect(applied).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(tables).toEqual(
      expect.arrayContaining(["runs", "run_steps", "documents", "config_versions", "tokens", "locks"]),
    );
  });

  it("refuses a database written by a newer schema, with a clear message", async () => {
    const dir = await useTempDir();
    const path = join(dir, "state.db");
    await createSqliteStore({ path }).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied) VALUES (?, 'future', 'now')").run(
      LATEST_SCHEMA_VERSION + 1,
    );
    db.close();
    let error: unknown;
    try {
      createSqliteStore({ path });
    } catch (e) {
      error = e;
    }
    expect(isSiteloomError(error) && error.code).toBe("ERR_STORE");
    expect((error as Error).message).toMatch(/newer than this siteloom knows.*upgrade siteloom/);
  });

  it("two processes opening a fresh database at once both succeed (migrations are serialised)", async () => {
    const dir = await useTempDir();
    const path = join(dir, "state.db");
    const open = `
      import(${JSON.stringify(new URL("../../src/store/index.ts", import.meta.url).href)}).then(async (m) => {
        const s = m.createSqliteStore({ path: ${JSON.stringify(path)} });
        process.stdout.write(String(await s.schemaVersion()));
        await s.close();
      });`;
    const results = await Promise.all([_node(["--import", "tsx", "-e", open]), _node(["--import", "tsx", "-e", open])]);
    expect(results).toEqual([String(LATEST_SCHEMA_VERSION), String(LATEST_SCHEMA_VERSION)]);
  });
});

describe("store: runs and steps", () => {
  it("creates, updates, lists and finds runs, newest first", async () => {
    await withStore(async (store) => {
      const a = await store.createRun(
        newRun({ id: "20260101-100000-1a2b", started: "2026-01-01T10:00:00.000Z", sites: ["alpha"] }),
      );
      const b = await store.createRun(newRun({ started: "2026-01-02T10:00:00.000Z", sites: ["beta"] }));
      expect(b.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
      expect(a.status).toBe("running");

      await store.saveStep(a.id, "alpha", "export", { position: 0, status: "running", started: a.started });
      await store.saveStep(a.id, "alpha", "export", {
        status: "succeeded",
        finished: "2026-01-01T10:00:05.000Z",
        counts: { downloaded: 3 },
        bytes: 2048,
      });
      await store.saveStep(a.id, "alpha", "deploy", { position: 1, status: "failed", error: "boom", errorCode: "X" });
      await store.saveStep(b.id, "beta", "export", { position: 0, status: "succeeded", costUsd: 0.25 });
      await store.updateRun(a.id, { status: "failed", finished: "2026-01-01T10:01:00.000Z", error: "deploy failed" });

      const steps = await store.listSteps(a.id);
      expect(steps.map((s) => [s.step, s.status, s.position])).toEqual([
        ["export", "succeeded", 0],
        ["deploy", "failed", 1],
      ]);
      expect(steps[0]).toMatchObject({ counts: { downloaded: 3 }, bytes: 2048, started: a.started });
      expect(steps[1]).toMatchObject({ error: "boom", errorCode: "X", plan: [] });

      expect((await store.listRuns()).map((r) => r.id)).toEqual([b.id, a.id]);
      expect((await store.listRuns({ site: "alpha" })).map((r) => r.id)).toEqual([a.id]);
      expect((await store.listRuns({ status: "failed" })).map((r) => r.id)).toEqual([a.id]);
      expect(await store.getRun(a.id)).toMatchObject({
        status: "failed",
        error: "deploy failed",
        finished: "2026-01-01T10:01:00.000Z",
        sites: ["alpha"],
        options: { concurrency: 2 },
        dryRun: false,
      });
      expect((await store.findRun("20260101"))?.id).toBe(a.id);
      expect(await store.findRun("1999")).toBeUndefined();
    });
  });

  it("many runs started in the same second all get distinct ids", async () => {
    await withStore(async (store) => {
      const ids = new Set<string>();
      for (let i = 0; i < 2000; i++) ids.add((await store.createRun(newRun())).id);
      expect(ids.size).toBe(2000);
      expect((await store.listRuns({ limit: 5000 })).length).toBe(2000);
    });
  });

  it("an ambiguous run id prefix is a usage error", async () => {
    await withStore(async (store) => {
      await store.createRun(newRun({ id: "20260101-100000-aaaa" }));
      await store.createRun(newRun({ id: "20260101-100000-aaab" }));
      await expect(store.findRun("20260101-1000")).rejects.toThrow(/ambiguous/);
      expect((await store.findRun("20260101-100000-aaab"))?.id).toBe("20260101-100000-aaab");
    });
  });
});

describe("store: documents, config versions, tokens", () => {
  it("documents carry versions and refuse a stale write", async () => {
    await withStore(async (store) => {
      const first = await store.putDocument("ledger", "2026-11", { spent: 1 }, { expectedVersion: 0 });
      expect(first.version).toBe(1);
      await store.putDocument("ledger", "2026-12", { spent: 2 });
      await store.putDocument("other", "2026-11", { spent: 9 });
      await expect(store.putDocument("ledger", "2026-11", { spent: 5 }, { expectedVersion: 0 })).rejects.toThrow(
        /changed meanwhile/,
      );
      const second = await store.putDocument("ledger", "2026-11", { spent: 3 }, { expectedVersion: 1 });
      expect(second.version).toBe(2);
      expect((await store.getDocument("ledger", "2026-11"))?.value).toEqual({ spent: 3 });
      expect((await store.listDocuments("ledger")).map((d) => d.key)).toEqual(["2026-11", "2026-12"]);
      expect((await store.listDocuments("ledger", "2026-1")).map((d) => d.key)).toEqual(["2026-11", "2026-12"]);
      expect((await store.listDocuments("ledger", "2026-12")).map((d) => d.value)).toEqual([{ spent: 2 }]);
      expect(await store.deleteDocument("ledger", "2026-12")).toBe(true);
      expect(await store.deleteDocument("ledger", "2026-12")).toBe(false);
      expect(await store.getDocument("ledger", "2026-12")).toBeUndefined();
    });
  });

  it("config versions get increasing ids and keep diff and snapshot as JSON", async () => {
    await withStore(async (store) => {
      const v1 = await store.addConfigVersion({ actor: "cli", source: "file", diff: [], snapshot: { a: 1 } });
      const v2 = await store.addConfigVersion({
        actor: "token:ci",
        source: "api",
        env: "production",
        diff: [{ path: "deploy.parallel", from: 8, to: 4 }],
        snapshot: { deploy: { parallel: 4 }, remote: { password: "secret://site/FTP_PASSWORD" } },
      });
      expect([v1.id, v2.id]).toEqual([1, 2]);
      expect(await store.getConfigVersion(2)).toEqual(v2);
      expect((await store.listConfigVersions()).map((v) => v.id)).toEqual([2, 1]);
      expect((await store.listConfigVersions({ env: "production" })).map((v) => v.id)).toEqual([2]);
      expect((await store.listConfigVersions({ beforeId: 2 })).map((v) => v.id)).toEqual([1]);
      expect((await store.latestConfigVersion())?.id).toBe(2);
      expect((await store.latestConfigVersion("staging"))?.id).toBeUndefined();
      expect(v1.env).toBeUndefined();
    });
  });

  it("tokens: create, find by hash, revoke, touch, unique names", async () => {
    await withStore(async (store) => {
      const token = await store.createToken({
        name: "ci",
        role: "editor",
        envs: ["staging"],
        hash: "sha256:abc",
        expires: "2030-01-01T00:00:00.000Z",
      });
      expect(token).toMatchObject({ revoked: undefined, lastUsed: undefined });
      await expect(
        store.createToken({ name: "ci", role: "admin", envs: ["*"], hash: "sha256:def", expires: undefined }),
      ).rejects.toThrow(/already exists/);
      expect((await store.findTokenByHash("sha256:abc"))?.name).toBe("ci");
      await store.touchToken("ci", "2026-01-01T00:00:00.000Z");
      expect(await store.revokeToken("ci", "2026-02-01T00:00:00.000Z")).toBe(true);
      // revoking again keeps the first revocation time
      await store.revokeToken("ci", "2027-01-01T00:00:00.000Z");
      expect(await store.getToken("ci")).toMatchObject({
        envs: ["staging"],
        lastUsed: "2026-01-01T00:00:00.000Z",
        revoked: "2026-02-01T00:00:00.000Z",
      });
      expect(await store.revokeToken("nobody")).toBe(false);
      expect((await store.listTokens()).map((t) => t.name)).toEqual(["ci"]);
      expect(await store.deleteToken("ci")).toBe(true);
      expect(await store.getToken("ci")).toBeUndefined();
    });
  });
});

describe("store: locks", () => {
  it("a held lock is refused; a stale one is taken over and reported", async () => {
    await withStore(async (store) => {
      const lock = { name: "site:alpha", owner: "run-1", pid: 1, host: "h", leaseMs: 60_000 };
      const first = await store.acquireLock(lock, () => false);
      expect(first).toEqual({ acquired: true, previous: undefined });
      const refused = await store.acquireLock({ ...lock, owner: "run-2" }, () => false);
      expect(refused.acquired).toBe(false);
      expect(!refused.acquired && refused.holder.owner).toBe("run-1");
      const held = await store.getLock("site:alpha");
      expect(Date.parse(held?.expires ?? "") - Date.parse(held?.heartbeat ?? "")).toBe(60_000);
      expect(await store.heartbeatLock("site:alpha", "run-2", 1000)).toBe(false);
      expect(await store.heartbeatLock("site:alpha", "run-1", 5000)).toBe(true);
      const renewed = await store.getLock("site:alpha");
      expect(Date.parse(renewed?.expires ?? "") - Date.parse(renewed?.heartbeat ?? "")).toBe(5000);
      const takeover = await store.acquireLock({ ...lock, owner: "run-2" }, (holder) => holder.owner === "run-1");
      expect(takeover.acquired && takeover.previous?.owner).toBe("run-1");
      // the old owner's release must not free the new owner's lock
      await store.releaseLock("site:alpha", "run-1");
      expect((await store.getLock("site:alpha"))?.owner).toBe("run-2");
      await store.releaseLock("site:alpha", "run-2");
      expect(await store.listLocks()).toEqual([]);
    });
  });
});

// --- internal ---

function _node(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
