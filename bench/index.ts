// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) and prints one table.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type BenchRow, type BenchSuite, printTable } from "./support.ts";

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
const rows: BenchRow[] = [];
for (const file of files) {
  const mod = (await import(`./${file}`)) as { default: BenchSuite };
  try {
    rows.push(...(await mod.default()));
  } catch (error) {
    rows.push({ group: file.replace(".bench.ts", ""), name: "FAILED", value: 0, unit: "ms", note: String(error) });
  }
}
printTable(rows);
