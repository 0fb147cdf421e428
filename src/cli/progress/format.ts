import type { RunStepRecord } from "../../store/index.ts";

/** 1536 → "1.5 KB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** 1234 → "1.2s", 75000 → "1m15s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds - minutes * 60)).padStart(2, "0")}s`;
}

/** USD with enough digits for cheap models. */
export function formatCost(usd: number): string {
  if (usd === 0) return "$0";
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** `{ uploaded: 3, deleted: 0 }` → "3 uploaded, 0 deleted". */
export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([key, value]) => `${value} ${key}`)
    .join(", ");
}

/** Duration of a recorded step, when it has both ends. */
export function stepDurationMs(step: Pick<RunStepRecord, "started" | "finished">): number | undefined {
  if (!step.started || !step.finished) return undefined;
  return Date.parse(step.finished) - Date.parse(step.started);
}

/** Lays out rows as aligned columns (first row = header). ANSI colour codes do not count towards widths. */
export function formatTable(rows: string[][], gap = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, _visibleLength(cell));
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - _visibleLength(cell) + gap),
      )
      .join("")
      .trimEnd(),
  );
}

/** A text progress bar of `width` cells. */
export function formatBar(done: number, total: number, width = 20): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(ratio * width);
  return `${"█".repeat(full)}${"░".repeat(width - full)}`;
}

/** Clips a line to `columns` visible characters without cutting an escape sequence in half. */
export function clipLine(line: string, columns: number): string {
  // Clipping must not cut an escape sequence in half; lines without colour are clipped exactly.
  const visible = line.replace(/\u001b\[[0-9;]*m/g, "");
  if (visible.length <= columns) return line;
  if (visible.length === line.length) return `${line.slice(0, columns - 1)}…`;
  return `${visible.slice(0, columns - 1)}…`;
}

// --- internal ---

const ANSI = /\u001b\[[0-9;]*m/g;

function _visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}
