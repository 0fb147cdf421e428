// Alerting and metrics overhead (issue 21). (1) GET /config, the audited path every alert decision sits on: requests
// per second of `siteloom serve` without alerts and with one webhook channel and a rule that does not match, both
// real processes, measured in alternating rounds so a busy shared machine weighs on both alike. (2) GET /metrics with
// 500 sites × 4 steps of activity: our own timing of the scrape, and a real Prometheus's scrape_duration_seconds of
// the same endpoint beside it.
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { publishActivity } from "../src/events.ts";
import { createMetrics, startMetricsServer } from "../src/metrics/index.ts";
import { openStateStore } from "../src/store/index.ts";
import { createToken } from "../src/tokens/index.ts";
import { bearer, WORKSPACE_YAML, writeWorkspace } from "../test/server/support.ts";
import { startPrometheus, type TestPrometheus } from "../test/support/prometheus.ts";
import { type ServeProcess, startServe } from "../test/support/serve.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

// autocannon ships no types; the part used here is small
type Autocannon = (options: Record<string, unknown>) => Promise<{ requests: { total: number }; non2xx: number }>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const ROUNDS = 8;
const ROUND_S = 2;
const CONNECTIONS = 10;
const SITES = 500;
const SCRAPES = 50;

const suite: BenchSuite = async () => [...(await _alertOverhead()), ...(await _metricsScrape())];

export default suite;

// --- internal ---

async function _alertOverhead(): Promise<BenchRow[]> {
  const dirs: string[] = [];
  const serves: ServeProcess[] = [];
  try {
    const start = async (alerts: string) => {
      const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-alerts-"));
      dirs.push(dir);
      await writeWorkspace(dir, `${WORKSPACE_YAML}server:\n  rateLimit: 100000000\n${alerts}`);
      const store = openStateStore({ stateDir: join(dir, ".siteloom") });
      const { token } = await createToken(store, { name: "bench", role: "viewer" });
      await store.close();
      const serve = await startServe(dir, { XDG_CONFIG_HOME: join(dir, ".config") }, ["--quiet", "--no-watch"]);
      serves.push(serve);
      return { url: `${serve.url}/config?site=shop`, headers: bearer(token) };
    };
    const plain = await start("");
    // a channel nobody listens on and a rule for an event GET /config never raises: only the decision is paid for
    const alerting = await start(`alerts:
  channels:
    hook: { type: webhook, url: "http://127.0.0.1:9/hook", key: "bench-key" }
  rules:
    - events: [run.failed]
      channels: [hook]
`);
    const total = { plain: 0, alerting: 0 };
    const ratios: number[] = [];
    let non2xx = 0;
    for (const target of [plain, alerting]) await autocannon({ ...target, connections: 2, duration: 1 });
    const loadBefore = loadavg()[0]!.toFixed(1);
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which goes first, so a drift in the machine's load lands on both
      const order = round % 2 === 0 ? (["plain", "alerting"] as const) : (["alerting", "plain"] as const);
      const got = { plain: 0, alerting: 0 };
      for (const which of order) {
        const r = await autocannon({
          ...(which === "plain" ? plain : alerting),
          connections: CONNECTIONS,
          duration: ROUND_S,
        });
        got[which] = r.requests.total;
        total[which] += r.requests.total;
        non2xx += r.non2xx;
      }
      ratios.push(got.alerting / Math.max(1, got.plain));
    }
    ratios.sort((a, b) => a - b);
    const seconds = ROUNDS * ROUND_S;
    const without = total.plain / seconds;
    const withRule = total.alerting / seconds;
    // the median of the paired rounds' ratios: one round hit by a burst of load elsewhere does not decide it
    const slower = (1 - ratios[Math.floor(ROUNDS / 2)]!) * 100;
    const spread = `paired ratios ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}`;
    const note = `${ROUNDS} alternating rounds of ${ROUND_S} s, ${CONNECTIONS} connections; ${non2xx} non-2xx; load average before ${loadBefore}`;
    return [
      { group: "alerts", name: "GET /config without alerts", value: without, unit: "req/s", note },
      {
        group: "alerts",
        name: "GET /config with one non-matching alert rule",
        value: withRule,
        unit: "req/s",
        note: `${slower >= 0 ? `${slower.toFixed(1)} % slower` : `${(-slower).toFixed(1)} % faster`} than without (median of paired rounds)`,
      },
      {
        group: "alerts",
        name: "alerting overhead on GET /config",
        value: Math.max(0, slower),
        unit: "x",
        target: "< 5 %",
        ok: slower < 5 && non2xx === 0,
        note: `percent, median of the paired rounds (${spread}; negative shown as 0)`,
      },
    ];
  } finally {
    await Promise.all(serves.map((s) => s.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

async function _metricsScrape(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-metrics-"));
  const metrics = createMetrics();
  const detach = metrics.attach();
  const server = await startMetricsServer({ metrics });
  try {
    // a month of activity of 500 sites: every step succeeded, model calls on two models (as measured in issue 21)
    for (let i = 0; i < SITES; i++) {
      const site = `site-${String(i).padStart(3, "0")}`;
      for (const step of ["export", "generate", "enrich", "deploy"]) {
        publishActivity({
          kind: "pipeline",
          event: {
            type: "step-finished",
            time: new Date().toISOString(),
            runId: `r${i}`,
            site,
            step,
            status: "succeeded",
            durationMs: 1000 + i,
            counts: { uploaded: 3, downloaded: 5, generated: 2 },
            bytes: 4096,
            costUsd: 0.01,
            plan: [],
          } as { type: string },
        });
      }
      for (const model of ["gpt-4o-mini", "claude-haiku"]) {
        publishActivity({
          kind: "llm.call",
          provider: model.startsWith("gpt") ? "openai" : "anthropic",
          model,
          site,
          inputTokens: 1000,
          outputTokens: 500,
          costUsd: 0.01,
          ok: true,
        });
      }
    }
    const bytes = Buffer.byteLength(await metrics.text());
    const samples: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const start = performance.now();
      await (await fetch(server.url)).text();
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(SCRAPES / 2)]!;
    const p90 = samples[Math.floor(SCRAPES * 0.9)]!;
    // the reference: Prometheus's own timing of the same scrape
    let reference = "";
    let prom: TestPrometheus | undefined;
    try {
      prom = await startPrometheus(
        join(dir, "prometheus"),
        { siteloom: [server.url.replace(/^http:\/\//, "").replace(/\/metrics$/, "")] },
        { intervalMs: 1000 },
      );
      // five scrapes in (or 30 s): the first one waits for Prometheus's start and its per-target offset
      for (let waited = 0; waited < 30_000; waited += 500) {
        const [count] = await prom.query("count_over_time(scrape_duration_seconds[1m])");
        if ((count?.value ?? 0) >= 5) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const [avg] = await prom.query("avg_over_time(scrape_duration_seconds[1m])");
      const [max] = await prom.query("max_over_time(scrape_duration_seconds[1m])");
      const [scraped] = await prom.query("scrape_samples_scraped");
      reference = avg
        ? `Prometheus scrape_duration_seconds avg ${(avg.value * 1000).toFixed(1)} ms, max ${((max?.value ?? 0) * 1000).toFixed(1)} ms, ${scraped?.value ?? "?"} samples`
        : "Prometheus scraped nothing";
    } catch (error) {
      reference = `Prometheus not available: ${(error as Error).message.split("\n")[0]}`;
    } finally {
      await prom?.stop();
    }
    return [
      {
        group: "metrics",
        name: `GET /metrics with ${SITES} sites × 4 steps (median of ${SCRAPES})`,
        value: median,
        unit: "ms",
        target: "< 50 ms",
        ok: median < 50,
        note: `p90 ${p90.toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KB of text; ${reference}`,
      },
    ];
  } finally {
    detach();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
