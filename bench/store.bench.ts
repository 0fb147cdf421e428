// State store benchmarks: budget reservation throughput with 16 concurrent reservers (each on its own connection,
// as 16 processes would be), each reservation settled or released right after, on a real PostgreSQL 15 started on
// loopback (test/support/postgres.ts) and on SQLite (one file, 16 handles in this process).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresStore, createSqliteStore, type StateStore } from "../src/store/index.ts";
import { startPostgres } from "../test/support/postgres.ts";
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
