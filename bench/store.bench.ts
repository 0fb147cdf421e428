// State store benchmarks: budget reservation throughput with 16 concurrent reservers (each on its own connection),
// each reservation settled or released right after, on a real PostgreSQL 15 started on loopback
// (test/support/postgres.ts) and on SQLite (one file, 16 handles in this process). Every database starts with a
// month's ledger already written (SITELOOM_BENCH_LEDGER entries, 20,000 by default: an agency's month), since what
// a reservation costs may grow with it. Each reserver first runs 10 pairs unclocked (connections, prepared
// statements, the JIT), as pgbench's connections are open before its clock starts. The 16 reservers share this
// process's one thread (in a deployment they are spread over the worker processes). Beside them, the reference:
// pgbench sending the same statements with the same 16 clients on the same server (what the machine allows now).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPostgresStore, createSqliteStore, type StateStore } from "../src/store/index.ts";
import { POSTGRES_BIN_DIR, startPostgres, type TestPostgres } from "../test/support/postgres.ts";
import { benchCostEntry, openReservers, runReservers } from "./store-reservers.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const RESERVERS = 16;
const PER_RESERVER = Number(process.env.SITELOOM_BENCH_RESERVATIONS ?? 150);
const LEDGER = Number(process.env.SITELOOM_BENCH_LEDGER ?? 20_000);
const PAIRS = `${RESERVERS * PER_RESERVER} reserve+settle/release pairs after a ledger of ${LEDGER} entries and 10 pairs a reserver of warm-up`;

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  const pg = await startPostgres();
  try {
    const url = await _postgresDatabase(pg, "bench");
    const perSecond = await _reservationsPerSecond(() => createPostgresStore({ url, poolSize: 1 }));
    rows.push({
      group: "store",
      name: `budget reservations, ${RESERVERS} concurrent reservers (PostgreSQL 15)`,
      value: perSecond,
      unit: "req/s",
      target: ">= 500/s",
      ok: perSecond >= 500,
      note: `${PAIRS}, one connection each, all on this process's one thread`,
    });
    const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-pgbench-"));
    const pairs = await _pgbenchPairs(pg, dir).finally(() => rm(dir, { recursive: true, force: true }));
    rows.push({
      group: "store",
      name: `reference: pgbench, the same statements, ${RESERVERS} clients (same server)`,
      value: pairs,
      unit: "req/s",
      note: "reserve+settle/release pairs per second sent by pgbench (C, 2 threads), the same ledger beforehand",
    });
  } finally {
    await pg.stop();
  }
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-store-"));
  try {
    const path = join(dir, "state.db");
    const prefill = createSqliteStore({ path });
    await prefill.importCosts(
      "bench-ledger",
      Array.from({ length: LEDGER }, (_, i) => benchCostEntry(`site-${i % 200}`, `t${i}`)),
    );
    await prefill.close();
    const perSecond = await _reservationsPerSecond(() => createSqliteStore({ path }));
    rows.push({
      group: "store",
      name: `budget reservations, ${RESERVERS} concurrent reservers (SQLite)`,
      value: perSecond,
      unit: "req/s",
      note: `${PAIRS}; 16 handles on one WAL file in one process (synchronous driver: no true parallelism)`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

// --- internal ---

/** A new database, migrated, holding LEDGER settled entries of this month; its URL. */
async function _postgresDatabase(pg: TestPostgres, name: string): Promise<string> {
  const url = await pg.createDatabase(name);
  const migrator = createPostgresStore({ url, poolSize: 1 });
  await migrator.schemaVersion().finally(() => migrator.close());
  const month = new Date().toISOString().slice(0, 7);
  await pg.query(
    `INSERT INTO cost_ledger (id, time, month, site, topic, topic_id, provider, model, step, input_tokens,
      output_tokens, cost_usd, ok)
     SELECT 'ledger-' || g, $1, $2, 'site-' || (g % 200), 'bench', 't' || g, 'bench', 'm', 'article', 1000, 1000,
      0.009, 1 FROM generate_series(1, $3::int) g`,
    [new Date().toISOString(), month, LEDGER],
    name,
  );
  await pg.query("VACUUM ANALYZE", [], name);
  return url;
}

/** Reservations per second, the 16 reservers on this process's one thread. */
async function _reservationsPerSecond(open: () => StateStore): Promise<number> {
  const stores = await openReservers(RESERVERS, open, "one");
  try {
    const start = performance.now();
    await runReservers(stores, PER_RESERVER, "one");
    return (RESERVERS * PER_RESERVER) / ((performance.now() - start) / 1000);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

/**
 * pgbench (C, no client work) sending what the store's reservers send, statement for statement, on a fresh database
 * of the same server with the same ledger: the siteloom_reserve_budget call, then the settling statement (2 of 3) or
 * the release (1 of 3), in the current month, with the same 16 clients, the same number of pairs each and the
 * extended query protocol with parameters; pairs per second.
 */
async function _pgbenchPairs(pg: TestPostgres, dir: string): Promise<number> {
  await _postgresDatabase(pg, "reference");
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
  const args = ["-c", String(RESERVERS), "-j", "2", "-t", String(PER_RESERVER), "-M", "prepared", "-n", "-f", script];
  const { stdout } = await promisify(execFile)(
    join(POSTGRES_BIN_DIR, "pgbench"),
    [...args, "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "reference"],
    { env: { ...process.env, PGPASSWORD: pg.password } },
  );
  return Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0);
}
