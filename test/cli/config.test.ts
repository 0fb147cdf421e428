import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";

/** Each test spawns the CLI several times; on a busy 2-core machine one spawn can take seconds. */
const SLOW = 300_000;

/** A workspace with one site "shop", written as plain files so every line number below is known. */
async function workspace(ws: string, site: string): Promise<string> {
  const dir = await useTempDir();
  await writeFile(join(dir, "siteloom.yaml"), ws);
  await mkdir(join(dir, "sites", "shop"), { recursive: true });
  await writeFile(join(dir, "sites", "shop", "site.yaml"), site);
  return dir;
}

interface ShowJson {
  environment: string;
  environmentSource: string;
  site: string | null;
  config: Record<string, Record<string, unknown>>;
  origins: Record<string, { layer: string; source?: string; line?: number; col?: number; path?: string }>;
}

async function show(dir: string, args: string[], env: Record<string, string> = {}): Promise<ShowJson> {
  const result = await runCli(["config", "show", "--site", "shop", "--origin", "--json", ...args], { cwd: dir, env });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as ShowJson;
}

const LAYERED_WS = `deploy:
  parallel: 2
  retries: 2
  retryBaseMs: 2
  retryMaxMs: 2
  verify: hash
environments:
  staging:
    deploy:
      retries: 3
      retryBaseMs: 3
      retryMaxMs: 3
      verify: none
`;
const LAYERED_SITE = `domain: shop.example.com
deploy:
  retryBaseMs: 4
  retryMaxMs: 4
environments:
  staging:
    deploy:
      retryMaxMs: 5
`;

describe("cli: config show — layers and provenance", { timeout: SLOW }, () => {
  it("applies every layer in order and remembers who set each value", async () => {
    const dir = await workspace(LAYERED_WS, LAYERED_SITE);
    const out = await show(dir, ["--env", "staging", "--set", "deploy.delete=true"], {
      SITELOOM_DEPLOY__MANIFEST_PATH: "from-var",
      SITELOOM_SITES__SHOP__DEPLOY__PROTECT: "[a, b]",
      SITELOOM_SITES__OTHER__DEPLOY__DELETE: "false",
    });
    const deploy = out.config.deploy!;
    expect(out.environment).toBe("staging");
    expect(out.environmentSource).toBe("flag");
    expect(deploy.parallel).toBe(2); // siteloom.yaml
    expect(deploy.retries).toBe(3); // its environments.staging
    expect(deploy.retryBaseMs).toBe(4); // site.yaml
    expect(deploy.retryMaxMs).toBe(5); // site.yaml environments.staging
    expect(deploy.manifestPath).toBe("from-var"); // SITELOOM_* for all sites
    expect(deploy.protect).toEqual(["a", "b"]); // SITELOOM_SITES__SHOP__*: a YAML list
    expect(deploy.delete).toBe(true); // --set flag, parsed as a boolean
    expect(deploy.retries).toBeTypeOf("number");
    expect(out.origins["deploy.parallel"]).toEqual({
      layer: "workspace",
      source: "siteloom.yaml",
      line: 2,
      col: 13,
      path: "deploy.parallel",
    });
    expect(out.origins["deploy.retries"]).toMatchObject({
      layer: "workspace-env",
      source: "siteloom.yaml",
      line: 10,
      path: "environments.staging.deploy.retries",
    });
    expect(out.origins["deploy.retryBaseMs"]).toMatchObject({ layer: "site", source: "sites/shop/site.yaml", line: 3 });
    expect(out.origins["deploy.retryMaxMs"]).toMatchObject({
      layer: "site-env",
      source: "sites/shop/site.yaml",
      line: 8,
    });
    expect(out.origins["deploy.manifestPath"]).toEqual({
      layer: "env-var",
      source: "$SITELOOM_DEPLOY__MANIFEST_PATH",
      path: "deploy.manifestPath",
    });
    expect(out.origins["deploy.protect"]).toMatchObject({
      layer: "env-var",
      source: "$SITELOOM_SITES__SHOP__DEPLOY__PROTECT",
    });
    expect(out.origins["deploy.delete"]).toMatchObject({ layer: "flag", source: "--set deploy.delete" });
    expect(out.origins["deploy.verify"]).toMatchObject({ layer: "workspace-env" });
    expect(out.origins["remote.timeoutMs"]).toEqual({ layer: "defaults" });
  });

  it("lets each layer beat the one below it for the same key", async () => {
    const dir = await workspace(
      "deploy:\n  parallel: 2\nenvironments:\n  staging:\n    deploy:\n      parallel: 3\n",
      "deploy:\n  parallel: 4\nenvironments:\n  staging:\n    deploy:\n      parallel: 5\n",
    );
    const at = async (args: string[], env: Record<string, string> = {}) =>
      (await show(dir, args, env)).config.deploy!.parallel;
    expect(await at([])).toBe(4); // development: site.yaml beats siteloom.yaml
    expect(await at(["--env", "staging"])).toBe(5);
    expect(await at(["--env", "staging"], { SITELOOM_DEPLOY__PARALLEL: "6" })).toBe(6);
    expect(
      await at(["--env", "staging"], { SITELOOM_DEPLOY__PARALLEL: "6", SITELOOM_SITES__SHOP__DEPLOY__PARALLEL: "7" }),
    ).toBe(7);
    expect(
      await at(["--env", "staging", "--set", "deploy.parallel=8"], {
        SITELOOM_DEPLOY__PARALLEL: "6",
        SITELOOM_SITES__SHOP__DEPLOY__PARALLEL: "7",
      }),
    ).toBe(8);
  });

  it("prints the environment and origins as text, credentials masked, references shown unresolved", async () => {
    const dir = await workspace(
      "llm:\n  apiKey: sk-plaintext-do-not-print\nsecrets:\n  stores:\n    v:\n      type: vault\n      address: http://127.0.0.1:1\n      token: ${VAULT_TOKEN}\n",
      "domain: shop.example.com\nremote:\n  password: secret://shop/FTP_PASSWORD\n  passphrase: hunter2hunter2\nwordpress:\n  url: https://shop.example.com\n  user: admin\n  appPassword: abcd efgh ijkl\n",
    );
    const text = await runCli(["config", "show", "--site", "shop", "--origin"], {
      cwd: dir,
      env: { VAULT_TOKEN: "tok-123" },
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^# environment: development \(default\)$/m);
    expect(text.stdout).toMatch(
      /^remote\.password\s+"secret:\/\/shop\/FTP_PASSWORD"\s+site sites\/shop\/site\.yaml:3:13$/m,
    );
    expect(text.stdout).toMatch(/^deploy\.parallel\s+8\s+defaults$/m);
    for (const out of [
      text.stdout,
      (await runCli(["config", "show", "--site", "shop", "--json"], { cwd: dir })).stdout,
    ]) {
      expect(out).not.toContain("sk-plaintext-do-not-print");
      expect(out).not.toContain("hunter2hunter2");
      expect(out).not.toContain("abcd efgh ijkl");
      expect(out).not.toContain("tok-123");
      expect(out).toContain("${VAULT_TOKEN}");
    }
    const json = JSON.parse(
      (await runCli(["config", "show", "--site", "shop", "--json"], { cwd: dir })).stdout,
    ) as ShowJson;
    expect(json.config.llm!.apiKey).toBe("****");
    expect(json.config.remote!.passphrase).toBe("****");
    expect(json.config.remote!.password).toBe("secret://shop/FTP_PASSWORD");
    expect((json.config.wordpress as Record<string, unknown>).appPassword).toBe("****");
  });

  it("reads variable values as YAML scalars but keeps strings where the schema wants text", async () => {
    const dir = await workspace("{}\n", "domain: shop.example.com\n");
    const out = await show(dir, [], {
      SITELOOM_REMOTE__USER: "12345",
      SITELOOM_REMOTE__INSECURE: "true",
      SITELOOM_LLM__MAX_OUTPUT_TOKENS: "777",
      SITELOOM_LLM__TEMPERATURE: "0.25",
    });
    expect(out.config.remote!.user).toBe("12345");
    expect(out.config.remote!.insecure).toBe(true);
    expect(out.config.llm!.maxOutputTokens).toBe(777);
    expect(out.config.llm!.temperature).toBe(0.25);
  });

  it("never treats reserved SITELOOM_* variables as configuration", async () => {
    const dir = await workspace("{}\n", "domain: shop.example.com\n");
    const out = await show(dir, [], {
      SITELOOM_SECRET_FTP_PASSWORD: "x",
      SITELOOM_AGE_IDENTITY: "AGE-SECRET-KEY-1",
      SITELOOM_SECRETS_BACKEND: "env",
      SITELOOM_WORKSPACE: dir,
      SITELOOM_SOMETHING_ELSE: "1",
    });
    expect(out.config.secrets!.backend).toBe("file");
    expect(Object.values(out.origins).some((o) => o.layer === "env-var")).toBe(false);
  });

  it("a null in a later layer resets the key to its default", async () => {
    const dir = await workspace("deploy:\n  parallel: 3\n", "domain: shop.example.com\ndeploy:\n  parallel: null\n");
    const out = await show(dir, []);
    expect(out.config.deploy!.parallel).toBe(8);
    expect(out.origins["deploy.parallel"]).toEqual({ layer: "defaults" });
  });
});

describe("cli: environments", { timeout: SLOW }, () => {
  it("chooses --env, then SITELOOM_ENV, then environment:, then development", async () => {
    const dir = await workspace(
      "environment: staging\nfeatures:\n  autoPublish: false\nenvironments:\n  production:\n    features:\n      autoPublish: true\n",
      "domain: shop.example.com\n",
    );
    expect((await show(dir, [])).environment).toBe("staging");
    expect((await show(dir, [])).environmentSource).toBe("file");
    const fromVar = await show(dir, [], { SITELOOM_ENV: "production" });
    expect(fromVar).toMatchObject({ environment: "production", environmentSource: "variable" });
    expect(fromVar.config.features!.autoPublish).toBe(true); // feature flags differ per environment
    const fromFlag = await show(dir, ["--env", "development"], { SITELOOM_ENV: "production" });
    expect(fromFlag).toMatchObject({ environment: "development", environmentSource: "flag" });
    expect(fromFlag.config.features!.autoPublish).toBe(false);

    const plain = await workspace("{}\n", "domain: shop.example.com\n");
    expect(await show(plain, [])).toMatchObject({ environment: "development", environmentSource: "default" });
  });

  it("rejects an unknown environment, listing the known ones, exit code 3", async () => {
    const dir = await workspace("profiles: [dev, live]\nenvironment: dev\n", "domain: shop.example.com\n");
    const result = await runCli(["config", "show", "--env", "prod"], { cwd: dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('error: unknown environment "prod" (from --env); known environments: dev, live\n');
    const fromVar = await runCli(["config", "show"], { cwd: dir, env: { SITELOOM_ENV: "staging" } });
    expect(fromVar.code).toBe(3);
    expect(fromVar.stderr).toContain(
      'unknown environment "staging" (from SITELOOM_ENV); known environments: dev, live',
    );
  });

  it("never falls back to production: without development and without a choice it is an error", async () => {
    const dir = await workspace("profiles: [staging, production]\n", "domain: shop.example.com\n");
    const result = await runCli(["config", "show"], { cwd: dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/no environment selected and "development" is not a profile; pass --env/);
    expect(result.stdout).toBe("");
  });
});

describe("cli: config validate", { timeout: SLOW }, () => {
  it("lists every problem of every file as file:line:col path: message, exit code 3", async () => {
    const dir = await workspace(
      [
        "deplyo:", //                                   1
        "  parallel: 3", //                             2
        "deploy:", //                                   3
        "  parallel: 100", //                           4
        "  verify: sizes", //                           5
        "environments:", //                             6
        "  prodution:", //                              7
        "    deploy: {parallel: 2}", //                 8
        "  production:", //                             9
        "    llm:", //                                 10
        "      temperature: hot", //                   11
        "",
      ].join("\n"),
      [
        "domain: shop.example.com", //                  1
        "remote:", //                                   2
        "  protocol: sftp", //                          3
        "  host: ftp.example.com", //                   4
        "  user: bob", //                               5
        "  root: /", //                                 6
        "  port: twenty-one", //                        7
        "  pasword: x", //                              8
        "secrets:", //                                  9
        "  backend: env", //                           10
        "wordpress:", //                               11
        "  url: nope", //                              12
        "url: https://shop.example.com/", //           13
        "",
      ].join("\n"),
    );
    await mkdir(join(dir, "sites", "broken"));
    await writeFile(join(dir, "sites", "broken", "site.yaml"), "domain: [\nfoo: 1\n");
    await mkdir(join(dir, "sites", "typo"));
    await writeFile(join(dir, "sites", "typo", "site.yaml"), "domain: not a domain\nllm:\n  provider: opena\n");
    const result = await runCli(["config", "validate"], {
      cwd: dir,
      env: { SITELOOM_DEPLOY__PARALEL: "3", SITELOOM_SITES__SHOP__DEPLOY__RETRIES: "many" },
    });
    expect(result.code).toBe(3);
    expect(result.stdout.trimEnd().split("\n")).toEqual([
      'siteloom.yaml:1:1 deplyo: unknown key "deplyo"; did you mean "deploy"?',
      "siteloom.yaml:4:13 deploy.parallel: must be at most 64, got 100",
      'siteloom.yaml:5:11 deploy.verify: expected one of size, hash, none, got "sizes"; did you mean "size"?',
      'siteloom.yaml:7:3 environments.prodution: unknown environment "prodution"; did you mean "production"? (known: development, staging, production; add it to profiles: to use it)',
      'siteloom.yaml:11:20 environments.production.llm.temperature: expected a number, got "hot"',
      "sites/broken/site.yaml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
      'sites/shop/site.yaml:7:9 remote.port: expected a number, got "twenty-one"',
      'sites/shop/site.yaml:8:3 remote.pasword: unknown key "pasword"; did you mean "password"?',
      'sites/shop/site.yaml:9:1 secrets: "secrets" can only be set in siteloom.yaml, not in a site file',
      "sites/shop/site.yaml:11:1 wordpress.appPassword: is required (a string)",
      "sites/shop/site.yaml:11:1 wordpress.user: is required (a string)",
      'sites/shop/site.yaml:12:8 wordpress.url: expected a URL such as https://example.com/, got "nope"',
      'sites/typo/site.yaml:1:9 domain: expected a domain such as example.com, got "not a domain"',
      'sites/typo/site.yaml:3:13 llm.provider: expected one of openai, openai-compatible, anthropic, ollama, offline, got "opena"; did you mean "openai"?',
      '$SITELOOM_DEPLOY__PARALEL: unknown setting "deploy.paralel"; did you mean "deploy.parallel"?',
      '$SITELOOM_SITES__SHOP__DEPLOY__RETRIES deploy.retries: expected a number, got "many"',
    ]);
    expect(result.stderr).toMatch(/^error: invalid configuration: 16 problems in 6 sources \(checked siteloom.yaml/);
  });

  it("checks environment blocks against the schema of the settings they override, in every environment", async () => {
    const dir = await workspace(
      "environments:\n  staging:\n    remote:\n      port: 0\n    deploy:\n      paralel: 2\n",
      "domain: shop.example.com\nenvironments:\n  production:\n    remote:\n      protocol: ftpx\n    environment: staging\n",
    );
    const result = await runCli(["config", "validate", "--json"], { cwd: dir });
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as {
      valid: boolean;
      environments: string[];
      problems: { text: string }[];
    };
    expect(report.valid).toBe(false);
    expect(report.environments).toEqual(["development", "staging", "production"]);
    expect(report.problems.map((p) => p.text)).toEqual([
      "siteloom.yaml:4:13 environments.staging.remote.port: must be at least 1, got 0",
      'siteloom.yaml:6:7 environments.staging.deploy.paralel: unknown key "paralel"; did you mean "parallel"?',
      'sites/shop/site.yaml:5:17 environments.production.remote.protocol: expected one of ftp, ftps, sftp, local, got "ftpx"; did you mean "ftp"?',
      'sites/shop/site.yaml:6:5 environments.production.environment: "environment" cannot be set inside an environment block',
    ]);
  });

  it("says valid and exits 0 for a good workspace; loadWorkspace errors carry the same lines", async () => {
    const dir = await workspace("deploy:\n  parallel: 4\n", "domain: shop.example.com\n");
    const ok = await runCli(["config", "validate"], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("valid: siteloom.yaml and 1 site, environments development, staging, production\n");
    await writeFile(join(dir, "sites", "shop", "site.yaml"), "domain: shop.example.com\nremote:\n  port: twenty-one\n");
    const bad = await runCli(["config", "show", "--site", "shop"], { cwd: dir });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toBe(
      "error: invalid configuration (1 problem); fix it and rerun (siteloom config validate lists every problem)\n" +
        'sites/shop/site.yaml:3:9 remote.port: expected a number, got "twenty-one"\n',
    );
    expect(bad.stderr).not.toMatch(/at .*\.js/); // no stack trace without --debug
  });

  it("reports a bad --set flag and a YAML error in siteloom.yaml with its position", async () => {
    const dir = await workspace("deploy:\n  parallel: 4\n  parallel: 5\n", "domain: shop.example.com\n");
    const result = await runCli(["config", "validate", "--set", "deploy.paralel=3"], { cwd: dir });
    expect(result.code).toBe(3);
    expect(result.stdout).toContain("siteloom.yaml:3:3: YAML syntax error: Map keys must be unique");
    expect(result.stdout).toContain(
      '--set deploy.paralel: unknown setting "deploy.paralel"; did you mean "deploy.parallel"?',
    );
    const usage = await runCli(["config", "show", "--set", "deploy.parallel"], { cwd: dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--set expects path=value");
  });
});

describe("cli: config schema", { timeout: SLOW }, () => {
  it("prints the JSON Schema generated from the zod schema", async () => {
    const dir = await useTempDir();
    const result = await runCli(["config", "schema"], { cwd: dir });
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["remote", "deploy", "secrets", "environments"]),
    );
    expect(schema.properties.deploy!.properties!.parallel).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 64,
      default: 8,
    });
    const site = JSON.parse((await runCli(["config", "schema", "--site"], { cwd: dir })).stdout) as {
      properties: Record<string, unknown>;
    };
    expect(site.properties.secrets).toBeUndefined();
    expect(site.properties.remote).toBeDefined();
  });
});
