// Configuration benchmarks: loading and validating large workspaces (generated in a temporary folder).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadWorkspace, validateWorkspace } from "../src/workspace/index.ts";
import { type BenchRow, type BenchSuite, timeMs } from "./support.ts";

const SITES = 100;

const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-config-"));
  try {
    await _generate(dir, SITES);
    const vars = { SITELOOM_DEPLOY__RETRIES: "5" };
    const loadAll = async () => {
      const ws = await loadWorkspace({ workspace: dir, vars });
      for (const name of ws.sites) await ws.site(name);
      if (ws.sites.length !== SITES) throw new Error(`expected ${SITES} sites, got ${ws.sites.length}`);
    };
    await loadAll(); // warm-up: module loading and JIT are not what is measured
    const cpuBefore = process.cpuUsage();
    const load = await timeMs(loadAll, 7);
    const cpu = process.cpuUsage(cpuBefore);
    // CPU time per run says how fast it is on an idle machine when the shared one is busy (wall time includes waiting)
    const cpuMs = (cpu.user + cpu.system) / 1000 / 7;
    const validate = await timeMs(async () => {
      const report = await validateWorkspace({ workspace: dir, vars });
      if (report.problems.length > 0) throw new Error(`unexpected problems: ${report.problems.length}`);
    }, 5);
    const rows: BenchRow[] = [
      {
        group: "config",
        name: `load and validate a workspace of ${SITES} sites`,
        value: load,
        unit: "ms",
        target: "< 100 ms",
        ok: load < 100,
        note: `loadWorkspace + site() for every site, all layers incl. SITELOOM_* (median of 7); CPU ${cpuMs.toFixed(1)} ms/run, load average ${loadavg()[0]!.toFixed(1)}`,
      },
      {
        group: "config",
        name: `config validate: ${SITES} sites x 3 environments`,
        value: validate,
        unit: "ms",
        note: "validateWorkspace, every problem collected (median of 5)",
      },
    ];
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export default suite;

// --- internal ---

async function _generate(dir: string, count: number): Promise<void> {
  await writeFile(
    join(dir, "siteloom.yaml"),
    "deploy:\n  parallel: 4\nllm:\n  provider: offline\nenvironments:\n  production:\n    features:\n      autoPublish: true\n",
  );
  for (let i = 0; i < count; i++) {
    const name = `site-${String(i).padStart(3, "0")}`;
    await mkdir(join(dir, "sites", name), { recursive: true });
    await writeFile(
      join(dir, "sites", name, "site.yaml"),
      [
        `domain: ${name}.example.com`,
        "remote:",
        "  protocol: ftps",
        `  host: ftp.${name}.example.com`,
        `  user: ${name.replace("-", "")}`,
        `  password: secret://${name}/FTP_PASSWORD`,
        "  root: /public_html",
        "content:",
        "  language: en",
        "  minWords: 700",
        "enrich:",
        "  navLink:",
        "    enabled: true",
        "environments:",
        "  production:",
        "    deploy:",
        "      delete: true",
        "",
      ].join("\n"),
    );
  }
}
