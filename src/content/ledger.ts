import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { SiteloomError } from "../errors.ts";
import { type CostEntry, openStateStore, type StateStore } from "../store/index.ts";

/** The old file ledger (before the state store held it); imported once, then renamed to `ledger.jsonl.imported`. */
export const LEDGER_FILE = "ledger.jsonl";

/** One paid (or attempted) model call. */
export type LedgerEntry = CostEntry;

export interface CostSummaryRow {
  site: string;
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface CostSummary {
  /** YYYY-MM, or "all". */
  month: string;
  rows: CostSummaryRow[];
  total: { calls: number; inputTokens: number; outputTokens: number; costUsd: number };
}

/**
 * The cost ledger of the workspace: one entry per model call, in the state store's `cost_ledger` (written by
 * `settleBudget`, in the same transaction that drops the call's budget reservation), shared by every process.
 */
export interface Ledger {
  readonly store: StateStore;
  /** Entries in time order, optionally of one month (YYYY-MM, UTC) and/or site. */
  read(filter?: { month?: string; site?: string }): Promise<LedgerEntry[]>;
  /** Total USD settled in a month over all sites. */
  monthlySpend(month?: string): Promise<number>;
  /** Closes the store if the ledger opened it. */
  close(): Promise<void>;
}

/**
 * Opens the ledger on `store` (default: the workspace's state store). A `ledger.jsonl` left by an older siteloom is
 * imported into the store on first use, once, and renamed so nothing reads it again.
 */
export function createLedger(stateDir: string, store?: StateStore): Ledger {
  const own = store === undefined;
  const db = store ?? openStateStore({ stateDir });
  let imported: Promise<void> | undefined;
  const ready = () => {
    imported ??= _importJsonl(stateDir, db);
    return imported;
  };
  return {
    store: db,
    async read(filter = {}) {
      await ready();
      return db.listCosts(filter);
    },
    async monthlySpend(month = currentMonth()) {
      await ready();
      return (await db.budgetSpend(month)).settledUsd;
    },
    async close() {
      if (own) await db.close();
    },
  };
}

/** YYYY-MM of a date in UTC. */
export function currentMonth(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

/** Groups ledger entries by site and model for `siteloom costs`. */
export function summarizeCosts(entries: LedgerEntry[], filter: { site?: string; month?: string } = {}): CostSummary {
  const rows = new Map<string, CostSummaryRow>();
  const total = { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  for (const entry of entries) {
    if (filter.site && entry.site !== filter.site) continue;
    if (filter.month && filter.month !== "all" && !entry.time.startsWith(filter.month)) continue;
    const key = `${entry.site}\u0000${entry.model}`;
    const row = rows.get(key) ?? {
      site: entry.site,
      model: entry.model,
      calls: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
    };
    for (const target of [row, total]) {
      target.calls++;
      target.inputTokens += entry.inputTokens;
      target.outputTokens += entry.outputTokens;
      target.costUsd += entry.costUsd;
    }
    rows.set(key, row);
  }
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  const sorted = [...rows.values()]
    .map((r) => ({ ...r, costUsd: round(r.costUsd) }))
    .sort((a, b) => a.site.localeCompare(b.site) || a.model.localeCompare(b.model));
  return { month: filter.month ?? "all", rows: sorted, total: { ...total, costUsd: round(total.costUsd) } };
}

// --- internal ---

async function _importJsonl(stateDir: string, store: StateStore): Promise<void> {
  const file = join(stateDir, LEDGER_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const lines = text.split("\n");
  const entries: LedgerEntry[] = [];
  lines.forEach((line, index) => {
    if (!line.trim()) return;
    try {
      entries.push(JSON.parse(line) as LedgerEntry);
    } catch (error) {
      // a torn last line (power loss) is skipped; anything else is corruption worth reporting
      if (index < lines.length - 2) {
        throw new SiteloomError("ERR_INTERNAL", `${file} line ${index + 1} is not valid JSON; fix or remove it`, {
          cause: error,
        });
      }
    }
  });
  await store.importCosts(file, entries);
  await rename(file, `${file}.imported`).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
