import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, stopChild } from "./servers/common.ts";

/** Debian's Prometheus (scripts/setup-alerts.sh installs it). */
export const PROMETHEUS_BIN = process.env.SITELOOM_PROMETHEUS_BIN ?? "/usr/bin/prometheus";

/** One series of an instant query's answer: its labels and its value. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface TestPrometheus {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** An instant query through the HTTP API (`/api/v1/query`). */
  query(expr: string): Promise<PromSample[]>;
  /** The scrape targets as Prometheus sees them: job, health, last error. */
  targets(): Promise<{ job: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on loopback, in `dir`, scraping each job's `host:port` every `intervalMs` (no token: the
 * targets are siteloom's loopback-only metrics ports). Resolves once its HTTP API answers.
 */
export async function startPrometheus(
  dir: string,
  jobs: Record<string, string[]>,
  options: { intervalMs?: number } = {},
): Promise<TestPrometheus> {
  const interval = `${options.intervalMs ?? 1000}ms`;
  await mkdir(join(dir, "data"), { recursive: true });
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets }],
    })),
  };
  // JSON is YAML: no YAML writer needed for the config file
  await writeFile(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = `${stderr}${d}`.slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`prometheus did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    url,
    async query(expr) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async targets() {
      const data = await api<{
        activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
      }>("/api/v1/targets");
      return data.activeTargets.map((t) => ({ job: t.labels.job ?? "", health: t.health, lastError: t.lastError }));
    },
    stop: () => stopChild(child),
  };
}
