// One round of the transfer benchmark (see transfer.bench.ts), run in its own process so that it can run inside a
// netdelay namespace: starts vsftpd, generates a site, and times siteloom, lftp and rclone on the same scenarios.
// Prints one JSON line `{"results": [...]}` on stdout at the end.
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DeploySchema } from "../src/config/schema.ts";
import { createRemoteConnector } from "../src/transfer/connect.ts";
import { createRemotePool, runDeploy } from "../src/transfer/index.ts";
import { startServer, type TestServer } from "../test/support/servers/index.ts";

interface Result {
  tool: string;
  scenario: "full deploy" | "no-op deploy" | "1% change" | "full export";
  seconds: number;
  ok: boolean;
  error?: string;
}

const FILES = Number(process.env.SITELOOM_BENCH_FILES ?? 2000);
const MEGABYTES = Number(process.env.SITELOOM_BENCH_MB ?? 50);
const PARALLEL = (process.env.SITELOOM_BENCH_PARALLEL ?? "8,16").split(",").map(Number);
const TOOLS = (process.env.SITELOOM_BENCH_TOOLS ?? "siteloom,lftp,rclone").split(",");
const TIMEOUT_MS = Number(process.env.SITELOOM_BENCH_TIMEOUT_S ?? 900) * 1000;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = resolve(ROOT, process.env.SITELOOM_BENCH_BIN ?? process.env.SITELOOM_TEST_BIN ?? "dist/cli/main.js");

const results: Result[] = [];
const work = await mkdtemp(join(tmpdir(), "siteloom-bench-"));
let server: TestServer | undefined;
try {
  server = await startServer("vsftpd-ftp");
  const base = join(work, "site");
  await _generateSite(base, FILES, MEGABYTES * 1024 * 1024);
  const rcloneEnv = TOOLS.includes("rclone") ? await _rcloneEnv(server) : {};

  const tools: string[] = [];
  for (const p of PARALLEL) if (TOOLS.includes("siteloom")) tools.push(`siteloom p${p}`);
  // the same deploy in-process, without the CLI's start-up cost (loading every command's dependencies)
  if (TOOLS.includes("siteloom")) tools.push(`siteloom-lib p${PARALLEL[0]}`);
  if (TOOLS.includes("lftp")) tools.push("lftp p8");
  if (TOOLS.includes("rclone")) tools.push("rclone p8");

  for (const tool of tools) {
    await _clearRemote(server);
    const dir = join(work, tool.replace(/\s/g, "-"));
    await cp(base, join(dir, "sites/bench/output"), { recursive: true });
    const run = _runner(tool, dir, server, rcloneEnv);
    await _time(tool, "full deploy", run);
    await _time(tool, "no-op deploy", run);
    await _changeOnePercent(join(dir, "sites/bench/output"));
    await _time(tool, "1% change", run);
  }

  // export: mirror the deployed site down into an empty folder
  const exportTools = [
    ...(TOOLS.includes("siteloom") ? [`siteloom p${PARALLEL[0]}`] : []),
    ...(TOOLS.includes("lftp") ? ["lftp p8"] : []),
  ];
  for (const tool of exportTools) {
    const dir = join(work, `export-${tool.replace(/\s/g, "-")}`);
    await mkdir(join(dir, "sites/bench"), { recursive: true });
    if (tool.startsWith("siteloom")) {
      await _workspace(dir, server, Number(tool.slice("siteloom p".length)));
      await _time(tool, "full export", () =>
        _exec(process.execPath, [BIN, "export", "bench"], { cwd: dir, env: { ...process.env, ...server!.env } }),
      );
    } else {
      await _time(tool, "full export", () =>
        _exec("lftp", [
          "-c",
          `${_lftpOpen(server!)}; mirror --parallel=8 --verbose=0 ${server!.remoteConfig.root} ${join(dir, "sites/bench/export")}`,
        ]),
      );
    }
  }
} catch (error) {
  results.push({ tool: "bench", scenario: "full deploy", seconds: 0, ok: false, error: String(error) });
} finally {
  await server?.stop().catch(() => {});
  await rm(work, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ results })}\n`);

// --- internal ---

async function _time(tool: string, scenario: Result["scenario"], fn: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  try {
    await fn();
    results.push({ tool, scenario, seconds: (performance.now() - start) / 1000, ok: true });
  } catch (error) {
    results.push({ tool, scenario, seconds: (performance.now() - start) / 1000, ok: false, error: String(error) });
  }
  process.stderr.write(`bench: ${tool} ${scenario}: ${results.at(-1)!.seconds.toFixed(2)} s\n`);
}

function _runner(
  tool: string,
  dir: string,
  server: TestServer,
  rcloneEnv: Record<string, string>,
): () => Promise<void> {
  const output = join(dir, "sites/bench/output");
  if (tool.startsWith("siteloom-lib")) {
    const parallel = Number(tool.slice("siteloom-lib p".length));
    return async () => {
      const connect = await createRemoteConnector(server.remoteConfig, (v) => server.resolve(v));
      const pool = createRemotePool({ size: parallel, connect });
      try {
        const result = await runDeploy({
          site: "bench",
          env: "bench",
          outputDir: output,
          stateDir: join(dir, ".siteloom-lib"),
          pool,
          config: DeploySchema.parse({ parallel }),
          delete: true,
        });
        if (result.failures.length > 0) throw new Error(`${result.failures.length} file(s) failed`);
      } finally {
        await pool.close();
      }
    };
  }
  if (tool.startsWith("siteloom")) {
    const parallel = Number(tool.slice("siteloom p".length));
    let ready: Promise<void> | undefined;
    return async () => {
      ready ??= _workspace(dir, server, parallel);
      await ready;
      await _exec(process.execPath, [BIN, "deploy", "bench", "--delete"], {
        cwd: dir,
        env: { ...process.env, ...server.env },
      });
    };
  }
  if (tool.startsWith("lftp")) {
    return async () => {
      await _exec("lftp", [
        "-c",
        `${_lftpOpen(server)}; mirror -R --parallel=8 --delete --verbose=0 ${output} ${server.remoteConfig.root}`,
      ]);
    };
  }
  return async () => {
    await _exec(
      "rclone",
      ["sync", output, `:ftp:${server.remoteConfig.root}`, "--transfers", "8", "--checkers", "8", "-q"],
      { env: { ...process.env, ...rcloneEnv } },
    );
  };
}

async function _workspace(dir: string, server: TestServer, parallel: number): Promise<void> {
  await writeFile(join(dir, "siteloom.yaml"), "environment: development\n");
  await mkdir(join(dir, "sites/bench"), { recursive: true });
  await writeFile(
    join(dir, "sites/bench/site.yaml"),
    JSON.stringify({ remote: server.remoteConfig, deploy: { parallel } }, null, 2),
  );
}

function _lftpOpen(server: TestServer): string {
  return [
    "set cmd:fail-exit yes",
    "set ftp:ssl-allow no",
    "set ftp:passive-mode on",
    "set net:max-retries 2",
    "set net:reconnect-interval-base 1",
    `open -u ${server.user},${server.password} ftp://127.0.0.1:${server.port}`,
  ].join("; ");
}

async function _rcloneEnv(server: TestServer): Promise<Record<string, string>> {
  // rclone wants the password obscured; `rclone obscure` reads it from stdin when given "-"
  const obscured = (await _exec("rclone", ["obscure", "-"], { input: server.password, capture: true })).trim();
  return {
    RCLONE_FTP_HOST: "127.0.0.1",
    RCLONE_FTP_PORT: String(server.port),
    RCLONE_FTP_USER: server.user,
    RCLONE_FTP_PASS: obscured,
    RCLONE_CONFIG: "/dev/null",
  };
}

async function _clearRemote(server: TestServer): Promise<void> {
  for (const name of await readdir(server.rootDir))
    await rm(join(server.rootDir, name), { recursive: true, force: true });
}

/** `files` files totalling about `bytes`: pages, assets in ~40 folders, and a few large images holding most bytes. */
async function _generateSite(dir: string, files: number, bytes: number): Promise<void> {
  const big = Math.max(1, Math.round(files / 100));
  const bigBytes = Math.floor((bytes * 0.6) / big);
  const smallBytes = Math.max(1, Math.floor((bytes * 0.4) / Math.max(1, files - big)));
  let seed = 42;
  const fill = (size: number) => {
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      buf.writeUInt32LE(seed, Math.min(i, Math.max(0, size - 4)));
    }
    return buf;
  };
  for (let i = 0; i < files; i++) {
    const folder = `section-${i % 40}`;
    const isBig = i < big;
    const ext = isBig ? "jpg" : ["html", "css", "js", "png", "html"][i % 5];
    const path = join(dir, folder, `${isBig ? "photo" : "file"}-${i}.${ext}`);
    await mkdir(join(dir, folder), { recursive: true });
    await writeFile(path, fill(isBig ? bigBytes : smallBytes + (i % 97)));
  }
  await writeFile(join(dir, "sitemap.xml"), "<urlset/>");
  await writeFile(join(dir, "robots.txt"), "User-agent: *\n");
}

/** 1 % of the files: 20 modified, 10 added, 10 deleted (for 2,000 files). */
async function _changeOnePercent(output: string): Promise<void> {
  const all: string[] = [];
  for (const folder of (await readdir(output)).sort()) {
    if (!folder.startsWith("section-")) continue;
    for (const name of (await readdir(join(output, folder))).sort()) all.push(join(output, folder, name));
  }
  const unit = Math.max(1, Math.round(all.length / 200));
  const smalls = all.filter((p) => !p.includes("photo-"));
  for (const path of smalls.slice(0, 2 * unit)) await writeFile(path, `changed ${path} ${Date.now()}\n`.repeat(50));
  for (let i = 0; i < unit; i++) await writeFile(join(output, "section-1", `added-${i}.html`), `<p>added ${i}</p>`);
  for (const path of smalls.slice(-unit)) await rm(path);
}

function _exec(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; capture?: boolean } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: "pipe" });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${command} exited ${code}: ${(err || out).trim().split("\n").slice(-3).join(" | ")}`));
    });
    child.stdin.end(options.input ?? "");
  });
}
