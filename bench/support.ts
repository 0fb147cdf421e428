/** One row of the benchmark table printed by `npm run bench`. */
export interface BenchRow {
  /** Area, e.g. "config", "secrets", "transfer". */
  group: string;
  /** What was measured. */
  name: string;
  /** The measured figure, in `unit`. */
  value: number;
  unit: "ms" | "s" | "req/s" | "KB" | "MB" | "x" | "req";
  /** The target from the issue, as text ("< 100 ms"), if any. */
  target?: string;
  /** Whether the figure meets the target; undefined when there is none. */
  ok?: boolean;
  /** Reference tools and ratios, free text ("lftp 22.1 s, ratio 3.4x"). */
  note?: string;
}

/** A benchmark file's export: runs its measurements and returns rows. */
export type BenchSuite = () => Promise<BenchRow[]>;

/** Milliseconds taken by `fn` (median of `runs`). */
export async function timeMs(fn: () => Promise<unknown> | unknown, runs = 5): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export function printTable(rows: BenchRow[]): void {
  const header = ["group", "benchmark", "value", "target", "ok", "note"];
  const body = rows.map((r) => [
    r.group,
    r.name,
    `${r.value.toFixed(r.value < 10 ? 2 : 1)} ${r.unit}`,
    r.target ?? "",
    r.ok === undefined ? "" : r.ok ? "yes" : "NO",
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of body) console.log(line(row));
}
