// Transfer benchmark: siteloom deploy/export side by side with `lftp mirror` and `rclone sync` against vsftpd (FTP)
// and OpenSSH (SFTP) on loopback, without latency (CPU cost) and with 50 ms round-trip time from
// ../shared/tools/netdelay (the whole round runs inside the namespace). Wall clock and CPU seconds per row; ratios
// against lftp and rclone of the same protocol and scenario in the same run. Needs root,
// scripts/setup-test-servers.sh and scripts/bench-tools.sh.
//
// Sizes are configurable: SITELOOM_BENCH_FILES (2000), SITELOOM_BENCH_MB (50), SITELOOM_BENCH_RTT ("0,50"),
// SITELOOM_BENCH_PARALLEL ("8,16"), SITELOOM_BENCH_TOOLS ("siteloom,lftp,rclone"), SITELOOM_BENCH_PROTOCOLS
// ("ftp,sftp"), SITELOOM_BENCH_SCENARIOS ("deploy,export,10k": which rows), SITELOOM_BENCH_BIG_FILES (10000; the no-op of a big site, 0 skips it), SITELOOM_NETDELAY (path).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow, BenchSuite } from "./support.ts";

interface WorkerResult {
  tool: string;
  protocol: "ftp" | "sftp";
  scenario: "full deploy" | "no-op deploy" | "1% change" | "full export" | "no-op export" | "full 10k" | "no-op 10k";
  seconds: number;
  cpuSeconds?: number;
  ok: boolean;
  error?: string;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WORKER = fileURLToPath(new URL("./transfer-worker.ts", import.meta.url));
// ../shared beside the clone, or beside the folder of worktrees (/work/wt/NAME → /work/shared)
const NETDELAY =
  process.env.SITELOOM_NETDELAY ??
  ["../shared", "../../shared"]
    .map((dir) => resolve(ROOT, dir, "tools/netdelay/netdelay"))
    .find((path) => existsSync(path)) ??
  resolve(ROOT, "../shared/tools/netdelay/netdelay");
/** The issue's targets for siteloom rows (`best`: the faster of lftp and rclone in the same run). */
const TARGETS: Partial<
  Record<WorkerResult["scenario"], { text: string; check: (s: number, lftp?: number, best?: number) => boolean }>
> = {
  "full deploy": { text: "≥ 1.5× the faster of lftp/rclone", check: (s, _l, b) => b !== undefined && b / s >= 1.5 },
  "no-op deploy": { text: "< 1 s", check: (s) => s < 1 },
  "1% change": { text: "< 2 s", check: (s) => s < 2 },
  "full export": { text: "≥ 2× lftp", check: (s, l) => l !== undefined && l / s >= 2 },
  "no-op export": { text: "< 2 s", check: (s) => s < 2 },
  "no-op 10k": { text: "< 1 s", check: (s) => s < 1 },
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
    const reference = (tool: string, r: WorkerResult) =>
      results.find((x) => x.tool.startsWith(tool) && x.ok && x.protocol === r.protocol && x.scenario === r.scenario);
    for (const r of results) {
      // SFTP's only target is the full deploy's (the no-op and 1 % targets are FTP's, with its cheaper login)
      const target =
        r.tool.startsWith("siteloom") && (r.protocol === "ftp" || r.scenario === "full deploy")
          ? TARGETS[r.scenario]
          : undefined;
      const lftp = reference("lftp", r);
      const rclone = reference("rclone", r);
      const best = Math.min(lftp?.seconds ?? Number.POSITIVE_INFINITY, rclone?.seconds ?? Number.POSITIVE_INFINITY);
      const ratios = r.tool.startsWith("siteloom")
        ? [lftp, rclone]
            .filter((x) => x !== undefined && r.seconds > 0)
            .map((x) => `${x!.tool.split(" ")[0]}/this ${(x!.seconds / r.seconds).toFixed(2)}×`)
        : [];
      const cpu =
        r.cpuSeconds === undefined
          ? []
          : [`cpu ${r.cpuSeconds.toFixed(2)} s${r.scenario.startsWith("full") ? ` (${_perFile(r)} ms/file)` : ""}`];
      rows.push({
        group: "transfer",
        name: `${r.protocol} ${r.scenario}, ${r.tool}, rtt ${rtt} ms`,
        value: r.seconds,
        unit: "s",
        ...(target
          ? {
              target: target.text,
              ok: r.ok && target.check(r.seconds, lftp?.seconds, Number.isFinite(best) ? best : undefined),
            }
          : {}),
        note: r.ok ? [...cpu, ...ratios].join(", ") : `FAILED: ${r.error ?? ""}`.slice(0, 200),
      });
    }
  }
  return rows;
};
export default suite;

// --- internal ---

/** CPU milliseconds per file of a full deploy or export (the files of the generated site). */
function _perFile(r: WorkerResult): string {
  const files = r.scenario === "full 10k" ? Number(process.env.SITELOOM_BENCH_BIG_FILES ?? 10_000) : FILES;
  return (((r.cpuSeconds ?? 0) * 1000) / files).toFixed(2);
}
const FILES = Number(process.env.SITELOOM_BENCH_FILES ?? 2000) + 2;

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
