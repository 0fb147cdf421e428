// Runtime configuration API: GET /config throughput and latency under autocannon against `siteloom serve` running
// as its own process (the load generator must not share the server's event loop), and reload latency from a file
// write to the new configuration being served. Real state store, real audit log, loopback only.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { openStateStore } from "../src/store/index.ts";
import { createToken } from "../src/tokens/index.ts";
import { bearer, SHOP_YAML, WORKSPACE_YAML, writeWorkspace } from "../test/server/support.ts";
import { BIN } from "../test/support/cli.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

// autocannon ships no types; the part used here is small
type Autocannon = (options: Record<string, unknown>) => Promise<{
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
}>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const DURATION_S = 10;
const CONNECTIONS = 10;
const RELOADS = 15;

const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-server-"));
  let child: ChildProcess | undefined;
  try {
    await writeWorkspace(dir);
    // a limit far above what the benchmark sends: the row measures serving, not the limiter's 429s
    await writeFile(join(dir, "siteloom.yaml"), `${WORKSPACE_YAML}server:\n  rateLimit: 100000000\n`);
    const store = openStateStore({ stateDir: join(dir, ".siteloom") });
    const { token } = await createToken(store, { name: "bench", role: "viewer" });
    await store.close();
    child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json", "--quiet"], {
      cwd: dir,
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, ".config"), SITELOOM_WORKSPACE: dir },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await _url(child);
    const rows: BenchRow[] = [];

    await autocannon({ url: `${url}/config?site=shop`, headers: bearer(token), connections: 2, duration: 1 });
    // the machine is shared: the figure only means something next to how busy it was
    const loadBefore = loadavg()[0]!.toFixed(1);
    const load = await autocannon({
      url: `${url}/config?site=shop`,
      headers: bearer(token),
      connections: CONNECTIONS,
      duration: DURATION_S,
    });
    rows.push({
      group: "server",
      name: `GET /config (valid token, audited), ${CONNECTIONS} connections`,
      value: load.requests.average,
      unit: "req/s",
      target: ">= 5000 req/s",
      ok: load.requests.average >= 5000 && load.non2xx === 0,
      note: `${load.requests.total} requests, ${load.non2xx} non-2xx, ${load.errors} errors; load average before ${loadBefore}`,
    });
    rows.push({
      group: "server",
      name: "GET /config p99 latency",
      value: load.latency.p99,
      unit: "ms",
      target: "< 20 ms",
      ok: load.latency.p99 < 20,
      note: `p50 ${load.latency.p50} ms`,
    });

    const samples: number[] = [];
    const siteFile = join(dir, "sites", "shop", "site.yaml");
    for (let i = 0; i < RELOADS; i++) {
      const tone = `bench-${i}`;
      const start = performance.now();
      await writeFile(siteFile, `${SHOP_YAML}  tone: ${tone}\n`);
      for (;;) {
        const r = await fetch(`${url}/config?site=shop`, { headers: bearer(token) });
        const body = (await r.json()) as { config: { content: { tone?: string } } };
        if (body.config.content.tone === tone) break;
        if (performance.now() - start > 5_000) throw new Error("reload not seen within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      samples.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)]!;
    rows.push({
      group: "server",
      name: `reload latency, file write → new config served (median of ${RELOADS})`,
      value: median,
      unit: "ms",
      target: "< 100 ms",
      ok: median < 100,
      note: `min ${samples[0]!.toFixed(1)} ms, max ${samples.at(-1)!.toFixed(1)} ms, includes the 30 ms debounce`,
    });
    const audit = await readFile(join(dir, ".siteloom", "audit.log"), "utf8");
    rows.push({
      group: "server",
      name: "audit lines written for the load (reads coalesced per second)",
      value: audit.split("\n").filter(Boolean).length,
      unit: "x",
      note: "every request is counted in some line's count",
    });
    return rows;
  } finally {
    child?.kill("SIGTERM");
    await new Promise((resolve) => (child ? child.once("exit", resolve) : resolve(undefined)));
    await rm(dir, { recursive: true, force: true });
  }
};

export default suite;

// --- internal ---

function _url(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("siteloom serve did not start within 60 s")), 60_000);
    child.stdout?.on("data", (d) => {
      out += d;
      const match = /"url": "([^"]+)"/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`siteloom serve exited with ${code}`)));
  });
}
