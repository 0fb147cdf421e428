import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// The container tests' harness: the image built by scripts/container-image.sh (a local Debian base, no registry)
// and podman run with the machine's settings (runc and the ulimits of the containers.conf the script writes).

const exec = promisify(execFile);

/** Where scripts/container-image.sh keeps its cache, containers.conf and canaries. */
export const CONTAINER_CACHE = process.env.SITELOOM_CONTAINER_CACHE ?? "/var/tmp/siteloom-containers";

const SCRIPT = fileURLToPath(new URL("../../../scripts/container-image.sh", import.meta.url));

/** Environment of every podman call: the containers.conf written by the build script. */
export const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: `${CONTAINER_CACHE}/containers.conf` };

/** Builds (or finds cached) the test image; returns its tag. */
export async function buildTestImage(): Promise<string> {
  const { stdout } = await exec("bash", [SCRIPT], { maxBuffer: 16 * 1024 * 1024, timeout: 900_000 });
  const tag = stdout.trim().split("\n").pop();
  if (!tag) throw new Error("scripts/container-image.sh printed no tag");
  return tag;
}

/** Runs podman; resolves with its trimmed stdout, rejects with its stderr on a non-zero exit. */
export async function podman(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await exec("podman", args, {
      env: PODMAN_ENV,
      maxBuffer: 64 * 1024 * 1024,
      timeout: options.timeoutMs ?? 120_000,
    });
    return stdout.trim();
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`podman ${args.join(" ")}: ${e.stderr || e.message}`);
  }
}

/** Polls `podman healthcheck run` (no systemd timer here) until the container is healthy. */
export async function waitHealthy(container: string, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await podman(["healthcheck", "run", container]);
      return Date.now() - started;
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await sleep(250);
    }
  }
}
