import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { createProgressRenderer, formatRunSummary } from "../../src/cli/progress/index.ts";
import { exitCodeFor } from "../../src/errors.ts";
import { createLogger } from "../../src/log/index.ts";
import { type PipelineEvent, runPipeline } from "../../src/pipeline/index.ts";
import { openStateStore } from "../../src/store/index.ts";
import { loadWorkspace } from "../../src/workspace/index.ts";
import { useTempDir } from "../support/cli.ts";
import { TEST_STEPS } from "./fixtures/steps.ts";
import { writeWorkspace } from "./fixtures/workspace.ts";

const NO_COLOR = pc.createColors(false);

async function setup(sites: string[]) {
  const root = await useTempDir();
  await writeWorkspace(root, sites);
  const workspace = await loadWorkspace({ workspace: root, vars: {} });
  return { root, workspace };
}

describe("pipeline: runPipeline", () => {
  it("runs the chosen steps in registry order for every site and records the run", async () => {
    const { root, workspace } = await setup(["alpha", "beta"]);
    const events: PipelineEvent[] = [];
    const report = await runPipeline({
      workspace,
      sites: ["beta", "alpha"],
      registry: TEST_STEPS,
      steps: ["tally", "copy"],
      onEvent: (e) => events.push(e),
    });
    expect(report.error).toBeUndefined();
    expect(report.run.status).toBe("succeeded");
    expect(await readFile(join(root, "sites/alpha/output/page.txt"), "utf8")).toBe("HELLO FROM ALPHA\n");
    expect(await readFile(join(root, "sites/beta/output/log.txt"), "utf8")).toBe(`${report.run.id}\n`);

    // per site, steps in registry order: copy before tally whatever order they were asked in
    const order = events
      .filter((e) => e.type === "step-started" && e.site === "alpha")
      .map((e) => (e as { step: string }).step);
    expect(order).toEqual(["copy", "tally"]);
    expect(events[0]?.type).toBe("run-started");
    expect(events.at(-1)).toMatchObject({ type: "run-finished", status: "succeeded", costUsd: 1 });
    expect(events.at(-1)).not.toHaveProperty("errorCode");

    const store = openStateStore({ stateDir: workspace.stateDir });
    const run = await store.getRun(report.run.id);
    const steps = await store.listSteps(report.run.id);
    await store.close();
    expect(run).toMatchObject({ sites: ["beta", "alpha"], steps: ["copy", "tally"], env: "development", costUsd: 1 });
    expect(steps.map((s) => `${s.site}/${s.step}/${s.status}`)).toEqual([
      "alpha/copy/succeeded",
      "alpha/tally/succeeded",
      "beta/copy/succeeded",
      "beta/tally/succeeded",
    ]);
    expect(steps[0]).toMatchObject({ counts: { written: 1 }, bytes: 17, summary: "1 file written" });
    expect(steps.every((s) => s.started && s.finished)).toBe(true);
  });

  it("a failing step stops that site; the other sites go on; the exit code is the failure's", async () => {
    const { root, workspace } = await setup(["alpha", "beta", "gamma"]);
    await writeFile(join(root, "sites/beta/FAIL"), "");
    const report = await runPipeline({
      workspace,
      sites: ["alpha", "beta", "gamma"],
      registry: TEST_STEPS,
      steps: ["copy", "check", "tally"],
      concurrency: 3,
    });
    expect(report.run.status).toBe("failed");
    expect(report.error?.code).toBe("ERR_DEPLOY_FAILED");
    expect(exitCodeFor(report.error!.code)).toBe(5); // the transfer exit code
    expect(report.sites.map((s) => [s.site, s.status])).toEqual([
      ["alpha", "succeeded"],
      ["beta", "failed"],
      ["gamma", "succeeded"],
    ]);
    const beta = report.sites[1]?.steps.map((s) => [s.step, s.status]);
    expect(beta).toEqual([
      ["copy", "succeeded"],
      ["check", "failed"],
      ["tally", "skipped"],
    ]);
    expect(existsSync(join(root, "sites/beta/output/log.txt"))).toBe(false);
    expect(existsSync(join(root, "sites/gamma/output/log.txt"))).toBe(true);
    expect(report.run.error).toBe("1 of 3 site(s) failed: beta");

    const table = formatRunSummary(report, NO_COLOR).join("\n");
    expect(table).toMatch(/^SITE\s+STEP\s+STATUS\s+RESULT\s+BYTES\s+COST\s+TIME$/m);
    expect(table).toMatch(/^beta\s+copy\s+succeeded\s+1 file written\s+16 B/m);
    expect(table).toMatch(/^\s+check\s+failed\s+site beta has a FAIL file/m);
    expect(table).toMatch(/^\s+tally\s+skipped\s+not started: check failed/m);
    expect(table).toMatch(/^gamma\s+copy\s+succeeded/m);
    expect(table).toContain("2 succeeded, 1 failed; cost $1.00");
    expect(table).toContain("1 failed");
  });

  it("an unknown site fails that site only, with the loader's message", async () => {
    const { workspace } = await setup(["alpha"]);
    const report = await runPipeline({ workspace, sites: ["alpha", "nope"], registry: TEST_STEPS, steps: ["copy"] });
    expect(report.sites.map((s) => s.status)).toEqual(["succeeded", "failed"]);
    expect(report.sites[1]?.error).toMatch(/no site "nope"/);
    expect(report.error).toBeDefined();
  });

  it("--dry-run: steps get dryRun, describe their plan, and nothing is written", async () => {
    const { root, workspace } = await setup(["alpha"]);
    const events: PipelineEvent[] = [];
    const report = await runPipeline({
      workspace,
      sites: ["alpha"],
      registry: TEST_STEPS,
      steps: ["copy", "tally"],
      dryRun: true,
      onEvent: (e) => events.push(e),
    });
    expect(report.error).toBeUndefined();
    expect(report.run.dryRun).toBe(true);
    expect(existsSync(join(root, "sites/alpha/output"))).toBe(false);
    const plans = events.flatMap((e) => (e.type === "step-finished" ? e.plan : []));
    expect(plans).toEqual(["write output/page.txt (17 bytes)", "append one line to output/log.txt"]);
    expect(report.sites[0]?.steps[0]?.plan).toEqual(["write output/page.txt (17 bytes)"]);
  });

  it("an aborted run stops its steps, releases the locks and is recorded as interrupted", async () => {
    const { root, workspace } = await setup(["alpha", "beta"]);
    const controller = new AbortController();
    const running = runPipeline({
      workspace,
      sites: ["alpha", "beta"],
      registry: TEST_STEPS,
      steps: ["hold", "copy"],
      concurrency: 1,
      signal: controller.signal,
    });
    while (!existsSync(join(root, "sites/alpha/output/started"))) await sleep(10);
    controller.abort();
    const report = await running;
    expect(report.error?.code).toBe("ERR_INTERRUPTED");
    expect(exitCodeFor(report.error!.code)).toBe(130);
    expect(report.run.status).toBe("interrupted");
    expect(existsSync(join(root, "sites/alpha/output/aborted"))).toBe(true);
    expect(report.sites.map((s) => s.status)).toEqual(["interrupted", "interrupted"]);
    expect(report.sites[0]?.steps.map((s) => s.status)).toEqual(["interrupted", "interrupted"]);
    expect(report.sites[1]?.steps.map((s) => s.status)).toEqual(["interrupted", "interrupted"]);
    expect(existsSync(join(root, "sites/alpha/output/page.txt"))).toBe(false);
    const store = openStateStore({ stateDir: workspace.stateDir });
    expect(await store.listLocks()).toEqual([]);
    await store.close();
  });

  it("an unknown step name is a usage error listing the steps", async () => {
    const { workspace } = await setup(["alpha"]);
    await expect(
      runPipeline({ workspace, sites: ["alpha"], registry: TEST_STEPS, steps: ["copy", "deploi"] }),
    ).rejects.toThrow("unknown step deploi; the steps are hold, copy, check, tally");
  });

  it("secret values never reach events or records", async () => {
    const { workspace } = await setup(["alpha"]);
    const { Secret } = await import("../../src/secret.ts");
    const password = new Secret(`pw-${Math.random().toString(36).slice(2)}`);
    const events: string[] = [];
    const leaky = {
      name: "leaky",
      description: "reports a message containing a secret",
      async run() {
        throw new Error(`login failed for ftp://user:${password.reveal()}@host/`);
      },
    };
    const report = await runPipeline({
      workspace,
      sites: ["alpha"],
      registry: [leaky],
      onEvent: (e) => events.push(JSON.stringify(e)),
      logger: createLogger({ level: "silent" }),
    });
    expect(exitCodeFor(report.error!.code)).toBe(1);
    expect(events.join("\n")).not.toContain(password.reveal());
    expect(report.sites[0]?.steps[0]?.error).not.toContain(password.reveal());
    expect(report.sites[0]?.steps[0]?.error).toContain("login failed");
  });
});

describe("pipeline: progress rendering", () => {
  it("plain mode prints one line per step, the plan of a dry run, and warnings", async () => {
    const { workspace } = await setup(["alpha"]);
    let out = "";
    const renderer = createProgressRenderer({ mode: "plain", colors: NO_COLOR, write: (t) => (out += t) });
    await runPipeline({
      workspace,
      sites: ["alpha"],
      registry: TEST_STEPS,
      steps: ["copy", "tally"],
      dryRun: true,
      onEvent: (e) => renderer.onEvent(e),
    });
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^run \S+: alpha → copy, tally \(env development, dry run\)$/);
    expect(lines).toContain("  would write output/page.txt (17 bytes)");
    expect(lines.filter((l) => /^alpha copy: succeeded/.test(l))).toHaveLength(1);
  });

  it("json mode prints one parseable event per line", async () => {
    const { workspace } = await setup(["alpha"]);
    let out = "";
    const renderer = createProgressRenderer({ mode: "json", colors: NO_COLOR, write: (t) => (out += t) });
    await runPipeline({
      workspace,
      sites: ["alpha"],
      registry: TEST_STEPS,
      steps: ["copy"],
      onEvent: (e) => renderer.onEvent(e),
    });
    const types = out
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as PipelineEvent).type);
    expect(types[0]).toBe("run-started");
    expect(types).toContain("step-finished");
    expect(types.at(-1)).toBe("run-finished");
  });

  it("tty mode compacts a tree taller than the terminal: one line per finished site", async () => {
    const names = ["s1", "s2", "s3", "s4", "s5", "s6"];
    const { root, workspace } = await setup(names);
    await writeFile(join(root, "sites/s4/FAIL"), "");
    let out = "";
    const renderer = createProgressRenderer({
      mode: "tty",
      colors: NO_COLOR,
      write: (t) => (out += t),
      columns: 100,
      rows: 12,
      intervalMs: 5,
    });
    await runPipeline({
      workspace,
      sites: names,
      registry: TEST_STEPS,
      steps: ["copy", "check"],
      onEvent: (e) => renderer.onEvent(e),
    });
    renderer.close();
    const lastFrame = (out.split("\u001b[0J").at(-1) ?? "").trim().split("\n");
    expect(lastFrame).toEqual([
      "✔ s1 succeeded",
      "✔ s2 succeeded",
      "✔ s3 succeeded",
      "✖ s4 check: site s4 has a FAIL file",
      "✔ s5 succeeded",
      "✔ s6 succeeded",
    ]);
  });

  it("tty mode draws the task tree and leaves the final state on screen", async () => {
    const { workspace } = await setup(["alpha", "beta"]);
    let out = "";
    const renderer = createProgressRenderer({
      mode: "tty",
      colors: NO_COLOR,
      write: (t) => (out += t),
      columns: 100,
      intervalMs: 5,
    });
    await runPipeline({
      workspace,
      sites: ["alpha", "beta"],
      registry: TEST_STEPS,
      steps: ["copy", "tally"],
      onEvent: (e) => renderer.onEvent(e),
    });
    renderer.close();
    // the last frame (after the last cursor-up/erase sequence) shows both sites done
    const lastFrame = out.split("\u001b[0J").at(-1) ?? "";
    expect(lastFrame).toMatch(/✔ alpha\n {2}✔ copy\s+1 file written/);
    expect(lastFrame).toMatch(/✔ beta\n/);
    expect(lastFrame).toMatch(/✔ tally\s+\d+ lines/);
  });
});
