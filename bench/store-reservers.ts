// The reservers of the store benchmark (see store.bench.ts): each reserves 0.01 USD, then settles (2 of 3) or
// releases (1 of 3) what it got, in a loop. `runReservers` runs them in this process; run as a script
// (`node --import tsx bench/store-reservers.ts <url> <reservers> <perReserver> <tag>`), a process of its own opens
// its stores, prints "ready", waits for a line on stdin, runs them and prints "done": the bench starts the
// processes of a round at once, as the worker processes of a deployment reserve at once.
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type CostEntry, createPostgresStore, type StateStore } from "../src/store/index.ts";

/** Opens `count` stores (each migrated and connected before it returns). */
export async function openReservers(count: number, open: () => StateStore): Promise<StateStore[]> {
  const stores = Array.from({ length: count }, open);
  await Promise.all(stores.map((s) => s.schemaVersion()));
  return stores;
}

/** Runs `perReserver` reserve+settle/release pairs on each store, all stores at once. */
export async function runReservers(stores: StateStore[], perReserver: number, tag: string): Promise<void> {
  const month = new Date().toISOString().slice(0, 7);
  const isStale = () => false;
  await Promise.all(
    stores.map(async (store, n) => {
      const site = `site-${tag}-${n}`;
      for (let i = 0; i < perReserver; i++) {
        const result = await store.reserveBudget(
          { month, site, topicId: `t${i}`, amountUsd: 0.01, owner: `bench-${tag}-${n}`, pid: 1, host: "bench" },
          { maxMonthlyUsd: 1_000_000, isStale },
        );
        if (!result.granted) throw new Error("a reservation within the budget was refused");
        if (i % 3 === 2) {
          await store.releaseBudget(result.reservation.id);
          continue;
        }
        await store.settleBudget(result.reservation.id, benchCostEntry(site, `t${i}`));
      }
    }),
  );
}

/** The ledger entry of one settled bench call: 0.009 USD. */
export function benchCostEntry(site: string, topicId: string): CostEntry {
  return {
    time: new Date().toISOString(),
    site,
    topic: "bench",
    topicId,
    provider: "bench",
    model: "m",
    step: "article",
    inputTokens: 1000,
    outputTokens: 1000,
    costUsd: 0.009,
    ok: true,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, reservers, perReserver, tag] = process.argv.slice(2) as [string, string, string, string];
  const stores = await openReservers(Number(reservers), () => createPostgresStore({ url, poolSize: 1 }));
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write("ready\n");
  await lines.next();
  await runReservers(stores, Number(perReserver), tag);
  process.stdout.write("done\n");
  await Promise.all(stores.map((s) => s.close()));
  process.exit(0);
}
