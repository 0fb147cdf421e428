import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type ServeProcess, startServe } from "../support/serve.ts";

let pg: TestPostgres;
const serves: ServeProcess[] = [];
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await Promise.all(serves.map((s) => s.stop()));
  await pg?.stop();
});

describe("console: sessions in the shared state store (two serve processes, one PostgreSQL)", () => {
  it("a sign-in on one instance works on the other and survives a restart; sign-out ends it everywhere", async () => {
    const url = await pg.createDatabase("console_sessions");
    const root = join(await useTempDir(), "ws");
    expect((await runCli(["init", root])).code).toBe(0);
    await appendFile(join(root, "siteloom.yaml"), "\nenv: [STORE_URL]\nstore:\n  url: ${STORE_URL}\n");
    const env = { STORE_URL: url };
    const created = await runCli(["tokens", "create", "--name", "alice", "--role", "editor", "--json"], {
      cwd: root,
      env,
    });
    expect(created.code, created.stderr).toBe(0);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const start = async () => {
      const serve = await startServe(root, env);
      serves.push(serve);
      return serve;
    };
    let [a, b] = await Promise.all([start(), start()]);

    const signIn = await fetch(`${a!.url}/console/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: a!.url },
      body: JSON.stringify({ token }),
    });
    expect(signIn.status).toBe(200);
    const { csrf } = (await signIn.json()) as { csrf: string };
    const cookie = String(signIn.headers.get("set-cookie")).split(";")[0]!;
    const me = (serve: ServeProcess) => fetch(`${serve.url}/console/session`, { headers: { cookie } });

    // the other instance knows the session: no sticky sessions needed
    const onB = await me(b!);
    expect(onB.status).toBe(200);
    expect(await onB.json()).toMatchObject({ name: "alice", role: "editor", csrf });
    expect((await fetch(`${b!.url}/console/sites`, { headers: { cookie } })).status).toBe(200);

    // neither the cookie's value nor the token is in the database: hashes only
    const rows = await pg.query("SELECT * FROM console_sessions", [], "console_sessions");
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(cookie.split("=")[1]);
    expect(stored).not.toContain(token);

    // a restart of the instance that made the session signs nobody out
    await a!.stop();
    a = await start();
    expect((await me(a)).status).toBe(200);

    // a write on the other instance still needs the session's CSRF token; with it, sign-out ends it on both
    const forged = await fetch(`${b!.url}/console/session`, { method: "DELETE", headers: { cookie } });
    expect(forged.status).toBe(403);
    const out = await fetch(`${b!.url}/console/session`, {
      method: "DELETE",
      headers: { cookie, "x-csrf-token": csrf },
    });
    expect(out.status).toBe(204);
    expect((await me(a)).status).toBe(401);
    expect((await me(b!)).status).toBe(401);
  }, 120_000);
});
