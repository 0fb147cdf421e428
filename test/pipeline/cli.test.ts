import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import type { PipelineEvent } from "../../src/pipeline/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";

// Spawned CLIs and real servers: on a busy shared machine one test can take minutes; a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// `siteloom run` / `runs` through the built binary, on workspaces whose sites are hosted by the local backend
// (a directory as the remote), with the offline provider: fast, and every step is real.

const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));

async function setup(sites: { name: string; live?: boolean }[] = [{ name: "example" }]) {
  const dir = await useTempDir("siteloom-run-cli-");
  const root = join(dir, "ws");
  const init = await runCli(["init", root, "--example"]);
  expect(init.code, init.stderr).toBe(0);
  const template = await readFile(join(root, "sites/example/site.yaml"), "utf8");
  const topics = await readFile(join(root, "sites/example/topics.csv"), "utf8");
  for (const site of sites) {
    const live = join(dir, `live-${site.name}`);
    // live: false points the site at a folder that does not exist, so its export fails
    if (site.live !== false) await cp(EXAMPLE_SITE, live, { recursive: true });
    const doc = parseDocument(template);
    doc.set("remote", { protocol: "local", root: live });
    await mkdir(join(root, "sites", site.name), { recursive: true });
    await writeFile(join(root, "sites", site.name, "site.yaml"), doc.toString());
    await writeFile(join(root, "sites", site.name, "topics.csv"), topics);
  }
  return { dir, root };
}

describe("cli: siteloom run", () => {
  it("refuses bad arguments with one line and exit code 2", async () => {
    const { root } = await setup();
    const cases: [string[], RegExp][] = [
      [["run"], /^error: name the sites to run, or use --all$/],
      [["run", "example", "--all"], /^error: give site names or --all, not both$/],
      [
        ["run", "example", "--steps", "export,deploi"],
        /^error: unknown step deploi; the steps are export, generate, enrich, deploy, publish$/,
      ],
      [
        ["run", "example", "--concurrency", "0"],
        /^error: --concurrency expects a whole number of at least 1, got "0"$/,
      ],
      [["runs", "show", "nope"], /^error: no run "nope"; list them with siteloom runs$/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(["--workspace", root, ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr).not.toContain("    at ");
    }
    const unknown = await runCli(["--workspace", root, "run", "nope"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toMatch(/^error: no site nope in .*; known sites: example$/);
  });

  it("runs every site, prints plain progress and the summary, and records the run", async () => {
    const { root } = await setup([{ name: "example" }, { name: "second" }]);
    const result = await runCli(["--workspace", root, "run", "--all", "--concurrency", "2"], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    // not a terminal: plain lines on stderr, the table on stdout
    expect(result.stderr).toMatch(
      /^run \S+: example, second → export, generate, enrich, deploy, publish \(env development\)$/m,
    );
    expect(result.stderr).toMatch(/^second deploy: succeeded — \d+ uploaded, \d+ unchanged, 0 deleted \(.+\)$/m);
    expect(result.stdout).toMatch(/^SITE\s+STEP\s+STATUS\s+RESULT\s+BYTES\s+COST\s+TIME$/m);
    expect(result.stdout).toMatch(/^example\s+export\s+succeeded\s+9 downloaded, 0 unchanged, 0 removed/m);
    expect(result.stdout).toMatch(/^second\s+export\s+succeeded/m);
    expect(result.stdout).toMatch(/^run (\S+) succeeded: 2 succeeded; cost \$0; /m);
    expect(await readFile(join(root, "sites/second/output/index.html"), "utf8")).toContain("<html");

    const runs = await runCli(["--workspace", root, "runs", "--json"]);
    const list = JSON.parse(runs.stdout) as { id: string; sites: string[]; status: string; env: string }[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ sites: ["example", "second"], status: "succeeded", env: "development" });
    const id = list[0]?.id ?? "";

    const table = await runCli(["--workspace", root, "runs"]);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+succeeded\\s+development\\s+example,second\\s+`, "m"));
    const show = await runCli(["--workspace", root, "runs", "show", id.slice(0, 17)]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^run ${id} succeeded$`, "m"));
    expect(show.stdout).toMatch(/^second\s+export\s+succeeded\s+9 downloaded/m);
    const showJson = JSON.parse((await runCli(["--workspace", root, "runs", "show", id, "--json"])).stdout);
    expect(showJson.stepResults).toHaveLength(10); // 5 steps × 2 sites (publish skipped: no wordpress: section)
    expect(await runCli(["--workspace", root, "runs", "--site", "nobody", "--json"])).toMatchObject({
      stdout: "[]\n",
    });
  });

  it("a failing site stops there, the other goes on, the summary lists both, the exit code is non-zero", async () => {
    const { root } = await setup([{ name: "broken", live: false }, { name: "example" }]);
    const result = await runCli(["--workspace", root, "run", "broken", "example"], { timeoutMs: 120_000 });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/^broken\s+export\s+failed\s+\S.*$/m);
    expect(result.stdout).toMatch(/^\s+generate\s+skipped\s+not started: export failed$/m);
    expect(result.stdout).toMatch(/^example\s+export\s+succeeded/m);
    expect(result.stdout).toMatch(/^\s+deploy\s+succeeded/m);
    expect(result.stdout).toMatch(/failed: 1 failed, 1 succeeded; cost/);
  });

  it("--json prints one event per line on stdout and nothing else", async () => {
    const { root } = await setup();
    const result = await runCli(["--workspace", root, "run", "example", "--steps", "export,enrich", "--json"], {
      timeoutMs: 120_000,
    });
    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as PipelineEvent);
    expect(events[0]).toMatchObject({ type: "run-started", sites: ["example"], steps: ["export", "enrich"] });
    expect(events.at(-1)).toMatchObject({ type: "run-finished", status: "succeeded" });
    const steps = events.filter((e) => e.type === "step-finished").map((e) => (e as { step: string }).step);
    expect(steps).toEqual(["export", "enrich"]);
  });

  it("--dry-run writes nothing locally or remotely", async () => {
    const { dir, root } = await setup();
    const live = join(dir, "live-example");
    const before = await readFile(join(live, "index.html"));
    const result = await runCli(["--workspace", root, "run", "example", "--dry-run"], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("  would download about.html");
    expect(result.stdout).toMatch(/run \S+ succeeded \(dry run\)/);
    expect(await readFile(join(live, "index.html"))).toEqual(before);
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(join(root, "sites/example"))).sort()).toEqual(["site.yaml", "topics.csv"]);
    expect((await readdir(live)).sort()).toEqual(
      [
        "about.html",
        "contact.html",
        "css",
        "images",
        "index.html",
        "robots.txt",
        "services.html",
        "sitemap.xml",
      ].sort(),
    );
  });
});

describe("cli: single commands run through the pipeline", () => {
  it("export, generate, enrich and deploy alone each take the site's lock and write a run record", async () => {
    const { root } = await setup();
    for (const step of ["export", "generate", "enrich", "deploy"]) {
      const result = await runCli(["--workspace", root, step, "example"]);
      expect(result.code, result.stderr).toBe(0);
    }
    const runs = await runCli(["--workspace", root, "runs", "--json"]);
    const list = JSON.parse(runs.stdout) as { steps: string[]; sites: string[]; status: string }[];
    expect(list.map((r) => [r.steps.join(","), r.sites.join(","), r.status])).toEqual([
      ["deploy", "example", "succeeded"],
      ["enrich", "example", "succeeded"],
      ["generate", "example", "succeeded"],
      ["export", "example", "succeeded"],
    ]);

    // a live holder of the site's lock (this test process) makes a single command exit 7, naming the holder
    const { openStateStore } = await import("../../src/store/index.ts");
    const { hostname } = await import("node:os");
    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    try {
      const holder = {
        name: "site:example",
        owner: "held-by-test",
        pid: process.pid,
        host: hostname(),
        leaseMs: 60_000,
      };
      await store.acquireLock(holder, () => false);
      const refused = await runCli(["--workspace", root, "enrich", "example"]);
      expect(refused.code).toBe(7);
      expect(refused.stderr.trim()).toMatch(
        /^error: site example is being run by run held-by-test \(pid \d+ on .+\); wait for it/,
      );
      await store.releaseLock(holder.name, holder.owner);
    } finally {
      await store.close();
    }
  });
});
