import { spawn } from "node:child_process";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

/** The built CLI; SITELOOM_TEST_BIN points at another build (each developer may build into its own dist-<name>/). */
export const BIN = process.env.SITELOOM_TEST_BIN
  ? resolvePath(process.env.SITELOOM_TEST_BIN)
  : fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  cwd?: string;
  /** Extra variables; SITELOOM_* and NO_COLOR from the test runner's environment are not inherited. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  timeoutMs?: number;
  /** Run as this user and group (the test runner must be root), e.g. to meet a folder it may not write. */
  user?: { uid: number; gid: number };
}

/** Spawns the built `siteloom` binary and collects its output and exit code. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("SITELOOM_") && key !== "NO_COLOR" && key !== "FORCE_COLOR") env[key] = value;
  }
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: env as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
      ...options.user,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A fresh temporary directory, removed after the current test. */
export async function useTempDir(prefix = "siteloom-test-"): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Replaces absolute temporary paths in output so snapshots are stable. */
export function transformPaths(text: string, dir: string): string {
  return text.split(dir).join("<dir>");
}
