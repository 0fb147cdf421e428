// Article generation throughput: 100 topics against the local wire-format server with 500 ms per call and
// llm.concurrency 8. Ideal = calls per article × topics / concurrency × latency (the target: within 10 %).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CALLS_PER_ARTICLE, runGenerate } from "../src/content/index.ts";
import { loadWorkspace } from "../src/workspace/index.ts";
import { testApiKey, writeTestWorkspace } from "../test/content/support/workspace.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const TOPICS = 100;
const LATENCY_MS = 500;
const CONCURRENCY = 8;
const DRY_RUN_ROWS = [2_500, 5_000, 10_000, 20_000];

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  // issue 18 item 7: planning must be linear (it was quadratic: 20,000 rows took 50-138 s)
  for (const count of DRY_RUN_ROWS) {
    const { wallMs, cpuMs } = await _dryRun(count);
    rows.push({
      group: "content",
      name: `generate --dry-run, ${count.toLocaleString("en")} topics (in process)`,
      value: wallMs,
      unit: "ms",
      ...(count === 20_000 ? { target: "< 2000 ms, linear", ok: wallMs < 2000 } : {}),
      note: `${cpuMs.toFixed(0)} ms CPU, ${((cpuMs * 1000) / count).toFixed(0)} µs CPU per topic; load average ${loadavg()[0]!.toFixed(1)}`,
    });
  }
  // same run without latency: what the machine adds per article (SDK, validation, ledger, atomic writes)
  const zero = await _run(0);
  rows.push({
    group: "content",
    name: `generate ${TOPICS} topics, 0 ms/call (overhead), concurrency ${CONCURRENCY}`,
    value: zero.wallS,
    unit: "s",
    note: `${((zero.wallS * 1000) / TOPICS).toFixed(1)} ms wall, ${zero.cpuMsPerArticle.toFixed(1)} ms client CPU per article; load average ${loadavg()[0]!.toFixed(1)}`,
  });
  const run = await _run(LATENCY_MS);
  const idealS = ((CALLS_PER_ARTICLE * TOPICS) / CONCURRENCY) * (LATENCY_MS / 1000);
  rows.push({
    group: "content",
    name: `generate ${TOPICS} topics, ${LATENCY_MS} ms/call, concurrency ${CONCURRENCY}`,
    value: run.wallS,
    unit: "s",
    target: `≤ ${(idealS * 1.1).toFixed(2)} s (ideal ${idealS.toFixed(2)} s + 10 %)`,
    ok: run.wallS <= idealS * 1.1 && run.generated === TOPICS,
    note: `${run.generated} articles, ${run.calls} calls, ${(run.wallS / idealS).toFixed(3)}x ideal, ${run.cpuMsPerArticle.toFixed(1)} ms client CPU per article; load average ${loadavg()[0]!.toFixed(1)}`,
  });
  return rows;
};

export default suite;

// --- internal ---

async function _dryRun(count: number): Promise<{ wallMs: number; cpuMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-dry-run-"));
  try {
    await writeTestWorkspace(dir, {
      llm: { provider: "openai", model: "gpt-4o-mini", apiKey: "${BENCH_KEY}" },
      budgets: { maxMonthlyCost: 1000 },
      topics: `topic,keywords,category\n${Array.from({ length: count }, (_, i) => `Topic number ${i} about baking,kw${i};flour,Cat${i % 20}`).join("\n")}\n`,
    });
    const workspace = await loadWorkspace({ workspace: dir, vars: { BENCH_KEY: testApiKey() } });
    const site = await workspace.site("shop");
    const cpu = process.cpuUsage();
    const start = performance.now();
    const report = await runGenerate({ workspace, site, dryRun: true });
    const wallMs = performance.now() - start;
    const used = process.cpuUsage(cpu);
    if (report.planned.length !== count) throw new Error(`planned ${report.planned.length} of ${count}`);
    return { wallMs, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function _run(
  latencyMs: number,
): Promise<{ wallS: number; generated: number; calls: number; cpuMsPerArticle: number }> {
  // the provider runs in its own process, as a real one would, so its CPU does not delay the client
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      new URL("../test/content/support/llm-server-main.ts", import.meta.url).pathname,
      String(latencyMs),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const [first] = (await once(child.stdout!, "data")) as [Buffer];
  const url = first.toString().trim();
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-generate-"));
  try {
    const key = testApiKey();
    await writeTestWorkspace(dir, {
      llm: {
        provider: "openai",
        model: "bench-model",
        baseUrl: url,
        apiKey: "${BENCH_KEY}",
        concurrency: CONCURRENCY,
        prices: { "bench-model": { input: 0.15, output: 0.6 } },
      },
      topics: `topic,keywords\n${Array.from({ length: TOPICS }, (_, i) => `Benchmark topic ${i + 1},kw${i}`).join("\n")}\n`,
    });
    const workspace = await loadWorkspace({ workspace: dir, vars: { BENCH_KEY: key } });
    const site = await workspace.site("shop");
    // tsx turns on source-mapped stack traces, which the built CLI does not have; web streams create an Error per
    // response body, so leaving them on would measure tsx, not siteloom
    process.setSourceMapsEnabled(false);
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const report = await runGenerate({ workspace, site }).finally(() => process.setSourceMapsEnabled(true));
    const wallS = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMsPerArticle = (cpu.user + cpu.system) / 1000 / TOPICS;
    const calls = (await ledgerCalls(dir)) ?? 0;
    return { wallS, generated: report.generated.length, calls, cpuMsPerArticle };
  } finally {
    child.stdin!.end();
    await once(child, "exit");
    await rm(dir, { recursive: true, force: true });
  }
}

async function ledgerCalls(dir: string): Promise<number | undefined> {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(join(dir, ".siteloom/ledger.jsonl"), "utf8").catch(() => undefined);
  return text?.trim().split("\n").length;
}
