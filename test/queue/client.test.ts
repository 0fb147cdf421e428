import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueSchema } from "../../src/config/schema.ts";
import { openQueue } from "../../src/queue/index.ts";
import { listenPg } from "../../src/store/index.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

describe("queue: client and LISTEN on a real PostgreSQL", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("enqueue is one transaction: a send failing on the third site leaves no queued run and no job", async () => {
    const url = await pg.createDatabase("enqueue_tx");
    const client = await openQueue({ url, config: QueueSchema.parse({}) });
    try {
      await client.ensureQueue("siteloom-run");
      // the database itself refuses the job of site "c" (as a full disk or a lost partition would)
      await pg.query(
        `CREATE FUNCTION refuse_c() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.data->>'site' = 'c' THEN RAISE EXCEPTION 'no room for site c'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_c BEFORE INSERT ON pgboss.job FOR EACH ROW EXECUTE FUNCTION refuse_c();`,
        [],
        "enqueue_tx",
      );
      const request = { env: "development", steps: undefined, dryRun: false, actor: "t@h", via: "cli" };
      await expect(client.enqueue({ ...request, sites: ["a", "b", "c"] })).rejects.toMatchObject({
        code: "ERR_STORE",
        message: expect.stringMatching(/cannot enqueue a, b, c: .*no room for site c.*nothing was queued/),
      });
      const counts = async () => ({
        runs: (await pg.query("SELECT run_id FROM siteloom_queue.runs", [], "enqueue_tx")).length,
        jobs: (await pg.query("SELECT id FROM pgboss.job WHERE name = 'siteloom-run'", [], "enqueue_tx")).length,
      });
      expect(await counts()).toEqual({ runs: 0, jobs: 0 });

      // without the refusal the same request queues all three, each run row naming its job
      await pg.query("DROP TRIGGER refuse_c ON pgboss.job", [], "enqueue_tx");
      const runs = await client.enqueue({ ...request, sites: ["a", "b", "c"] });
      expect(runs.map((r) => [r.site, r.status, typeof r.jobId])).toEqual([
        ["a", "queued", "string"],
        ["b", "queued", "string"],
        ["c", "queued", "string"],
      ]);
      expect(await counts()).toEqual({ runs: 3, jobs: 3 });
      // a site already waiting keeps its one job and run
      const again = await client.enqueue({ ...request, sites: ["b"] });
      expect(again).toMatchObject([{ runId: runs[1]!.runId, alreadyQueued: true }]);
      expect(await counts()).toEqual({ runs: 3, jobs: 3 });
    } finally {
      await client.close();
    }
  });

  it("listenPg delivers notifications and listens again after PostgreSQL restarts", async () => {
    const url = await pg.createDatabase("listen");
    const got: string[] = [];
    let listening = 0;
    const listener = listenPg({
      url,
      channels: ["siteloom_test"],
      retryMs: 100,
      onNotify: (channel, payload) => got.push(`${channel}:${payload}`),
      onListening: () => listening++,
    });
    try {
      await listener.ready;
      await pg.query("SELECT pg_notify('siteloom_test', 'one'), pg_notify('other', 'x')", [], "listen");
      await _until(() => got.length === 1);
      expect(got).toEqual(["siteloom_test:one"]);
      await pg.restart({ downMs: 500 });
      await _until(() => listening === 2);
      await pg.query("SELECT pg_notify('siteloom_test', 'two')", [], "listen");
      await _until(() => got.length === 2);
      expect(got).toEqual(["siteloom_test:one", "siteloom_test:two"]);
    } finally {
      await listener.close();
    }
  });
});

// --- internal ---

async function _until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}
