import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeTestWorkspace } from "../content/support/workspace.ts";
import { useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type Proc, spawnCli } from "./support.ts";

// Spawned CLIs and a PostgreSQL stopped and started on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

// A stack started in any order (podman-compose 1.0.3 ignores depends_on conditions): serve and worker started
// before their database wait for it (queue.startWaitSeconds), one line per try, and come up once it does; a wrong
// password is not waited out.
describe("queue: serve and worker started before their database", () => {
  let pg: TestPostgres;
  const procs: Proc[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await pg?.stop();
  });

  it("wait for it, saying so without the password, then take jobs and serve; a wrong password ends at once", async () => {
    const url = await pg.createDatabase("startwait");
    const root = join(await useTempDir("siteloom-start-wait-"), "ws");
    await writeTestWorkspace(root, {
      site: "shop",
      workspace: {
        env: ["WAIT_PG_URL"],
        store: { url: "${WAIT_PG_URL}" },
        queue: { startWaitSeconds: 600 },
      },
    });
    await pg.halt();
    const env = { WAIT_PG_URL: url };
    const worker = spawnCli(root, env, ["worker"], procs);
    const serve = spawnCli(root, env, ["serve", "--port", "0", "--json", "--no-watch"], procs);
    const waiting =
      /waiting for the database at postgres:\/\/siteloom:\*{4}@127\.0\.0\.1:\d+\/startwait \(ECONNREFUSED\); next try in \d+ s, giving up \d+ s from now/;
    await worker.waitFor(waiting);
    await serve.waitFor(waiting);
    await pg.start();
    await worker.waitFor(/taking jobs/);
    await serve.waitFor(/\{"url":"[^"]+"/);
    for (const p of [worker, serve]) {
      expect(p.output()).not.toContain(pg.password);
      expect(p.output()).not.toMatch(/^\s+at /m);
    }
    // the worker stops as usual once up
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);

    // a wrong password: one error line, no waiting, non-zero
    const wrong = spawnCli(root, { WAIT_PG_URL: url.replace(pg.password, `not-${pg.password}`) }, ["worker"], procs);
    const code = await wrong.exited;
    expect(code).not.toBe(0);
    expect(wrong.output().trim().split("\n")).toEqual([
      expect.stringMatching(
        /^error: cannot open the job queue at postgres:\/\/siteloom:\*{4}@\S+: password authentication failed for user "siteloom"/,
      ),
    ]);
    expect(wrong.output()).not.toContain(pg.password);
  });
});
