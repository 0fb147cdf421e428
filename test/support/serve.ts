import { type ChildProcess, spawn } from "node:child_process";
import { BIN } from "./cli.ts";

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts the built `siteloom serve --port 0 --json` in `dir` as its own process and waits for the first stdout line
 * (the JSON document with the URL it listens on).
 */
export async function startServe(dir: string, env: Record<string, string | undefined> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json"], {
    cwd: dir,
    env: { ...process.env, SITELOOM_WORKSPACE: undefined, HOME: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
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
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
