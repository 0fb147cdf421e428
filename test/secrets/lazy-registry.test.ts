import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BACKENDS } from "../../src/secrets/index.ts";
import { randomValue, type TempWorkspace, tempWorkspace } from "./helpers.ts";

const HOOK = fileURLToPath(new URL("../support/module-trace.mjs", import.meta.url));
const SDKS = BACKENDS.flatMap((b) => b.packages ?? []).map((p) => p.name);

/**
 * Runs the built CLI with a module-load hook and returns what it loaded: our sources (from the `// src/...` region
 * markers of the dist chunks it read) and the packages under node_modules.
 */
async function loaded(ws: TempWorkspace, args: string[], input?: string) {
  const trace = join(ws.root, "..", `trace-${Math.random().toString(36).slice(2)}`);
  const run = await ws.cli(args, {
    ...(input === undefined ? {} : { input }),
    env: { NODE_OPTIONS: `--import ${HOOK}`, SITELOOM_TEST_MODULE_TRACE: trace },
  });
  expect(run.code, run.stderr).toBe(0);
  const urls = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
  const sources = new Set<string>();
  for (const url of urls.filter((u) => u.startsWith("file:") && !u.includes("/node_modules/"))) {
    for (const m of (await readFile(fileURLToPath(url), "utf8")).matchAll(/^\/\/ (src\/\S+\.ts)$/gm))
      sources.add(m[1]!);
  }
  const packages = urls.filter((u) => u.includes("/node_modules/")).map((u) => u.split("/node_modules/").at(-1)!);
  return { run, sources, packages };
}

const backendModule = (type: string) => `src/secrets/backends/${type}.ts`;

describe("secrets: lazy backend registry", { timeout: 120_000 }, () => {
  it("--help and a file-store run load no other backend module and no SDK", async () => {
    const ws = await tempWorkspace();
    const help = await loaded(ws, ["--help"]);
    // the trace works: the CLI's own entry point was seen
    expect(help.sources.has("src/cli/main.ts")).toBe(true);
    expect([...help.sources].filter((s) => s.startsWith("src/secrets/"))).toEqual([]);

    await ws.cli(["secrets", "init"]);
    const value = randomValue("pw");
    const set = await loaded(ws, ["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], `${value}\n`);
    const get = await loaded(ws, ["secrets", "get", "shop/FTP_PASSWORD", "--reveal"]);
    expect(get.run.stdout).toBe(`${value}\n`);
    for (const run of [set, get]) {
      expect(run.sources.has(backendModule("file"))).toBe(true);
      for (const b of BACKENDS.filter((b) => b.type !== "file"))
        expect(run.sources).not.toContain(backendModule(b.type));
      expect(run.packages.filter((p) => SDKS.some((sdk) => p.startsWith(`${sdk}/`)))).toEqual([]);
    }
  });

  it("secrets backend --json lists every registered type from the descriptors alone", async () => {
    const ws = await tempWorkspace();
    const { run, sources, packages } = await loaded(ws, ["secrets", "backend", "--json"]);
    const types = JSON.parse(run.stdout).types as { type: string; options: string[] }[];
    expect(types.map((t) => t.type)).toEqual(BACKENDS.map((b) => b.type));
    expect(types.find((t) => t.type === "aws")!.options).toContain("region");
    // the configured stores (file, env) are opened to describe them; no cloud module and no SDK is
    for (const type of ["vault", "aws", "gcp", "azure", "digitalocean"])
      expect(sources).not.toContain(backendModule(type));
    expect(packages.filter((p) => SDKS.some((sdk) => p.startsWith(`${sdk}/`)))).toEqual([]);
  });

  it("an unknown store type is refused with the list of registered types", async () => {
    const ws = await tempWorkspace({ "siteloom.yaml": "secrets:\n  stores:\n    x:\n      type: keepass\n" });
    const r = await ws.cli(["secrets", "list", "--store", "x"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`expected one of ${BACKENDS.map((b) => b.type).join(", ")}, got "keepass"`);
  });
});
