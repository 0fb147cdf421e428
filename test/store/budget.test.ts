import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore, type StateStore } from "../../src/store/index.ts";

const MONTH = "2026-12";
const entry = (costUsd: number) => ({
  time: `${MONTH}-07T01:00:00.000Z`,
  site: "shop",
  topic: "t",
  topicId: "id",
  provider: "openai",
  model: "m",
  step: "outline",
  inputTokens: 1,
  outputTokens: 1,
  costUsd,
  ok: true,
});
const holder = { month: MONTH, site: "shop", topicId: "id", owner: "o", pid: process.pid, host: "h" };
const never = () => false;

let store: StateStore;
afterEach(async () => {
  await store.close();
});

describe("store: budget reservations (sqlite)", () => {
  it("grants within the limit counting settled and reserved spend, settles and releases", async () => {
    store = createSqliteStore({ path: ":memory:" });
    const a = await store.reserveBudget({ ...holder, amountUsd: 0.6 }, { maxMonthlyUsd: 1, isStale: never });
    expect(a).toMatchObject({ granted: true, settledUsd: 0, reservedUsd: 0 });
    const b = await store.reserveBudget({ ...holder, amountUsd: 0.6 }, { maxMonthlyUsd: 1, isStale: never });
    expect(b).toEqual({ granted: false, settledUsd: 0, reservedUsd: 0.6 });
    if (!a.granted) throw new Error("unreachable");
    await store.settleBudget(a.reservation.id, entry(0.5));
    expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.5, reservedUsd: 0 });
    const c = await store.reserveBudget({ ...holder, amountUsd: 0.5 }, { maxMonthlyUsd: 1, isStale: never });
    expect(c.granted).toBe(true);
    if (c.granted) await store.releaseBudget(c.reservation.id);
    expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.5, reservedUsd: 0 });
    expect((await store.listCosts({ month: MONTH })).map((e) => e.costUsd)).toEqual([0.5]);
  });

  it("drops stale reservations when reserving, and imports a source once", async () => {
    store = createSqliteStore({ path: ":memory:" });
    await store.reserveBudget({ ...holder, owner: "dead", amountUsd: 0.9 }, { maxMonthlyUsd: 1, isStale: never });
    const refused = await store.reserveBudget({ ...holder, amountUsd: 0.5 }, { maxMonthlyUsd: 1, isStale: never });
    expect(refused.granted).toBe(false);
    const granted = await store.reserveBudget(
      { ...holder, amountUsd: 0.5 },
      { maxMonthlyUsd: 1, isStale: (r) => r.owner === "dead" },
    );
    expect(granted).toMatchObject({ granted: true, reservedUsd: 0 });
    expect(await store.heartbeatBudget("o")).toBe(1);
    expect(await store.importCosts("/x/ledger.jsonl", [entry(0.1), entry(0.2)])).toBe(2);
    expect(await store.importCosts("/x/ledger.jsonl", [entry(0.1), entry(0.2)])).toBe(0);
    expect((await store.budgetSpend(MONTH)).settledUsd).toBeCloseTo(0.3, 9);
  });
});
