import { describe, expect, it } from "vitest";
import { checkConfigFileName } from "../../src/workspace/index.ts";

// Names of configuration files arrive from API bodies and from versions stored in a shared database; written into
// the workspace folder, any other name could leave it.
describe("checkConfigFileName", () => {
  it("accepts the workspace file and each site's file", () => {
    expect(() => checkConfigFileName("siteloom.yaml")).not.toThrow();
    expect(() => checkConfigFileName("sites/shop/site.yaml")).not.toThrow();
    expect(() => checkConfigFileName("sites/a1-b2/site.yaml")).not.toThrow();
  });

  it.each([
    "../siteloom.yaml",
    "sites/../../etc/passwd",
    "sites/shop/../../../x/site.yaml",
    "/etc/siteloom.yaml",
    "sites/Shop/site.yaml",
    "sites/shop/site.yml",
    "sites/shop/sub/site.yaml",
    "sites//site.yaml",
    ".siteloom/state.db",
    "siteloom.yaml/../x",
  ])("refuses %s with one line naming it", (name) => {
    expect(() => checkConfigFileName(name)).toThrow(`not a configuration file: ${name}`);
  });
});
