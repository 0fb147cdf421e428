// The container image: its size and the cold start of the API container to healthy (`GET /health` 200 from the
// host), the image built by scripts/container-image.sh (local Debian base, no registry). Reference: the same
// `siteloom serve` started as a plain process on this machine, to /health 200.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { buildTestImage, podman } from "../test/containers/support/podman.ts";
import { BIN } from "../test/support/cli.ts";
import { freePort } from "../test/support/servers/common.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const exec = promisify(execFile);
const RUNS = 3;

const suite: BenchSuite = async () => {
  const image = await buildTestImage();
  const size = Number(await podman(["image", "inspect", "--format", "{{.Size}}", image]));
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-image-"));
  try {
    const ws = join(dir, "ws");
    await exec(process.execPath, [BIN, "init", ws, "--example"]);
    await exec("chown", ["-R", "10001:10001", ws]);
    const container: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const port = await freePort();
      const name = `siteloom-bench-${process.pid}-${i}`;
      const start = performance.now();
      await podman(["run", "-d", "--name", name, "-p", `127.0.0.1:${port}:8088`, "-v", `${ws}:/workspace`, image]);
      await _waitHealth(`http://127.0.0.1:${port}/health`);
      container.push(performance.now() - start);
      await podman(["rm", "-f", name]);
      const plainPort = await freePort();
      const t0 = performance.now();
      const child = spawn(process.execPath, [BIN, "--workspace", ws, "serve", "--port", String(plainPort)], {
        stdio: "ignore",
      });
      await _waitHealth(`http://127.0.0.1:${plainPort}/health`);
      plain.push(performance.now() - t0);
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rows: BenchRow[] = [
      {
        group: "image",
        name: "image size (podman image inspect)",
        value: size / 1e6,
        unit: "MB",
        target: "< 300 MB",
        ok: size < 300e6,
        note: "local bookworm minbase + Node 20 (node:20-bookworm-slim elsewhere)",
      },
      {
        group: "image",
        name: `api container cold start to /health 200 (median of ${RUNS})`,
        value: median(container),
        unit: "ms",
        note: `podman run -d … serve; same serve as a plain process: ${median(plain).toFixed(0)} ms`,
      },
    ];
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export default suite;

// --- internal ---

async function _waitHealth(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} never answered 200`);
    await sleep(25);
  }
}
