import { type ChildProcess, spawn } from "node:child_process";
import { BIN } from "./cli.ts";

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then wait for the exit; resolves to its exit code (`null` when a signal ended it). */
  stop(): Promise<number | null>;
}

/**
 * Starts the built `siteloom serve --port 0 --json [args]` in `dir` as its own process and waits for the first stdout line
 * (the JSON document with the URL it listens on).
 */
export async function startServe(
  dir: string,
  env: Record<string, string | undefined> = {},
  args: string[] = [],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json", ...args], {
    cwd: dir,
    env: { ...process.env, SITELOOM_WORKSPACE: undefined, HOME: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    // a generous limit: on a loaded machine, loading the CLI alone can take many seconds
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 120_000);
    child.stdout!.on("data", (d) => {
      stdout += d;
      const newline = stdout.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        resolve((JSON.parse(stdout.slice(0, newline)) as { url: string }).url);
      }
    });
    child.on("exit", () => reject(new Error(`serve exited: ${stderr}`)));
  });
  return {
    child,
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
