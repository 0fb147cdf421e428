import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";
import { startServe } from "../support/serve.ts";
import { writeWorkspace } from "./support.ts";

describe("cli: tokens and serve", () => {
  it("creates a token shown once, lists it without the secret, serves with it and revokes it", async () => {
    const dir = await useTempDir();
    await writeWorkspace(dir);
    const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, ".config") };
    const created = await runCli(["tokens", "create", "--name", "ops", "--role", "admin", "--expires", "30d"], {
      cwd: dir,
      env,
    });
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^slt_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("shown only this once");

    const bad = await runCli(["tokens", "create", "--name", "x", "--role", "root"], { cwd: dir, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --role "root"');
    const badEnv = await runCli(["tokens", "create", "--name", "y", "--role", "viewer", "--env", "qa"], {
      cwd: dir,
      env,
    });
    expect(badEnv.code).toBe(2);
    const limited = await runCli(
      ["tokens", "create", "--name", "ci", "--role", "editor", "--env", "staging,production"],
      { cwd: dir, env },
    );
    expect(limited.code).toBe(0);

    const list = await runCli(["tokens", "list", "--json"], { cwd: dir, env });
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(token);
    expect(list.stdout).not.toContain("sha256:");
    const rows = JSON.parse(list.stdout) as { name: string; role: string; envs: string[] }[];
    expect(rows.map((r) => [r.name, r.role, r.envs])).toEqual([
      ["ci", "editor", ["production", "staging"]],
      ["ops", "admin", ["*"]],
    ]);
    // nothing in the state folder holds the token itself
    const db = await readFile(join(dir, ".siteloom", "state.db"));
    expect(db.includes(Buffer.from(token))).toBe(false);

    // serve on a free port, use the token, stop with SIGTERM
    const serve = await startServe(dir, env);
    const url = serve.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const config = await fetch(`${url}/config?site=shop`, { headers: { authorization: `Bearer ${token}` } });
    expect(config.status).toBe(200);
    expect(((await config.json()) as { site: string }).site).toBe("shop");
    expect((await fetch(`${url}/config`)).status).toBe(401);
    expect(await serve.stop()).toBe(0);
    expect(serve.stderr()).toContain("stopped");

    const revoked = await runCli(["tokens", "revoke", "ops"], { cwd: dir, env });
    expect(revoked.code).toBe(0);
    const again = await runCli(["tokens", "revoke", "nobody"], { cwd: dir, env });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('no token named "nobody"');

    const audit = await readFile(join(dir, ".siteloom", "audit.log"), "utf8");
    expect(audit).toContain('"action":"tokens.create"');
    expect(audit).toContain('"action":"tokens.revoke"');
    expect(audit).toContain('"action":"config.read"');
    expect(audit).not.toContain(token);
  });

  it("refuses a bad --port with a usage error", async () => {
    const dir = await useTempDir();
    await writeWorkspace(dir);
    const r = await runCli(["serve", "--port", "99999"], { cwd: dir, env: { HOME: dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid --port "99999"');
  });
});
