import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { enableCompileCache, userCacheDir } from "../../src/cli/compile-cache.ts";
import { runCli, useTempDir } from "../support/cli.ts";

const HAS_CACHE = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === "function";

describe("cli: compile cache", () => {
  it("lives under the user's cache folder: XDG_CACHE_HOME when set, else the platform's", () => {
    expect(userCacheDir({ XDG_CACHE_HOME: "/tmp/xdg" })).toBe("/tmp/xdg");
    if (process.platform === "linux") expect(userCacheDir({})).toBe(join(homedir(), ".cache"));
  });

  it("is turned on where Node has it and is harmless where it does not (Node 20)", () => {
    expect(() => enableCompileCache({ NODE_DISABLE_COMPILE_CACHE: "1" })).not.toThrow();
    const has = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === "function";
    if (!has) expect(() => enableCompileCache({})).not.toThrow();
  });

  it(`a CLI start ${HAS_CACHE ? "fills" : "makes no"} siteloom/compile-cache under XDG_CACHE_HOME on Node ${process.versions.node}`, async () => {
    const xdg = await useTempDir("siteloom-compile-cache-");
    const run = await runCli(["--version"], {
      env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    const dir = join(xdg, "siteloom", "compile-cache");
    if (HAS_CACHE) expect((await readdir(dir, { recursive: true })).length).toBeGreaterThan(0);
    else expect(existsSync(dir)).toBe(false);
  });
});
