import { describe, expect, it } from "vitest";
import {
  didYouMean,
  fileLayer,
  formatProblem,
  maskCredentials,
  mergeLayers,
  parseConfigText,
  parseReference,
  SiteConfigSchema,
  settingsFromVariables,
  validateMerged,
} from "../../src/config/index.ts";

describe("config: layers", () => {
  it("keeps the position of every key and value", () => {
    const file = parseConfigText("remote:\n  host: a.example.com\n  port: 21\nlist:\n  - x\n  - y\n", "f.yaml");
    expect(file.problems).toEqual([]);
    expect(file.positions.get("remote.port")).toEqual({ line: 3, col: 9, keyLine: 3, keyCol: 3 });
    expect(file.positions.get("list.1")).toEqual({ line: 6, col: 5 });
  });

  it("turns YAML errors and a non-mapping file into positioned problems", () => {
    expect(parseConfigText("a: 1\n  b: 2\n", "f.yaml").problems.map(formatProblem)).toEqual([
      "f.yaml:1:4: YAML syntax error: Nested mappings are not allowed in compact mappings",
    ]);
    expect(parseConfigText("- a\n- b\n", "f.yaml").problems.map(formatProblem)).toEqual([
      "f.yaml:1:1: expected a mapping of settings (key: value lines), got a list",
    ]);
    expect(parseConfigText("", "f.yaml").data).toEqual({});
  });

  it("maps SITELOOM_* variables onto paths, per site, skipping reserved and foreign ones", () => {
    const { settings, problems } = settingsFromVariables(
      {
        SITELOOM_DEPLOY__PARALLEL: "8",
        SITELOOM_SITES__SHOP_EU__DEPLOY__PARALLEL: "2",
        SITELOOM_LLM__MAX_OUTPUT_TOKENS: "100",
        SITELOOM_SECRETS__STORES__VAULT__TOKEN: "${VT}",
        SITELOOM_ENV: "production",
        SITELOOM_SECRET_FTP: "x",
        SITELOOM_AGE_KEY_FILE: "/k",
        SITELOOM_SECRETS_BACKEND: "env",
        SITELOOM_ENVIRONMENT: "x",
        SITELOOM_CACHE_DIR: "/tmp",
        OTHER: "1",
      },
      SiteConfigSchema,
    );
    expect(problems).toEqual([]);
    expect(settings.map((s) => [s.source, s.site, s.path.join("."), s.value])).toEqual([
      ["$SITELOOM_DEPLOY__PARALLEL", undefined, "deploy.parallel", 8],
      ["$SITELOOM_LLM__MAX_OUTPUT_TOKENS", undefined, "llm.maxOutputTokens", 100],
      ["$SITELOOM_SECRETS__STORES__VAULT__TOKEN", undefined, "secrets.stores.vault.token", "${VT}"],
      ["$SITELOOM_SITES__SHOP_EU__DEPLOY__PARALLEL", "shop-eu", "deploy.parallel", 2],
    ]);
  });

  it("merges later-wins with lists replaced, and locates problems in the layer that wrote them", () => {
    const a = parseConfigText("deploy:\n  protect: [a, b]\n  parallel: 2\n", "a.yaml");
    const b = parseConfigText("deploy:\n  protect: [c]\n  retries: -1\n", "b.yaml");
    const merged = mergeLayers([fileLayer("workspace", a, a.data), fileLayer("site", b, b.data)]);
    expect(merged.data).toEqual({ deploy: { protect: ["c"], parallel: 2, retries: -1 } });
    const { problems } = validateMerged(SiteConfigSchema, merged, "a.yaml");
    expect(problems.map(formatProblem)).toEqual(["b.yaml:3:12 deploy.retries: must be at least 0, got -1"]);
  });

  it("suggests the closest key, or an abbreviation's full form", () => {
    expect(didYouMean("paralel", ["parallel", "protect"])).toBe("parallel");
    expect(didYouMean("prod", ["development", "production"])).toBe("production");
    expect(didYouMean("zzz", ["parallel"])).toBeUndefined();
  });

  it("masks plaintext credentials found through the schema, keeps references", () => {
    const masked = maskCredentials({
      remote: { password: "pw", passphrase: "${PASS}", host: "h" },
      llm: { apiKey: "secret://global/OPENAI_API_KEY" },
      secrets: { stores: { v: { type: "vault", token: "s.abc" } } },
      wordpress: { appPassword: "a b c", user: "u" },
    });
    expect(masked).toEqual({
      remote: { password: "****", passphrase: "${PASS}", host: "h" },
      llm: { apiKey: "secret://global/OPENAI_API_KEY" },
      secrets: { stores: { v: { type: "vault", token: "****" } } },
      wordpress: { appPassword: "****", user: "u" },
    });
  });

  it("parses references into typed values", () => {
    expect(parseReference("${A:-b}")).toEqual({ kind: "env", name: "A", default: "b", raw: "${A:-b}" });
    expect(parseReference("secret://global/KEY")).toEqual({
      kind: "secret",
      scope: "global",
      name: "KEY",
      version: undefined,
      raw: "secret://global/KEY",
    });
    expect(() => parseReference("secret://shop/key")).toThrow(/name "key" must be upper-case/);
  });
});
