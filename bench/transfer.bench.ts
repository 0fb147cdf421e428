// Transfer benchmark: siteloom deploy/export side by side with `lftp mirror` and `rclone sync` against vsftpd on
// loopback, without latency (CPU cost) and with 50 ms round-trip time from ../shared/tools/netdelay (the whole round
// runs inside the namespace). Needs root, scripts/setup-test-servers.sh and scripts/bench-tools.sh.
//
// Sizes are configurable: SITELOOM_BENCH_FILES (2000), SITELOOM_BENCH_MB (50), SITELOOM_BENCH_RTT ("0,50"),
// SITELOOM_BENCH_PARALLEL ("8,16"), SITELOOM_BENCH_TOOLS ("siteloom,lftp,rclone"), SITELOOM_NETDELAY (path).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow, BenchSuite } from "./support.ts";

interface WorkerResult {
  tool: string;
  scenario: "full deploy" | "no-op deploy" | "1% change" | "full export";
  seconds: number;
  ok: boolean;
  error?: string;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WORKER = fileURLToPath(new URL("./transfer-worker.ts", import.meta.url));
const NETDELAY = process.env.SITELOOM_NETDELAY ?? resolve(ROOT, "../shared/tools/netdelay/netdelay");
const TARGETS: Partial<
  Record<WorkerResult["scenario"], { text: string; check: (s: number, lftp?: number) => boolean }>
> = {
  "full deploy": { text: "≥ 1.5× faster than lftp", check: (s, l) => l !== undefined && l / s >= 1.5 },
  "no-op deploy": { text: "< 1 s", check: (s) => s < 1 },
  "1% change": { text: "< 3 s", check: (s) => s < 3 },
};

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  const rtts = (process.env.SITELOOM_BENCH_RTT ?? "0,50").split(",").map(Number);
  for (const rtt of rtts) {
    let results: WorkerResult[];
    try {
      results = rtt > 0 ? await _inNamespace(rtt) : await _worker([]);
    } catch (error) {
      rows.push({ group: "transfer", name: `rtt ${rtt} ms: FAILED`, value: 0, unit: "s", note: String(error) });
      continue;
    }
    const lftp = new Map(results.filter((r) => r.tool.startsWith("lftp") && r.ok).map((r) => [r.scenario, r.seconds]));
    for (const r of results) {
      const target = r.tool.startsWith("siteloom") ? TARGETS[r.scenario] : undefined;
      const ref = lftp.get(r.scenario);
      const ratio = ref !== undefined && r.seconds > 0 ? ` (lftp/this ${(ref / r.seconds).toFixed(2)}×)` : "";
      rows.push({
        group: "transfer",
        name: `${r.scenario}, ${r.tool}, rtt ${rtt} ms`,
        value: r.seconds,
        unit: "s",
        ...(target ? { target: target.text, ok: r.ok && target.check(r.seconds, ref) } : {}),
        note: r.ok ? `${ratio.trim()}` : `FAILED: ${r.error ?? ""}`.slice(0, 200),
      });
    }
  }
  return rows;
};
export default suite;

// --- internal ---

/** Runs the worker inside a fresh netdelay namespace; the namespace is always taken down. */
async function _inNamespace(rtt: number): Promise<WorkerResult[]> {
  if (!existsSync(NETDELAY)) throw new Error(`netdelay not found at ${NETDELAY} (set SITELOOM_NETDELAY)`);
  const name = `slbench${process.pid}`;
  await _run(NETDELAY, ["up", name, "--rtt", String(rtt)]);
  try {
    return await _worker([NETDELAY, "exec", name]);
  } finally {
    await _run(NETDELAY, ["down", name]).catch(() => {});
  }
}

async function _worker(prefix: string[]): Promise<WorkerResult[]> {
  const command = [...prefix, process.execPath, "--import", "tsx", WORKER];
  const out = await _run(command[0]!, command.slice(1), true);
  const last = out.trim().split("\n").at(-1) ?? "";
  return (JSON.parse(last) as { results: WorkerResult[] }).results;
}

function _run(command: string, args: string[], showProgress = false): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
      if (showProgress) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolvePromise(out)
        : reject(new Error(`${command} ${args[0]} exited ${code}: ${err.trim().slice(-300)}`)),
    );
  });
}
