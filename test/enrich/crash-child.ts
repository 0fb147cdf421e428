// A separate process running one enrichment: `node --import tsx crash-child.ts <site.json> <cache> <phase|none>`.
// Prints each phase of the run as a JSON line on stdout; at <phase> it sends itself SIGKILL (a real kill -9 at a
// known point of the run).
import { readFileSync } from "node:fs";
import { runEnrich } from "../../src/enrich/index.ts";

const [siteFile, cacheFile, killAt] = process.argv.slice(2) as [string, string, string];
const site = JSON.parse(readFileSync(siteFile, "utf8"));
const logger = {
  debug(fields: { phase?: string }) {
    process.stdout.write(`${JSON.stringify(fields)}\n`);
    if (fields.phase === killAt) process.kill(process.pid, "SIGKILL");
  },
  info() {},
};
const report = await runEnrich({ site, cacheFile, logger: logger as never });
process.stdout.write(`${JSON.stringify({ done: report.written.length })}\n`);
