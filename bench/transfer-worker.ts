// One round of the transfer benchmark (see transfer.bench.ts), run in its own process so that it can run inside a
// netdelay namespace: starts vsftpd and OpenSSH, generates a site, and times siteloom, lftp and rclone on the same
// scenarios, wall clock and CPU time (user + system of the tool's process and its children, measured with
// /usr/bin/time; the in-process library row with process.cpuUsage). The servers' own CPU is not counted.
// Prints one JSON line `{"results": [...]}` on stdout at the end.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DeploySchema } from "../src/config/schema.ts";
import { createRemoteConnector } from "../src/transfer/connect.ts";
import { createRemotePool, runDeploy } from "../src/transfer/index.ts";
import { startServer, type TestServer } from "../test/support/servers/index.ts";

interface Result {
  tool: string;
  protocol: "ftp" | "sftp";
  scenario: "full deploy" | "no-op deploy" | "1% change" | "full export" | "no-op export" | "full 10k" | "no-op 10k";
  seconds: number;
  /** CPU seconds (user + system) of the tool; undefined where /usr/bin/time is missing. */
  cpuSeconds?: number | undefined;
  ok: boolean;
  error?: string;
}

const FILES = Number(process.env.SITELOOM_BENCH_FILES ?? 2000);
const MEGABYTES = Number(process.env.SITELOOM_BENCH_MB ?? 50);
const PARALLEL = (process.env.SITELOOM_BENCH_PARALLEL ?? "8,16").split(",").map(Number);
const TOOLS = (process.env.SITELOOM_BENCH_TOOLS ?? "siteloom,lftp,rclone").split(",");
const TIMEOUT_MS = Number(process.env.SITELOOM_BENCH_TIMEOUT_S ?? 900) * 1000;
// the big no-op: SITELOOM_BENCH_BIG_FILES files in a fifth as many folders (0: skipped)
const BIG_FILES = Number(process.env.SITELOOM_BENCH_BIG_FILES ?? 10_000);
const PROTOCOLS = (process.env.SITELOOM_BENCH_PROTOCOLS ?? "ftp,sftp").split(",");
// which rows: "deploy" (full, no-op, 1 %), "export" (full and no-op, FTP), "10k" (the big no-op)
const SCENARIOS = (process.env.SITELOOM_BENCH_SCENARIOS ?? "deploy,export,10k").split(",");
const TIME_BIN = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = resolve(ROOT, process.env.SITELOOM_BENCH_BIN ?? process.env.SITELOOM_TEST_BIN ?? "dist/cli/main.js");

const results: Result[] = [];
/** CPU seconds of the commands run (and of the in-process deploys) since the last `_time` started. */
let cpu = 0;
/** Folders `_clearRemote` moved the server's files into so far. */
let cleared = 0;
const work = await mkdtemp(join(tmpdir(), "siteloom-bench-"));
const servers: TestServer[] = [];
let protocol: Result["protocol"] = "ftp";
try {
  const base = join(work, "site");
  await _generateSite(base, FILES, MEGABYTES * 1024 * 1024);
  for (const name of PROTOCOLS as Result["protocol"][]) {
    protocol = name;
    const server = await startServer(name === "ftp" ? "vsftpd-ftp" : "sftp");
    servers.push(server);
    const rcloneEnv = TOOLS.includes("rclone") ? await _rcloneEnv(server) : {};
    const tools: string[] = [];
    for (const p of name === "ftp" ? PARALLEL : PARALLEL.slice(0, 1)) {
      if (TOOLS.includes("siteloom")) tools.push(`siteloom p${p}`);
    }
    // the same deploy in-process, without the CLI's start-up cost (loading every command's dependencies)
    if (TOOLS.includes("siteloom") && name === "ftp") tools.push(`siteloom-lib p${PARALLEL[0]}`);
    if (TOOLS.includes("lftp")) tools.push("lftp p8");
    if (TOOLS.includes("rclone")) tools.push("rclone p8");

    for (const tool of SCENARIOS.includes("deploy") ? tools : []) {
      await _clearRemote(server);
      const dir = join(work, `${name}-${tool.replace(/\s/g, "-")}`);
      await cp(base, join(dir, "sites/bench/output"), { recursive: true });
      const run = _runner(tool, dir, server, rcloneEnv);
      await _time(tool, "full deploy", run);
      await _time(tool, "no-op deploy", run);
      await _changeOnePercent(join(dir, "sites/bench/output"));
      await _time(tool, "1% change", run);
    }
    if (name !== "ftp") continue;

    // export: mirror the deployed site down into an empty folder, then again (nothing changed)
    const exportTools = SCENARIOS.includes("export")
      ? [
          ...(TOOLS.includes("siteloom") ? PARALLEL.map((p) => `siteloom p${p}`) : []),
          ...(TOOLS.includes("lftp") ? ["lftp p8"] : []),
        ]
      : [];
    if (exportTools.length > 0 && !SCENARIOS.includes("deploy")) {
      // no deploy rows ran: the site goes onto the server as files
      await _clearRemote(server);
      await cp(base, server.rootDir, { recursive: true, preserveTimestamps: true });
    }
    for (const tool of exportTools) {
      const dir = join(work, `export-${tool.replace(/\s/g, "-")}`);
      await mkdir(join(dir, "sites/bench"), { recursive: true });
      const mirror = tool.startsWith("siteloom")
        ? () => _exec(process.execPath, [BIN, "export", "bench"], { cwd: dir, env: { ...process.env, ...server.env } })
        : () =>
            _exec("lftp", [
              "-c",
              `${_lftpOpen(server)}; mirror --parallel=8 --verbose=0 ${server.remoteConfig.root} ${join(dir, "sites/bench/export")}`,
            ]);
      if (tool.startsWith("siteloom")) await _workspace(dir, server, Number(tool.slice("siteloom p".length)));
      await _time(tool, "full export", mirror);
      await _time(tool, "no-op export", mirror);
    }

    // the big no-op: one deploy of a site of BIG_FILES small files, then a deploy with nothing changed
    if (BIG_FILES > 0 && SCENARIOS.includes("10k") && TOOLS.includes("siteloom")) {
      await _clearRemote(server);
      const dir = join(work, "big");
      await _generateSite(join(dir, "sites/bench/output"), BIG_FILES, BIG_FILES * 2000, BIG_FILES / 5);
      const tool = `siteloom p${PARALLEL.at(-1)}`;
      const run = _runner(tool, dir, server, rcloneEnv);
      await _time(tool, "full 10k", run);
      await _time(tool, "no-op 10k", run);
    }
  }
} catch (error) {
  results.push({ tool: "bench", protocol, scenario: "full deploy", seconds: 0, ok: false, error: String(error) });
} finally {
  for (const server of servers) await server.stop().catch(() => {});
  await rm(work, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ results })}\n`);

// --- internal ---

async function _time(tool: string, scenario: Result["scenario"], fn: () => Promise<unknown>): Promise<void> {
  cpu = 0;
  const start = performance.now();
  const row = { tool, protocol, scenario };
  try {
    await fn();
    const cpuSeconds = TIME_BIN || tool.startsWith("siteloom-lib") ? cpu : undefined;
    results.push({ ...row, seconds: (performance.now() - start) / 1000, cpuSeconds, ok: true });
  } catch (error) {
    results.push({ ...row, seconds: (performance.now() - start) / 1000, ok: false, error: String(error) });
  }
  const last = results.at(-1)!;
  const cpuText = last.cpuSeconds === undefined ? "" : `, cpu ${last.cpuSeconds.toFixed(2)} s`;
  process.stderr.write(`bench: ${protocol} ${tool} ${scenario}: ${last.seconds.toFixed(2)} s${cpuText}\n`);
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
      const used = process.cpuUsage();
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
        const spent = process.cpuUsage(used);
        cpu += (spent.user + spent.system) / 1e6;
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
  const backend = server.kind === "sftp" ? "sftp" : "ftp";
  return async () => {
    await _exec(
      "rclone",
      ["sync", output, `:${backend}:${server.remoteConfig.root}`, "--transfers", "8", "--checkers", "8", "-q"],
      { env: { ...process.env, ...rcloneEnv } },
    );
  };
}

async function _workspace(dir: string, server: TestServer, parallel: number): Promise<void> {
  // the password reference must be listed in the workspace's env: list
  await writeFile(
    join(dir, "siteloom.yaml"),
    `environment: development\nenv: ${JSON.stringify(Object.keys(server.env))}\n`,
  );
  await mkdir(join(dir, "sites/bench"), { recursive: true });
  await writeFile(
    join(dir, "sites/bench/site.yaml"),
    JSON.stringify({ remote: server.remoteConfig, deploy: { parallel } }, null, 2),
  );
}

function _lftpOpen(server: TestServer): string {
  const sftp = server.kind === "sftp";
  return [
    "set cmd:fail-exit yes",
    "set ftp:ssl-allow no",
    "set ftp:passive-mode on",
    "set net:max-retries 2",
    "set net:reconnect-interval-base 1",
    // a throwaway host key on loopback: not checked (siteloom pins it with remote.hostKey)
    ...(sftp
      ? ['set sftp:connect-program "ssh -a -x -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"']
      : []),
    `open -u ${server.user},${server.password} ${sftp ? "sftp" : "ftp"}://127.0.0.1:${server.port}`,
  ].join("; ");
}

async function _rcloneEnv(server: TestServer): Promise<Record<string, string>> {
  // rclone wants the password obscured; `rclone obscure` reads it from stdin when given "-"
  const obscured = (await _exec("rclone", ["obscure", "-"], { input: server.password, capture: true })).trim();
  if (server.kind === "sftp") {
    return {
      RCLONE_SFTP_HOST: "127.0.0.1",
      RCLONE_SFTP_PORT: String(server.port),
      RCLONE_SFTP_USER: server.user,
      RCLONE_SFTP_PASS: obscured,
      RCLONE_CONFIG: "/dev/null",
    };
  }
  return {
    RCLONE_FTP_HOST: "127.0.0.1",
    RCLONE_FTP_PORT: String(server.port),
    RCLONE_FTP_USER: server.user,
    RCLONE_FTP_PASS: obscured,
    RCLONE_CONFIG: "/dev/null",
  };
}

/**
 * Empties the server's root by moving its entries aside (removed with the work folder at the end), not deleting
 * them: for about a minute after thousands of deletions, ext4 makes every new file cost more kernel time (inode
 * allocation skips recently freed inodes, reading their table blocks), so the tool timed next would pay for the
 * previous one's files in the server's CPU.
 */
async function _clearRemote(server: TestServer): Promise<void> {
  const aside = join(work, `cleared-${cleared++}`);
  await mkdir(aside);
  for (const name of await readdir(server.rootDir)) await rename(join(server.rootDir, name), join(aside, name));
}

/**
 * `files` files totalling about `bytes`: pages, assets in `folders` folders (nested two deep past 40), and a few
 * large images holding most bytes.
 */
async function _generateSite(dir: string, files: number, bytes: number, folders = 40): Promise<void> {
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
    const n = i % folders;
    const folder = folders <= 40 ? `section-${n}` : `section-${n % 40}/part-${n}`;
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
  // the command under /usr/bin/time, which writes its CPU seconds (children included) to a file of its own
  const timing = TIME_BIN && !options.capture ? join(work, `time-${process.hrtime.bigint()}`) : undefined;
  const argv = timing ? [TIME_BIN as string, "-o", timing, "-f", "%U %S", command, ...args] : [command, ...args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: "pipe",
    });
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
    child.on("close", async (code) => {
      clearTimeout(timer);
      if (timing) {
        const [user, system] = (await readFile(timing, "utf8").catch(() => "0 0")).trim().split(/\s+/).map(Number);
        cpu += (user ?? 0) + (system ?? 0);
        await rm(timing, { force: true });
      }
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${command} exited ${code}: ${(err || out).trim().split("\n").slice(-3).join(" | ")}`));
    });
    child.stdin.end(options.input ?? "");
  });
}
