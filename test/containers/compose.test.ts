import { execFile } from "node:child_process";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { randomPassword } from "../support/servers/common.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";
import { buildTestImage, PODMAN_ENV, podman, waitHealthy } from "./support/podman.ts";

// deploy/compose.yaml run by Debian's podman-compose with the test image: PostgreSQL 15 in a container, 2 API
// containers, 3 workers; vsftpd and the LLM wire server on the host's own address (containers on the Compose bridge
// network cannot reach the host's loopback).
vi.setConfig({ testTimeout: 600_000, hookTimeout: 900_000 });

const exec = promisify(execFile);
const COMPOSE_FILE = fileURLToPath(new URL("../../deploy/compose.yaml", import.meta.url));
const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));
const UID = 10001;
const PROJECT = `siteloomtest${process.pid}`;

describe("containers: deploy/compose.yaml on podman-compose", () => {
  let image: string;
  let ftp: TestServer;
  let llm: LlmServer;
  let dir: string;
  let composeEnv: NodeJS.ProcessEnv;
  let override: string;
  let host: string;
  beforeAll(async () => {
    host = _hostAddress();
    [image, ftp, llm] = await Promise.all([
      buildTestImage(),
      startServer("vsftpd-ftp", { hostAddress: host }),
      startLlmServer({ latencyMs: 400, host }),
    ]);
    dir = await useTempDir("siteloom-compose-");
  });
  afterAll(async () => {
    if (composeEnv) await _compose(composeEnv, override, ["down", "-v"]).catch(() => undefined);
    await Promise.all([ftp?.stop(), llm?.close()]);
  });

  it("a run enqueued through an API container is done by a worker container, byte-identical to a run without containers; a worker stopped mid-run hands it to another", async () => {
    // the containers' workspace and secrets: files, as `secrets export --to compose` writes them
    const ws = await _workspace(dir, "stack", ftp, llm, { store: "secret://global/STORE_URL" });
    const secrets = join(dir, "secrets");
    await mkdir(secrets);
    const pgPassword = randomPassword();
    await writeFile(join(secrets, "postgres_password"), pgPassword);
    await writeFile(join(secrets, "global.STORE_URL"), `postgres://siteloom:${pgPassword}@postgres:5432/siteloom\n`);
    await writeFile(join(secrets, "example.FTP_PASSWORD"), ftp.password);
    await writeFile(join(secrets, "global.OPENAI_API_KEY"), "sk-test-stack");
    await exec("chown", ["-R", `${UID}:${UID}`, ws, secrets]);
    override = join(dir, "compose.secrets.yaml");
    await writeFile(
      override,
      [
        "services:",
        "  api: { secrets: [example.FTP_PASSWORD, global.OPENAI_API_KEY] }",
        "  worker: { secrets: [example.FTP_PASSWORD, global.OPENAI_API_KEY] }",
        "secrets:",
        `  example.FTP_PASSWORD: { file: ${join(secrets, "example.FTP_PASSWORD")} }`,
        `  global.OPENAI_API_KEY: { file: ${join(secrets, "global.OPENAI_API_KEY")} }`,
        "",
      ].join("\n"),
    );
    composeEnv = {
      ...PODMAN_ENV,
      SITELOOM_IMAGE: image,
      POSTGRES_IMAGE: process.env.SITELOOM_TEST_POSTGRES_IMAGE ?? "localhost/siteloom-postgres:test",
      SITELOOM_WORKSPACE_DIR: ws,
      SITELOOM_SECRETS_DIR: secrets,
      SITELOOM_ENV: "staging",
    };
    // podman-compose 1.0.3 starts in dependency order but does not wait for `condition: service_healthy`:
    // postgres first, healthy, then the rest
    await _compose(composeEnv, override, ["up", "-d", "postgres"]);
    await waitHealthy(`${PROJECT}_postgres_1`);
    await _compose(composeEnv, override, ["up", "-d", "--no-deps", "api", "worker"]);
    const apis = [`${PROJECT}_api_1`, `${PROJECT}_api_2`];
    const workers = [`${PROJECT}_worker_1`, `${PROJECT}_worker_2`, `${PROJECT}_worker_3`];
    await Promise.all([...apis, ...workers].map((c) => waitHealthy(c, 180_000)));
    // every siteloom container: the image's user, the workspace read-only, what runs write in the shared named
    // volume at /data (a fresh volume, owned by the image's user)
    for (const c of [...apis, ...workers]) {
      expect(await podman(["exec", c, "id", "-u"])).toBe(String(UID));
      const write = await _exec(c, ["sh", "-c", "echo x > /workspace/sites/example/probe"]);
      expect(write.code, c).not.toBe(0);
      expect(write.stderr, c).toMatch(/Read-only file system/);
      expect(await podman(["exec", c, "sh", "-c", `touch /data/probe-${c} && stat -c %u /data`])).toBe(String(UID));
    }
    expect(await podman(["exec", apis[0]!, "ls", "/data"])).toContain(`probe-${workers[2]}`);

    // siteloom doctor inside a running container of the stack: one line per check, exit 0
    for (const c of [apis[0]!, workers[0]!]) {
      const doctor = await _exec(c, ["siteloom", "doctor"]);
      expect(doctor.code, `${c}: ${doctor.stdout}${doctor.stderr}`).toBe(0);
      const lines = doctor.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^ok {3}config: \/workspace, environment staging, 1 site$/);
      expect(lines).toContainEqual(
        expect.stringMatching(/^ok {3}database: PostgreSQL .*: reachable, schema version \d+ \(migrated\)$/),
      );
      expect(lines).toContainEqual(
        expect.stringMatching(/^ok {3}secrets: store env holds all 3 secret:\/\/ references$/),
      );
      expect(lines).toContainEqual(
        expect.stringMatching(/^ok {3}queue: postgres:\/\/.*postgres:5432\/siteloom: queue \S+ ready$/),
      );
      expect(lines).toContainEqual(`ok   remote: example: ftp://${host} resolves to ${host}`);
      expect(doctor.stdout).not.toContain(pgPassword);
    }
    // and its first hard failure, exit code 1: a database nothing listens for (the container's own loopback)
    const down = await _exec(apis[0]!, ["siteloom", "doctor"], {
      SITELOOM_STORE: "postgres://siteloom:not-the-password@127.0.0.1:1/siteloom",
    });
    expect(down.code, down.stdout).toBe(1);
    expect(down.stdout).toMatch(/^FAIL database: /m);
    expect(down.stdout).not.toMatch(/^\S+ +queue:/m);
    expect(`${down.stdout}${down.stderr}`).not.toContain("not-the-password");

    const token = (
      await podman([
        "exec",
        apis[0]!,
        "node",
        "/opt/siteloom/dist/cli/main.js",
        "tokens",
        "create",
        "--name",
        "ops",
        "--role",
        "admin",
      ])
    )
      .trim()
      .split("\n")
      .pop()!;
    const port = (await podman(["port", apis[1]!, "8088"])).split(":").pop();
    // the model holds its answers until the worker that took the run is stopped, so that worker is mid-run whatever
    // the machine's speed (with 400 ms a quiet machine finished the run inside podman stop's grace period)
    llm.latencyMs = 120_000;
    const response = await fetch(`http://127.0.0.1:${port}/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ sites: ["example"] }),
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const runId = ((await response.json()) as { runs: { id: string }[] }).runs[0]!.id;

    // the queue's table, read inside the postgres container
    const sql = async (query: string) =>
      podman([
        "exec",
        "-e",
        `PGPASSWORD=${pgPassword}`,
        `${PROJECT}_postgres_1`,
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "siteloom",
        "-d",
        "siteloom",
        "-At",
        "-F",
        " ",
        "-c",
        query,
      ]);
    const run = async () => {
      const [status = "", worker = "", attempts = "0"] = (
        await sql(`SELECT status, coalesce(worker, ''), attempts FROM siteloom_queue.runs WHERE run_id = '${runId}'`)
      ).split(" ");
      return { status, worker, attempts: Number(attempts) };
    };
    // stop the worker holding the run while it generates (the LLM holds its answer): another one finishes it
    let holder = "";
    for (const deadline = Date.now() + 120_000; !holder; await sleep(200)) {
      const r = await run();
      if (r.status === "running" && r.worker) holder = r.worker;
      expect(r.status).not.toBe("succeeded");
      if (Date.now() > deadline) throw new Error(`run never started: ${JSON.stringify(r)}`);
    }
    const hostnames = await Promise.all(workers.map((w) => podman(["inspect", "--format", "{{.Config.Hostname}}", w])));
    const stopped = workers[hostnames.findIndex((h) => holder.startsWith(`${h}:`))];
    expect(stopped, `${holder} among ${hostnames.join(", ")}`).toBeDefined();
    // SIGTERM through tini: the worker hands the job back within queue.graceSeconds (1 s here) and exits 0 by
    // itself, long before podman's SIGKILL after 30 s (which would leave 137)
    await podman(["stop", "-t", "30", stopped!], { timeoutMs: 90_000 });
    llm.latencyMs = 400;
    const logs = await _logs(stopped!);
    expect(await podman(["inspect", "--format", "{{.State.ExitCode}}", stopped!]), logs).toBe("0");
    expect(logs).toMatch(/worker \S+ stopped: .*1 handed back to the queue/);
    // the read-only workspace is at the recorded configuration version: no container tries a lock on it
    for (const c of [...apis, ...workers]) expect(await _logs(c), c).not.toMatch(/EROFS|could not follow/);
    let done = await run();
    for (const deadline = Date.now() + 240_000; done.status !== "succeeded" && done.status !== "failed"; ) {
      if (Date.now() > deadline) throw new Error(`run not over: ${JSON.stringify(done)}`);
      await sleep(500);
      done = await run();
    }
    expect(done.status).toBe("succeeded");
    expect(done.attempts).toBeGreaterThan(1);
    expect(done.worker).not.toBe(holder);

    // what the containers wrote is in the named volume (the host sees it at its mount point), not in the workspace
    const data = await podman(["volume", "inspect", "--format", "{{.Mountpoint}}", `${PROJECT}_data`]);
    const deployed = withoutManifest(await tree(join(ftp.rootDir, "stack")));
    expect(deployed).toEqual(withoutManifest(await tree(join(data, "example/output"))));
    expect(await readdir(join(ws, "sites/example"))).not.toContain("output");
    expect([...deployed.keys()].filter((p) => p.startsWith("blog/")).length).toBeGreaterThan(5);

    // the reference: the same site run by the CLI on this machine, no container, SQLite, from the articles the
    // containers generated (generated text and its timestamps are the model's; every byte after them is ours). The
    // generate step skips topics whose article exists. Staging on both sides: production holds generated articles
    // back as drafts for review.
    const ref = await _workspace(dir, "ref", ftp, llm);
    await cp(join(data, "example/articles"), join(ref, "sites/example/articles"), { recursive: true });
    const asked = llm.requests.length;
    const refRun = await runCli(["--workspace", ref, "--env", "staging", "run", "example"], {
      env: {
        SITELOOM_SECRET_EXAMPLE__FTP_PASSWORD: ftp.password,
        SITELOOM_SECRET_GLOBAL__OPENAI_API_KEY: "sk-test-ref",
      },
      timeoutMs: 180_000,
    });
    expect(refRun.code, refRun.stderr).toBe(0);
    const reference = withoutManifest(await tree(join(ftp.rootDir, "ref")));
    expect([...deployed.keys()].sort()).toEqual([...reference.keys()].sort());
    for (const [path, hash] of reference) expect(deployed.get(path), path).toBe(hash);
    // and the reference run paid for no generation: every article came from the containers
    expect(llm.requests.length).toBe(asked);
  });
});

// --- internal ---

/** What a container wrote, stdout and stderr (siteloom logs on stderr), each line with its time. */
async function _logs(container: string): Promise<string> {
  const { stdout, stderr } = await exec("podman", ["logs", "-t", container], { env: PODMAN_ENV, maxBuffer: 16 << 20 });
  return `${stdout}${stderr}`;
}

/** `podman exec` that resolves on any exit code: the command's code, stdout and stderr. */
async function _exec(
  container: string,
  command: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const vars = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  try {
    const { stdout, stderr } = await exec("podman", ["exec", ...vars, container, ...command], {
      env: PODMAN_ENV,
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw error;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function _compose(env: NodeJS.ProcessEnv, override: string, args: string[]): Promise<string> {
  const { stdout } = await exec("podman-compose", ["-p", PROJECT, "-f", COMPOSE_FILE, "-f", override, ...args], {
    env,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });
  return stdout;
}

/** The machine's first non-loopback IPv4 address: what containers on a bridge network reach the host at. */
function _hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new Error("no non-loopback IPv4 address on this machine");
}

/** A workspace with the example site deployed to `/<name>` on the FTP server (a fresh copy of examples/site). */
async function _workspace(
  dir: string,
  name: string,
  ftp: TestServer,
  llm: LlmServer,
  options: { store?: string } = {},
): Promise<string> {
  const root = join(dir, name);
  const init = await runCli(["init", root, "--example"]);
  expect(init.code, init.stderr).toBe(0);
  const remoteDir = join(ftp.rootDir, name);
  await rm(remoteDir, { recursive: true, force: true });
  await cp(EXAMPLE_SITE, remoteDir, { recursive: true });
  await ftp.own(remoteDir);
  const siteFile = join(root, "sites/example/site.yaml");
  const site = parseDocument(await readFile(siteFile, "utf8"));
  site.set("remote", { ...ftp.remoteConfig, root: `/${name}`, password: "secret://example/FTP_PASSWORD" });
  site.setIn(["deploy", "parallel"], 2);
  site.setIn(["content", "minWords"], 120);
  site.setIn(["content", "maxWords"], 300);
  await writeFile(siteFile, site.toString());
  const wsFile = join(root, "siteloom.yaml");
  const doc = parseDocument(await readFile(wsFile, "utf8"));
  doc.set("llm", {
    provider: "openai",
    model: "test-model",
    baseUrl: llm.url,
    apiKey: "secret://global/OPENAI_API_KEY",
    concurrency: 1,
  });
  doc.set("secrets", { backend: "env" });
  if (options.store) {
    doc.set("store", { url: options.store });
    doc.set("queue", { leaseSeconds: 10, retryDelaySeconds: 1, graceSeconds: 1 });
  }
  await writeFile(wsFile, doc.toString());
  return root;
}
