// The reservers of the store benchmark (see store.bench.ts): each reserves 0.01 USD, then settles (2 of 3) or
// releases (1 of 3) what it got, in a loop.
import type { CostEntry, StateStore } from "../src/store/index.ts";

/** Pairs each reserver runs before the clock starts (connections, prepared statements and the JIT warm). */
const WARM_UP = 10;

/** Opens `count` stores (each migrated, connected and warmed up before it returns). */
export async function openReservers(count: number, open: () => StateStore, tag: string): Promise<StateStore[]> {
  const stores = Array.from({ length: count }, open);
  await Promise.all(stores.map((s) => s.schemaVersion()));
  await runReservers(stores, WARM_UP, `${tag}-warm`);
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
