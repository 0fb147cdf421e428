// Article generation throughput: 100 topics against the local wire-format server with 500 ms per call and
// llm.concurrency 8. Ideal = calls per article × topics / concurrency × latency (the target: within 10 %).
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CALLS_PER_ARTICLE, runGenerate } from "../src/content/index.ts";
import { loadWorkspace } from "../src/workspace/index.ts";
import { startLlmServer } from "../test/content/support/llm-server.ts";
import { testApiKey, writeTestWorkspace } from "../test/content/support/workspace.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const TOPICS = 100;
const LATENCY_MS = 500;
const CONCURRENCY = 8;

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  // same run without latency: what the machine adds per article (SDK, validation, ledger, atomic writes)
  const zero = await _run(0);
  rows.push({
    group: "content",
    name: `generate ${TOPICS} topics, 0 ms/call (overhead), concurrency ${CONCURRENCY}`,
    value: zero.wallS,
    unit: "s",
    note: `${((zero.wallS * 1000) / TOPICS).toFixed(1)} ms per article; load average ${loadavg()[0]!.toFixed(1)}`,
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
    note: `${run.generated} articles, ${run.calls} calls, ${(run.wallS / idealS).toFixed(3)}x ideal; load average ${loadavg()[0]!.toFixed(1)}`,
  });
  return rows;
};

export default suite;

// --- internal ---

async function _run(latencyMs: number): Promise<{ wallS: number; generated: number; calls: number }> {
  const server = await startLlmServer({ latencyMs });
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-generate-"));
  try {
    const key = testApiKey();
    await writeTestWorkspace(dir, {
      llm: {
        provider: "openai",
        model: "bench-model",
        baseUrl: server.url,
        apiKey: "${BENCH_KEY}",
        concurrency: CONCURRENCY,
        prices: { "bench-model": { input: 0.15, output: 0.6 } },
      },
      topics: `topic,keywords\n${Array.from({ length: TOPICS }, (_, i) => `Benchmark topic ${i + 1},kw${i}`).join("\n")}\n`,
    });
    const workspace = await loadWorkspace({ workspace: dir, vars: { BENCH_KEY: key } });
    const site = await workspace.site("shop");
    const start = performance.now();
    const report = await runGenerate({ workspace, site });
    const wallS = (performance.now() - start) / 1000;
    return { wallS, generated: report.generated.length, calls: server.requests.length };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
