import type { CliContext } from "./context.ts";

/** Prints a table: a bold header, columns padded to their widest cell, no trailing spaces. */
export function printTable(ctx: CliContext, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  ctx.print(ctx.color.bold(line(header)));
  for (const row of rows) ctx.print(line(row));
}
