import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { SiteloomError } from "../errors.ts";

/** File name of the cost ledger inside `.siteloom/`. */
export const LEDGER_FILE = "ledger.jsonl";

/** One paid (or attempted) model call. */
export interface LedgerEntry {
  /** ISO 8601 UTC. */
  time: string;
  site: string;
  /** The topic text. */
  topic: string;
  /** Topic id (hash of the row). */
  topicId: string;
  provider: string;
  model: string;
  /** outline | article | repair */
  step: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Whether the call's output was accepted. */
  ok: boolean;
}

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

/** Append-only JSON-lines ledger of model calls, shared by every process of the workspace (locked appends). */
export interface Ledger {
  readonly file: string;
  append(entry: LedgerEntry): Promise<void>;
  read(): Promise<LedgerEntry[]>;
  /** Total USD spent in a month (YYYY-MM, UTC) over all sites. */
  monthlySpend(month?: string): Promise<number>;
}

export function createLedger(stateDir: string): Ledger {
  const file = join(stateDir, LEDGER_FILE);
  // group commit: entries appended while a write is in flight go out together in the next single write + fsync,
  // so concurrent workers do not queue behind each other's lock and fsync
  let pending: { line: string; done: (error?: unknown) => void }[] = [];
  let flushing = false;
  const writeLocked = async (text: string) => {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // the lock needs the file to exist; "a" creates it without truncating
    await (await open(file, "a", 0o600)).close();
    const release = await lockfile.lock(file, {
      retries: { retries: 50, minTimeout: 20, maxTimeout: 200 },
      stale: 10_000,
    });
    try {
      const handle = await open(file, "a");
      try {
        // one write of whole lines under O_APPEND: a crash leaves whole lines or nothing (a torn tail is skipped)
        await handle.write(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } finally {
      await release();
    }
  };
  const flush = async () => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        await writeLocked(batch.map((p) => p.line).join(""));
        for (const p of batch) p.done();
      } catch (error) {
        for (const p of batch) p.done(error);
      }
    }
    flushing = false;
  };
  const ledger: Ledger = {
    file,
    append(entry) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ line: `${JSON.stringify(entry)}\n`, done: (error) => (error ? reject(error) : resolve()) });
        if (!flushing) {
          flushing = true;
          void flush();
        }
      });
    },
    async read() {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      const entries: LedgerEntry[] = [];
      text.split("\n").forEach((line, index) => {
        if (!line.trim()) return;
        try {
          entries.push(JSON.parse(line) as LedgerEntry);
        } catch (error) {
          // a torn last line (power loss) is skipped; anything else is corruption worth reporting
          if (index < text.split("\n").length - 2) {
            throw new SiteloomError("ERR_INTERNAL", `${file} line ${index + 1} is not valid JSON; fix or remove it`, {
              cause: error,
            });
          }
        }
      });
      return entries;
    },
    async monthlySpend(month = currentMonth()) {
      let sum = 0;
      for (const entry of await ledger.read()) if (entry.time.startsWith(month)) sum += entry.costUsd;
      return Math.round(sum * 1e6) / 1e6;
    },
  };
  return ledger;
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
