import { existsSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

  it("config show prints the store.url reference, never the URL it resolves to", async () => {
    const url = await server.createDatabase("cli_show");
    const { root, env } = await workspaceOn(url);
    const shown = await runCli(["config", "show"], { cwd: root, env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("${STORE_URL}");
    expect(shown.stdout).not.toContain(server.password);
  });
});
