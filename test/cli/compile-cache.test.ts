import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { enableCompileCache, userCacheDir } from "../../src/cli/compile-cache.ts";

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
});
