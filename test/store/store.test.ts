import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { isSiteloomError } from "../../src/errors.ts";
import { createSqliteStore, LATEST_SCHEMA_VERSION, MIGRATIONS, openStateStore } from "../../src/store/index.ts";
import { useTempDir } from "../support/cli.ts";

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
