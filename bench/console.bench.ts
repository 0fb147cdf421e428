// Web console: first load in Chromium (script bytes over the wire, time until the Sites screen is drawn) and the
// runs page with 10,000 runs in the history (GET /runs, first and a later page), against `siteloom serve` running as
// its own process on loopback. Real state store; Debian's chromium.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { openStateStore } from "../src/store/index.ts";
import { createToken } from "../src/tokens/index.ts";
import { bearer, WORKSPACE_YAML, writeWorkspace } from "../test/server/support.ts";
import { startServe } from "../test/support/serve.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const RUNS = 10_000;
const SAMPLES = 50;
const CHROMIUM = process.env.CHROME_PATH ?? "/usr/bin/chromium";

const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-console-"));
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    await writeWorkspace(dir);
    await writeFile(join(dir, "siteloom.yaml"), `${WORKSPACE_YAML}server:\n  rateLimit: 100000000\n`);
    const store = openStateStore({ stateDir: join(dir, ".siteloom") });
    const { token } = await createToken(store, { name: "bench", role: "viewer" });
    const start = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < RUNS; i++) {
      const started = new Date(start + i * 60_000).toISOString();
      await store.createRun({
        id: `${started.slice(0, 10).replaceAll("-", "")}-${started.slice(11, 19).replaceAll(":", "")}-${(i % 65536).toString(16).padStart(4, "0")}`,
        env: "development",
        sites: [i % 2 ? "shop" : "blog"],
        steps: ["export", "generate", "enrich", "deploy"],
        dryRun: false,
        started,
        actor: "bench",
        host: "bench",
        pid: 1,
        options: {},
      });
    }
    await store.close();
    serve = await startServe(dir);
    const rows: BenchRow[] = [];
    const loadBefore = loadavg()[0]!.toFixed(1);

    const first = await _median(`${serve.url}/runs?limit=25`, token);
    const runs = (await (await fetch(`${serve.url}/runs?limit=25`, { headers: bearer(token) })).json()) as {
      runs: { id: string }[];
    };
    const later = await _median(`${serve.url}/runs?limit=25&before=${runs.runs.at(-1)!.id}`, token);
    rows.push({
      group: "console",
      name: `runs page with ${RUNS} runs (GET /runs?limit=25, median of ${SAMPLES})`,
      value: first,
      unit: "ms",
      target: "< 200 ms",
      ok: first < 200,
      note: `next page (before=id) ${later.toFixed(1)} ms; loopback round trip included; load average ${loadBefore}`,
    });

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox"] });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      // sign in once (the session cookie stays in the context), then measure a fresh load of the page
      await page.goto(serve.url);
      await page.getByLabel("API token").fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("main h1", { hasText: "Sites" }).waitFor();
      await context.clearCookies();
      await page.goto(serve.url);
      await page.getByLabel("API token").fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("main h1", { hasText: "Sites" }).waitFor();
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
      // a real load, not a same-document hash change
      await page.goto("about:blank");
      const t0 = Date.now();
      await page.goto(`${serve.url}/#/sites`);
      await page.locator("main table").waitFor();
      const ready = Date.now() - t0;
      const scripts = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .filter((e) => (e as PerformanceResourceTiming).initiatorType === "script" || e.name.endsWith(".js"))
          .reduce((sum, e) => sum + (e as PerformanceResourceTiming).encodedBodySize, 0),
      );
      const all = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .reduce((sum, e) => sum + (e as PerformanceResourceTiming).transferSize, 0),
      );
      rows.push({
        group: "console",
        name: "console first load: script bytes",
        value: Math.round(scripts / 102.4) / 10,
        unit: "KB",
        target: "< 100 KB",
        ok: scripts < 100 * 1024,
        note: `all resources after the page ${Math.round(all / 1024)} KB transferred (uncompressed, no cache)`,
      });
      rows.push({
        group: "console",
        name: "console first load: Sites screen drawn (interactive), loopback",
        value: ready,
        unit: "ms",
        target: "< 1000 ms",
        ok: ready < 1000,
        note: "navigation start to the sites table in the DOM, cache disabled, signed in",
      });
    } finally {
      await browser.close();
    }
    return rows;
  } finally {
    await serve?.stop();
    await rm(dir, { recursive: true, force: true });
  }
};

export default suite;

// --- internal ---

async function _median(url: string, token: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES + 5; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: bearer(token) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    if (i >= 5) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
