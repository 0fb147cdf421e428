// Pipeline and state-store benchmarks: what the orchestration itself costs (run records, locks, events), and how
// the run history answers once it is long. Steps here do nothing, so only the pipeline's own overhead is measured.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defineStep, runPipeline } from "../src/pipeline/index.ts";
import { acquireLock, createSqliteStore, type NewRun } from "../src/store/index.ts";
import { loadWorkspace } from "../src/workspace/index.ts";
import { type BenchRow, type BenchSuite, timeMs } from "./support.ts";

const SITES = 50;
const HISTORY = 5000;

const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-pipeline-"));
  try {
    await writeFile(join(dir, "siteloom.yaml"), "llm:\n  provider: offline\n");
    const names = Array.from({ length: SITES }, (_, i) => `site${String(i).padStart(3, "0")}`);
    for (const name of names) {
      await mkdir(join(dir, "sites", name), { recursive: true });
      await writeFile(join(dir, "sites", name, "site.yaml"), `domain: ${name}.example.com\n`);
    }
    const workspace = await loadWorkspace({ workspace: dir, vars: {} });
    const registry = ["export", "generate", "enrich", "deploy"].map((name) =>
      defineStep({
        name,
        description: "no-op",
        async run(ctx) {
          ctx.progress({ done: 1, total: 1 });
          return { counts: { items: 1 } };
        },
      }),
    );
    const store = createSqliteStore({ path: join(dir, ".siteloom", "state.db") });
    let events = 0;
    const run = () =>
      runPipeline({ workspace, sites: names, registry, store, concurrency: 8, onEvent: () => events++ });
    await run(); // warm-up
    const cpuBefore = process.cpuUsage();
    const whole = await timeMs(run, 5);
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000 / 5;

    const lock = await timeMs(async () => {
      for (let i = 0; i < 100; i++) {
        const held = await acquireLock({ store, name: "site:bench", owner: `o${i}`, subject: "site bench" });
        await held.release();
      }
    }, 5);

    // a long history: HISTORY runs of 2 sites × 4 steps each
    const history = createSqliteStore({ path: join(dir, "history.db") });
    for (let i = 0; i < HISTORY; i++) {
      const record = await history.createRun(_run(i));
      for (const site of record.sites) {
        for (const [position, step] of record.steps.entries()) {
          await history.saveStep(record.id, site, step, { position, status: "succeeded", counts: { n: i } });
        }
      }
    }
    const list = await timeMs(() => history.listRuns({ limit: 20 }), 21);
    const bySite = await timeMs(() => history.listRuns({ site: "s7", limit: 20 }), 21);
    await history.close();
    await store.close();

    const perSiteStep = whole / (SITES * registry.length);
    const load = `load average ${loadavg()[0]?.toFixed(1)}`;
    return [
      {
        group: "pipeline",
        name: `run ${SITES} sites × 4 no-op steps (concurrency 8)`,
        value: whole,
        unit: "ms",
        note: `${perSiteStep.toFixed(2)} ms per site-step: run + step records, lock, events (median of 5); CPU ${cpuMs.toFixed(0)} ms/run; ${load}`,
      },
      {
        group: "pipeline",
        name: "acquire + release a site lock",
        value: lock / 100,
        unit: "ms",
        note: "SQLite IMMEDIATE transaction + delete, on disk (WAL); median of 5 × 100",
      },
      {
        group: "store",
        name: `siteloom runs (last 20 of ${HISTORY} runs)`,
        value: list,
        unit: "ms",
        target: "< 50 ms",
        ok: list < 50,
        note: `listRuns({ limit: 20 }), median of 21; ${load}`,
      },
      {
        group: "store",
        name: `siteloom runs --site S (of ${HISTORY} runs)`,
        value: bySite,
        unit: "ms",
        target: "< 50 ms",
        ok: bySite < 50,
        note: "listRuns({ site, limit: 20 }) through the run_steps (site, run_id) index, median of 21",
      },
    ] satisfies BenchRow[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export default suite;

// --- internal ---

function _run(i: number): NewRun {
  return {
    env: "production",
    sites: [`s${i % 10}`, `s${(i + 1) % 10}`],
    steps: ["export", "generate", "enrich", "deploy"],
    dryRun: false,
    started: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    actor: "bench@host",
    host: "host",
    pid: 1,
    options: {},
  };
}
