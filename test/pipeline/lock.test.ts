import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import type { PipelineEvent } from "../../src/pipeline/index.ts";
import { openStateStore } from "../../src/store/index.ts";
import { useTempDir } from "../support/cli.ts";
import { writeWorkspace } from "./fixtures/workspace.ts";

// Spawned CLIs and real servers: on a busy shared machine one test can take minutes; a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const CHILD = fileURLToPath(new URL("./fixtures/run-child.ts", import.meta.url));

interface Child {
  process: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; events: PipelineEvent[]; stderr: string }>;
}

function startRun(root: string, site: string, steps: string, waitMs = 0): Child {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, root, site, steps, String(waitMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const done = new Promise<Awaited<Child["done"]>>((resolve) => {
    child.on("close", (code, signal) => {
      const events = out
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as PipelineEvent);
      resolve({ code, signal, events, stderr: err });
    });
  });
  return { process: child, done };
}

async function waitForFile(file: string): Promise<void> {
  for (let i = 0; i < 12_000 && !existsSync(file); i++) await sleep(20);
  if (!existsSync(file)) throw new Error(`${file} never appeared`);
}

describe("pipeline: per-site locks across processes", () => {
  it("a second run of a busy site fails clearly; with a wait it runs after the first", async () => {
    const root = await useTempDir();
    await writeWorkspace(root, ["alpha"]);
    const output = join(root, "sites/alpha/output");
    const first = startRun(root, "alpha", "hold,tally");
    await waitForFile(join(output, "started"));

    const refused = await startRun(root, "alpha", "tally").done;
    expect(refused.code).toBe(7);
    const finished = refused.events.find((e) => e.type === "site-finished");
    expect(finished).toMatchObject({ status: "failed" });
    expect((finished as { error: string }).error).toMatch(
      /^site alpha is being run by run \d{8}-\d{6}-[0-9a-f]{4} \(pid \d+ on .+, since .+\); wait for it to finish, or rerun with --wait <seconds>$/,
    );
    expect(existsSync(join(output, "log.txt"))).toBe(false);

    const waiting = startRun(root, "alpha", "tally", 60_000);
    // It announces that it waits, then runs once the first run releases the lock.
    let announced = false;
    waiting.process.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes('"lock-waiting"')) announced = true;
    });
    for (let i = 0; i < 12_000 && !announced; i++) await sleep(20);
    expect(announced).toBe(true);
    await writeFile(join(output, "release"), "");
    const [a, b] = await Promise.all([first.done, waiting.done]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const runIds = [a, b].map((r) => (r.events[0] as { runId: string }).runId);
    // both tallies ran, the waiting one second, one after the other
    expect(await readFile(join(output, "log.txt"), "utf8")).toBe(`${runIds[0]}\n${runIds[1]}\n`);
  });

  it("the lock of a SIGKILLed run is taken over with a message, and that run is recorded as interrupted", async () => {
    const root = await useTempDir();
    await writeWorkspace(root, ["alpha"]);
    const output = join(root, "sites/alpha/output");
    const victim = startRun(root, "alpha", "hold,copy");
    await waitForFile(join(output, "started"));
    victim.process.kill("SIGKILL");
    const killed = await victim.done;
    expect(killed.signal).toBe("SIGKILL");
    const victimRun = (killed.events[0] as { runId: string }).runId;

    const next = await startRun(root, "alpha", "copy").done;
    expect(next.code).toBe(0);
    const takeover = next.events.find((e) => e.type === "lock-takeover");
    expect(takeover).toMatchObject({ previous: { owner: victimRun } });
    expect((takeover as { message: string }).message).toMatch(
      new RegExp(`^site alpha: run ${victimRun} \\(pid \\d+ on .+\\) is no longer running; took over its lock$`),
    );
    expect(await readFile(join(output, "page.txt"), "utf8")).toBe("HELLO FROM ALPHA\n");

    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    const record = await store.getRun(victimRun);
    const steps = await store.listSteps(victimRun);
    expect(await store.listLocks()).toEqual([]);
    await store.close();
    expect(record?.status).toBe("interrupted");
    expect(record?.error).toMatch(/ended without finishing/);
    expect(steps.map((s) => [s.step, s.status])).toEqual([
      ["hold", "interrupted"],
      ["copy", "interrupted"],
    ]);
  });

  it("SIGINT stops the run cleanly: the step sees the abort, the lock is released, exit code 130", async () => {
    const root = await useTempDir();
    await writeWorkspace(root, ["alpha"]);
    const output = join(root, "sites/alpha/output");
    const run = startRun(root, "alpha", "hold,copy");
    await waitForFile(join(output, "started"));
    run.process.kill("SIGINT");
    const result = await run.done;
    expect(result.code).toBe(130);
    expect(existsSync(join(output, "aborted"))).toBe(true);
    expect(result.events.at(-1)).toMatchObject({
      type: "run-finished",
      status: "interrupted",
      errorCode: "ERR_INTERRUPTED",
    });
    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    expect(await store.listLocks()).toEqual([]);
    await store.close();
  });
});
