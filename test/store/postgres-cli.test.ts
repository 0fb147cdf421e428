import { existsSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLlmServer } from "../content/support/llm-server.ts";
import {
  generateKilledAfterOutline,
  testApiKey,
  testLlmConfig,
  writeTestWorkspace,
} from "../content/support/workspace.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

async function workspaceOn(url: string): Promise<{ root: string; env: Record<string, string> }> {
  const root = join(await useTempDir(), "ws");
  const init = await runCli(["init", root]);
  expect(init.code, init.stderr).toBe(0);
  await appendFile(join(root, "siteloom.yaml"), "\nenv: [STORE_URL]\nstore:\n  url: ${STORE_URL}\n  poolSize: 3\n");
  return { root, env: { STORE_URL: url } };
}

describe("store: siteloom.yaml store.url selects PostgreSQL for every command", () => {
  it("tokens and costs live in PostgreSQL; SITELOOM_STORE still wins", async () => {
    const url = await server.createDatabase("cli_tokens");
    const { root, env } = await workspaceOn(url);
    const created = await runCli(["tokens", "create", "--name", "ops", "--role", "admin"], { cwd: root, env });
    expect(created.code, created.stderr).toBe(0);
    const rows = await server.query<{ name: string; role: string }>("SELECT name, role FROM tokens", [], "cli_tokens");
    expect(rows).toEqual([{ name: "ops", role: "admin" }]);
    expect(existsSync(join(root, ".siteloom", "state.db"))).toBe(false);

    const list = await runCli(["tokens", "list", "--json"], { cwd: root, env });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((t: { name: string }) => t.name)).toEqual(["ops"]);
    const costs = await runCli(["costs", "--json"], { cwd: root, env });
    expect(costs.code, costs.stderr).toBe(0);

    const local = await runCli(["tokens", "list", "--json"], {
      cwd: root,
      env: { ...env, SITELOOM_STORE: `sqlite:${join(root, "other.db")}` },
    });
    expect(local.code, local.stderr).toBe(0);
    expect(JSON.parse(local.stdout)).toEqual([]);
  });

  it("a wrong password fails in one line that names the store without the password", async () => {
    const url = await server.createDatabase("cli_badpw");
    const { root } = await workspaceOn(url);
    const bad = url.replace(/:[^:@/]+@/, ":not-the-password@");
    const result = await runCli(["tokens", "list"], { cwd: root, env: { STORE_URL: bad } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/password authentication failed/);
    expect(result.stderr).not.toContain("not-the-password");
    expect(result.stderr).not.toContain(server.password);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("with PostgreSQL stopped, secrets list still works and warns once that its audit entries are not recorded", async () => {
    const db = "cli_down";
    const url = await server.createDatabase(db);
    const { root, env } = await workspaceOn(url);
    const up = await runCli(["secrets", "list"], { cwd: root, env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(/warning/);
    await server.halt();
    let down: Awaited<ReturnType<typeof runCli>>;
    try {
      down = await runCli(["secrets", "list"], { cwd: root, env });
    } finally {
      await server.start();
    }
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain('no secrets in store "file"');
    const warnings = down.stderr.split("\n").filter((line) => /warning/.test(line));
    expect(warnings).toEqual([
      expect.stringMatching(
        /could not write the audit log .*: cannot reach the PostgreSQL state store .*; this command's audit entries are not recorded$/,
      ),
    ]);
    expect(down.stderr).not.toContain(server.password);
    expect(down.stderr).not.toMatch(/\n\s+at /);
    // the chain holds the entry of the run made while the server was up, and still verifies
    expect(await server.query("SELECT count(*)::int AS n FROM audit_log", [], db)).toEqual([{ n: 1 }]);
    const verify = await runCli(["audit", "verify"], { cwd: root, env });
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("config show prints the store.url reference, never the URL it resolves to", async () => {
    const url = await server.createDatabase("cli_show");
    const { root, env } = await workspaceOn(url);
    const shown = await runCli(["config", "show"], { cwd: root, env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("${STORE_URL}");
    expect(shown.stdout).not.toContain(server.password);
  });
});

describe("store: the audit chain lives in PostgreSQL", () => {
  it("processes appending at once keep one chain; audit and audit verify read it; an edit or a cut tail is caught", async () => {
    const db = "cli_audit";
    const url = await server.createDatabase(db);
    const { root, env } = await workspaceOn(url);
    // six processes at once, each appending its tokens.create entry to the one chain
    const names = ["t1", "t2", "t3", "t4", "t5", "t6"];
    const created = await Promise.all(
      names.map((name) => runCli(["tokens", "create", "--name", name, "--role", "viewer"], { cwd: root, env })),
    );
    for (const c of created) expect(c.code, c.stderr).toBe(0);
    const rows = await server.query<{ seq: number; entry: string }>(
      "SELECT seq, entry FROM audit_log ORDER BY seq",
      [],
      db,
    );
    const creates = rows.map((r) => JSON.parse(r.entry)).filter((e) => e.action === "tokens.create");
    expect(creates.map((e) => e.ref).sort()).toEqual(names);
    // each entry links to the one before it: nobody forked the chain
    const entries = rows.map((r) => JSON.parse(r.entry));
    for (let i = 1; i < entries.length; i++) expect(entries[i].prev).toBe(entries[i - 1].hash);
    expect(existsSync(join(root, ".siteloom", "audit.log"))).toBe(false);

    const verified = await runCli(["audit", "verify", "--json"], { cwd: root, env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual({ ok: true, entries: rows.length });
    const listed = await runCli(["audit", "--action", "tokens.create", "--json"], { cwd: root, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(
      JSON.parse(listed.stdout)
        .map((e: { ref: string }) => e.ref)
        .sort(),
    ).toEqual(names);

    // an edited entry fails its own hash, named by its place in the chain
    const target = rows.find((r) => JSON.parse(r.entry).ref === "t3")!;
    await server.query(
      "UPDATE audit_log SET entry = replace(entry, '\"viewer\"', '\"admin\"') WHERE seq = $1",
      [target.seq],
      db,
    );
    await server.query(
      "UPDATE audit_log SET entry = replace(entry, '\"t3\"', '\"tx\"') WHERE seq = $1",
      [target.seq],
      db,
    );
    const edited = await runCli(["audit", "verify"], { cwd: root, env });
    expect(edited.code).not.toBe(0);
    expect(edited.stderr).toContain(`entry ${target.seq}: content does not match its hash`);
    expect(edited.stderr).not.toContain(server.password);
    await server.query("UPDATE audit_log SET entry = $1 WHERE seq = $2", [target.entry, target.seq], db);
    expect((await runCli(["audit", "verify"], { cwd: root, env })).code).toBe(0);

    // entries cut off the end are caught by the head record written with every append
    const last = rows.at(-1)!.seq;
    await server.query("DELETE FROM audit_log WHERE seq >= $1", [last - 1], db);
    const cut = await runCli(["audit", "verify"], { cwd: root, env });
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toContain("entries were removed from the end");
  });
});

describe("store: a paid model answer is kept in PostgreSQL with its ledger entry", () => {
  it("after kill -9 between the outline and the article file, the rerun pays only for the article", async () => {
    const db = "cli_answers";
    const url = await server.createDatabase(db);
    const llm = await startLlmServer();
    try {
      const dir = await useTempDir("siteloom-pg-answers-");
      const key = testApiKey();
      await writeTestWorkspace(dir, {
        llm: { ...testLlmConfig(llm.url), concurrency: 1 },
        topics: "topic\nBaking bread\n",
      });
      const env = { LLM_KEY: key, SITELOOM_STORE: url };
      expect(await generateKilledAfterOutline(llm, dir, env)).toEqual(["outline", "article"]);
      const kept = await server.query<{ doc_key: string }>(
        "SELECT doc_key FROM documents WHERE namespace = 'llm-answers'",
        [],
        db,
      );
      expect(kept.map((k) => k.doc_key)).toEqual([expect.stringMatching(/^shop\/.+\/outline\/0$/)]);

      llm.reset();
      const rerun = await runCli(["--workspace", dir, "generate", "shop", "--json"], { env });
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(llm.requests.map((r) => r.kind)).toEqual(["article"]);
      const ledger = await server.query<{ step: string }>("SELECT step FROM cost_ledger ORDER BY time", [], db);
      expect(ledger.map((e) => e.step)).toEqual(["outline", "article"]);
      expect(await server.query("SELECT doc_key FROM documents WHERE namespace = 'llm-answers'", [], db)).toEqual([]);
    } finally {
      await llm.close();
    }
  });
});
