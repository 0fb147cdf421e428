import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ArticleSchema,
  buildServer,
  createRemote,
  createSecretStore,
  loadWorkspace,
  openSecretStore,
  openStateStore,
  readAuditLog,
  runDeploy,
  runEnrich,
  runExport,
  runGenerate,
  runPipeline,
  STEP_NAMES,
  summarizeCosts,
  verifyAuditLog,
} from "../src/index.ts";

const LIBRARY = fileURLToPath(new URL("../src/index.ts", import.meta.url));

describe("public library API (src/index.ts)", () => {
  it("exports each domain's entry points as functions", () => {
    const entries = {
      loadWorkspace,
      createSecretStore,
      openSecretStore,
      readAuditLog,
      verifyAuditLog,
      createRemote,
      runExport,
      runDeploy,
      runGenerate,
      summarizeCosts,
      runEnrich,
      runPipeline,
      openStateStore,
      buildServer,
    };
    for (const [name, value] of Object.entries(entries)) expect(typeof value, name).toBe("function");
  });

  it("lists the built-in steps in pipeline order (the CLI's `run --help` spells out the same list)", () => {
    expect(STEP_NAMES).toEqual(["export", "generate", "enrich", "deploy"]);
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
