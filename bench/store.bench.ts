// State store benchmarks: budget reservation throughput with 16 concurrent reservers (each on its own connection,
// as 16 processes would be), each reservation settled or released right after, on a real PostgreSQL 15 started on
// loopback (test/support/postgres.ts) and on SQLite (one file, 16 handles in this process). Beside it, the reference:
// pgbench sending the same statements with the same 16 clients on the same server (what the machine allows now).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPostgresStore, createSqliteStore, type StateStore } from "../src/store/index.ts";
import { POSTGRES_BIN_DIR, startPostgres, type TestPostgres } from "../test/support/postgres.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const RESERVERS = 16;
const PER_RESERVER = Number(process.env.SITELOOM_BENCH_RESERVATIONS ?? 150);

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  const pg = await startPostgres();
  try {
    const url = await pg.createDatabase("bench");
    const perSecond = await _reservationsPerSecond(() => createPostgresStore({ url, poolSize: 1 }));
    rows.push({
      group: "store",
      name: `budget reservations, ${RESERVERS} concurrent reservers (PostgreSQL 15)`,
      value: perSecond,
      unit: "req/s",
      target: ">= 500/s",
      ok: perSecond >= 500,
      note: `${RESERVERS * PER_RESERVER} reserve+settle/release pairs, one connection each`,
    });
    const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-pgbench-"));
    const pairs = await _pgbenchPairs(pg, dir).finally(() => rm(dir, { recursive: true, force: true }));
    rows.push({
      group: "store",
      name: `reference: pgbench, the same statements, ${RESERVERS} clients (same server)`,
      value: pairs,
      unit: "req/s",
      note: "reserve+settle/release pairs per second sent by pgbench (C, 2 threads) instead of 16 store connections",
    });
  } finally {
    await pg.stop();
  }
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-store-"));
  try {
    const path = join(dir, "state.db");
    const perSecond = await _reservationsPerSecond(() => createSqliteStore({ path }));
    rows.push({
      group: "store",
      name: `budget reservations, ${RESERVERS} concurrent reservers (SQLite)`,
      value: perSecond,
      unit: "req/s",
      note: "16 handles on one WAL file in one process (synchronous driver: no true parallelism)",
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

// --- internal ---

/** Reservations per second: each reserver reserves, then settles (2 of 3) or releases (1 of 3) what it got. */
async function _reservationsPerSecond(open: () => StateStore): Promise<number> {
  const stores = Array.from({ length: RESERVERS }, open);
  try {
    // open every connection and migrate before the clock starts
    await Promise.all(stores.map((s) => s.schemaVersion()));
    const month = new Date().toISOString().slice(0, 7);
    const isStale = () => false;
    const start = performance.now();
    await Promise.all(
      stores.map(async (store, n) => {
        for (let i = 0; i < PER_RESERVER; i++) {
          const result = await store.reserveBudget(
            { month, site: `site-${n}`, topicId: `t${i}`, amountUsd: 0.01, owner: `bench-${n}`, pid: 1, host: "bench" },
            { maxMonthlyUsd: 1_000_000, isStale },
          );
          if (!result.granted) throw new Error("a reservation within the budget was refused");
          if (i % 3 === 2) {
            await store.releaseBudget(result.reservation.id);
            continue;
          }
          await store.settleBudget(result.reservation.id, {
            time: new Date().toISOString(),
            site: `site-${n}`,
            topic: "bench",
            topicId: `t${i}`,
            provider: "bench",
            model: "m",
            step: "article",
            inputTokens: 1000,
            outputTokens: 1000,
            costUsd: 0.009,
            ok: true,
          });
        }
      }),
    );
    return (RESERVERS * PER_RESERVER) / ((performance.now() - start) / 1000);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

/**
 * pgbench (C, no client work) sending what the store's reservers send, statement for statement, on a fresh database
 * of the same server: the siteloom_reserve_budget call, then the settling statement (2 of 3) or the release (1 of 3),
 * in the current month, with the same 16 clients, the same number of pairs each and the extended query protocol with
 * parameters (as node-postgres sends them); pairs per second.
 */
async function _pgbenchPairs(pg: TestPostgres, dir: string): Promise<number> {
  const migrator = createPostgresStore({ url: await pg.createDatabase("reference"), poolSize: 1 });
  await migrator.schemaVersion().finally(() => migrator.close());
  const script = join(dir, "reserve.sql");
  const month = new Date().toISOString().slice(0, 7);
  const id = ":client_id || '-' || :n";
  await writeFile(
    script,
    `\\set n random(1, 2000000000)
\\set release random(1, 3)
SELECT * FROM siteloom_reserve_budget('{}', 1000000, ${id}, '${month}', 's', 't', 0.01, 'o', 1, 'h', 'x');
\\if :release = 3
DELETE FROM budget_reservations WHERE id = ${id};
\\else
WITH dropped AS (DELETE FROM budget_reservations WHERE id = ${id}) INSERT INTO cost_ledger (id, time, month, site, topic, topic_id, provider, model, step, input_tokens, output_tokens, cost_usd, ok) VALUES (${id}, 'x', '${month}', 's', 'b', 't', 'b', 'm', 'article', 1000, 1000, 0.009, 1);
\\endif
`,
  );
  const args = ["-c", String(RESERVERS), "-j", "2", "-t", String(PER_RESERVER), "-M", "extended", "-n", "-f", script];
  const { stdout } = await promisify(execFile)(
    join(POSTGRES_BIN_DIR, "pgbench"),
    [...args, "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "reference"],
    { env: { ...process.env, PGPASSWORD: pg.password } },
  );
  return Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0);
}
