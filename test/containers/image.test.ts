import { execFile } from "node:child_process";
import { chown, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";
import { freePort } from "../support/servers/common.ts";
import { buildTestImage, CONTAINER_CACHE, podman, waitHealthy } from "./support/podman.ts";

// Building the image is minutes of npm and a C build on a busy machine (scripts/test.sh starts it early).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 900_000 });

const exec = promisify(execFile);
/** The image's user (Dockerfile: useradd --uid 10001). */
const UID = 10001;

describe("containers: the image", () => {
  let image: string;
  const started: string[] = [];
  beforeAll(async () => {
    image = await buildTestImage();
  });
  afterAll(async () => {
    for (const name of started) await podman(["rm", "-f", name]).catch(() => undefined);
  });

  it("runs siteloom as a non-root user under tini, with a HEALTHCHECK, and is under 300 MB", async () => {
    const [inspected] = JSON.parse(await podman(["image", "inspect", image])) as {
      Size: number;
      Config: { User: string; Entrypoint: string[]; Cmd: string[] };
    }[];
    expect(inspected!.Config.User).toBe("siteloom:siteloom");
    expect(inspected!.Config.Entrypoint.slice(0, 2)).toEqual(["/usr/bin/tini", "--"]);
    expect(inspected!.Config.Cmd).toEqual(["serve"]);
    // kept by --format docker (the OCI format has no HEALTHCHECK); not part of inspect's JSON, only of its template
    const health = JSON.parse(await podman(["image", "inspect", "--format", "{{json .HealthCheck}}", image]));
    expect(health.Test).toEqual(["CMD", "node", "/opt/siteloom/deploy/healthcheck.mjs"]);
    expect(inspected!.Size).toBeLessThan(300 * 1000 * 1000);
    expect(await podman(["run", "--rm", "--entrypoint", "id", image, "-u"])).toBe(String(UID));
    // the two mount points, the workspace and the data folder (SITELOOM_DATA_DIR=/data), belong to that user: a fresh
    // named volume mounted at /data takes this owner
    expect(await podman(["run", "--rm", "--entrypoint", "stat", image, "-c", "%n %u", "/workspace", "/data"])).toBe(
      `/workspace ${UID}\n/data ${UID}`,
    );
    // the binary answers through the entrypoint
    expect(await podman(["run", "--rm", image, "--version"])).toMatch(/^\d+\.\d+\.\d+/);
    // production dependencies only, no native build tree
    const listing = await podman([
      "run",
      "--rm",
      "--entrypoint",
      "sh",
      image,
      "-c",
      "ls /opt/siteloom/node_modules/vitest /opt/siteloom/node_modules/better-sqlite3/deps 2>&1; ls /opt/siteloom/node_modules/better-sqlite3/build/Release",
    ]);
    expect(listing).toMatch(/vitest': No such file/);
    expect(listing).toMatch(/deps': No such file/);
    expect(listing.trim().split("\n").at(-1)).toBe("better_sqlite3.node");
  });

  it("holds none of the build's canary credentials in any layer (.env, .siteloom/, a secrets file, the CA bundle)", async () => {
    const canaries = (await readFile(join(CONTAINER_CACHE, "canaries.txt"), "utf8")).trim().split("\n");
    expect(canaries.length).toBe(4);
    const dir = await useTempDir("siteloom-image-layers-");
    await podman(["save", "--format", "docker-archive", "-o", join(dir, "image.tar"), image], { timeoutMs: 300_000 });
    await exec("tar", ["-C", dir, "-xf", join(dir, "image.tar")]);
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as { Layers: string[] }[];
    const layers = manifest[0]!.Layers;
    expect(layers.length).toBeGreaterThan(5);
    let scanned = 0;
    for (const layer of layers) {
      // docker-archive layers are plain tars: file contents appear as they are
      const bytes = await readFile(join(dir, layer));
      scanned += bytes.length;
      for (const canary of canaries) expect(bytes.includes(canary), `${canary} in ${layer}`).toBe(false);
      expect(bytes.includes("ca_bundle"), `the CA bundle's name in ${layer}`).toBe(false);
    }
    // the scan read the layers themselves (node, node_modules): tens of megabytes, not an empty listing
    expect(scanned).toBeGreaterThan(100 * 1000 * 1000);
    expect((await readdir(dir)).length).toBeGreaterThan(2);
  });

  it("serve: healthy by podman healthcheck run, /health 200 from the host, exits 0 on SIGTERM (podman stop)", async () => {
    const dir = await useTempDir("siteloom-image-ws-");
    const ws = join(dir, "ws");
    const init = await runCli(["init", ws, "--example"]);
    expect(init.code, init.stderr).toBe(0);
    await exec("chown", ["-R", `${UID}:${UID}`, ws]);
    await chown(dir, UID, UID);
    const port = await freePort();
    const name = `siteloom-test-serve-${process.pid}`;
    started.push(name);
    await podman(["run", "-d", "--name", name, "-p", `127.0.0.1:${port}:8088`, "-v", `${ws}:/workspace`, image]);
    await waitHealthy(name);
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe("ok");
    // the state the server wrote belongs to the image's user
    expect((await stat(join(ws, ".siteloom"))).uid).toBe(UID);
    // tini forwards SIGTERM and siteloom stops by itself: 0, not the 137 of podman's SIGKILL after 30 s
    await podman(["stop", "-t", "30", name], { timeoutMs: 60_000 });
    expect(await podman(["inspect", "--format", "{{.State.ExitCode}}", name])).toBe("0");
  });
});
