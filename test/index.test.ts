import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ArticleSchema,
  BUILTIN_STEPS,
  initWorkspace,
  loadWorkspace,
  openStateStore,
  runPipeline,
  STEP_NAMES,
} from "../src/index.ts";

const LIBRARY = fileURLToPath(new URL("../src/index.ts", import.meta.url));

describe("public library API (src/index.ts)", () => {
  it("generates articles for the example workspace through runPipeline and records the run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "siteloom-library-"));
    try {
      await initWorkspace({ dir, example: true });
      const workspace = await loadWorkspace({ workspace: dir, flags: { "llm.provider": "offline" }, vars: {} });
      const events: string[] = [];
      const report = await runPipeline({
        workspace,
        sites: ["example"],
        registry: BUILTIN_STEPS,
        steps: ["generate"],
        onEvent: (event) => events.push(event.type),
      });
      expect(report.error).toBeUndefined();
      expect(report.sites[0]?.steps.map((s) => [s.step, s.status])).toEqual([["generate", "succeeded"]]);
      expect(events[0]).toBe("run-started");
      expect(events.at(-1)).toBe("run-finished");
      const topics = (await readFile(join(dir, "sites/example/topics.csv"), "utf8")).trim().split("\n").length - 1;
      const articles = await readdir(join(dir, "sites/example/articles"));
      expect(articles.filter((name) => name.endsWith(".json"))).toHaveLength(topics);
      const store = openStateStore({ stateDir: workspace.stateDir });
      try {
        expect((await store.listRuns()).map((run) => [run.id, run.status])).toEqual([[report.run.id, "succeeded"]]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lists the built-in steps in pipeline order (the CLI's `run --help` spells out the same list)", () => {
    expect(STEP_NAMES).toEqual(["export", "generate", "enrich", "deploy", "publish"]);
  });

  it("exports the article schema, which rejects an empty article", () => {
    expect(ArticleSchema.safeParse({}).success).toBe(false);
  });

  it("starts nothing on import: a fresh process that imports the library exits by itself, silently", () => {
    const script = `const lib = await import(${JSON.stringify(LIBRARY)}); console.log(Object.keys(lib).length);`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    // a server, watcher, open socket or timer left behind would keep the process alive until the timeout kills it
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    expect(Number(child.stdout.trim())).toBeGreaterThan(30);
    expect(child.stderr).toBe("");
  });
});
