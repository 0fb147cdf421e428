// Sums vitest JSON reports (one per Node version) into one closing line: "total: N passed, N failed, N skipped".
import { readFileSync } from "node:fs";
import { basename } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  const run = {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0),
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
  console.log(`${basename(file, ".json")}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  passed += run.passed;
  failed += run.failed;
  skipped += run.skipped;
}
console.log(`total: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 ? 1 : 0;
