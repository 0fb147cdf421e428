import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadWorkspace } from "../../src/workspace/index.ts";
import { randomValue, tempWorkspace } from "../secrets/helpers.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type AppSpecDoc, appSpecRuleProblems, appSpecTypeProblems } from "./app-spec-rules.ts";

const SPEC_FILE = fileURLToPath(new URL("../../.do/app.yaml", import.meta.url));

/** The GENERAL variables a component of the spec runs with (app-level, then its own). */
function generalVars(spec: AppSpecDoc, component: AppSpecDoc): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const e of [...(spec.envs ?? []), ...(component.envs ?? [])]) if (e.type !== "SECRET") vars[e.key] = e.value;
  return vars;
}

describe("deploy: DigitalOcean App Platform spec (.do/app.yaml)", { timeout: 120_000 }, () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("uses only fields DigitalOcean documents, with the topology and secrets of issue 22", async () => {
    const spec = parse(await readFile(SPEC_FILE, "utf8"));
    expect(appSpecTypeProblems(spec)).toEqual([]);
    expect(appSpecRuleProblems(spec, { env: "production" })).toEqual([]);
  });

  it("the checks catch a typo, a wrong type, a literal secret and a credential that is not SECRET", async () => {
    const spec = parse(await readFile(SPEC_FILE, "utf8"));
    spec.services[0].instance_cout = 2;
    spec.workers[0].instance_count = "3";
    spec.envs.push({ key: "FTP_PASSWORD", value: "hunter2", scope: "RUN_TIME" });
    spec.envs.push({ key: "SITELOOM_SECRET_SHOP__TOKEN", value: "hunter3", type: "SECRET" });
    spec.databases[0].engine = "POSTGRES";
    expect(appSpecTypeProblems(spec)).toEqual([
      "spec.services[0].instance_cout: not a field of the app spec",
      'spec.workers[0].instance_count: expected an integer, got "3"',
      'spec.databases[0].engine: "POSTGRES" is not one of UNSET, MYSQL, PG, REDIS, MONGODB, KAFKA, OPENSEARCH, VALKEY',
    ]);
    expect(appSpecRuleProblems(spec, { env: "production" })).toEqual([
      "worker: 3 instances, expected 3",
      "no PostgreSQL 15 database",
      "app: FTP_PASSWORD is a credential but not of type SECRET",
      "app: SITELOOM_SECRET_SHOP__TOKEN holds a literal secret value",
    ]);
  });

  it("what the spec sets is a valid configuration, and a process started with it finds its PostgreSQL (doctor)", async () => {
    const spec = parse(await readFile(SPEC_FILE, "utf8"));
    const api = spec.services[0];
    const ws = await tempWorkspace({
      "siteloom.yaml": "{}\n",
      "sites/shop/site.yaml": "remote: { protocol: local }\n",
    });
    const loaded = await loadWorkspace({ workspace: ws.root, vars: generalVars(spec, api) });
    expect(loaded.env).toBe("production");
    expect(loaded.config.server.host).toBe("0.0.0.0");
    expect(loaded.config.server.port).toBe(api.http_port);
    expect(loaded.config.store.url).toBe("secret://global/STORE_URL");
    // App Platform fills the SECRET variable from the database binding; here the harness's PostgreSQL 15 stands in
    const url = await pg.createDatabase("app_spec");
    const env = { ...generalVars(spec, api), SITELOOM_WORKSPACE: ws.root, SITELOOM_SECRET_GLOBAL__STORE_URL: url };
    const got = await ws.cli(["secrets", "get", "secret://global/STORE_URL", "--reveal"], { env });
    expect(got.stderr).toBe("");
    expect(got.stdout).toBe(`${url}\n`);
    const doctor = await ws.cli(["doctor"], { env });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain("ok   database: PostgreSQL from store.url (secret://global/STORE_URL): reachable");
    // the URL as redactUrl shows it: the user kept, the password masked
    expect(doctor.stdout).toMatch(/^ok {3}queue: postgres:\/\/[^:@\s]+:\*{4}@127\.0\.0\.1:\d+\/app_spec: /m);
    expect(doctor.stdout).not.toContain(pg.password);
  });

  it("secrets export --to do-app-spec names every reference of the environment, never a value, and keeps untrusted names inert", async () => {
    const ws = await tempWorkspace({
      "siteloom.yaml": [
        "env: [WP_APP_PASSWORD, NODE_OPTIONS]",
        "llm: { provider: openai, apiKey: secret://global/OPENAI_API_KEY }",
        "",
      ].join("\n"),
      "sites/shop/site.yaml": [
        "remote: { protocol: ftp, host: 127.0.0.1, user: shop, password: secret://shop/FTP_PASSWORD }",
        "wordpress: { url: https://shop.example.com, user: editor, appPassword: '${WP_APP_PASSWORD}' }",
        "environments:",
        "  staging: { remote: { password: secret://shop/FTP_PASSWORD_STAGING } }",
        "",
      ].join("\n"),
      "sites/evil/site.yaml": [
        // a name the process depends on, allowed by env: all the same, must not become an app variable
        "remote: { protocol: sftp, host: 127.0.0.1, user: x, password: '${NODE_OPTIONS}' }",
        "",
      ].join("\n"),
    });
    expect((await ws.cli(["secrets", "init", "--env", "staging"])).code).toBe(0);
    const canary = randomValue("canary");
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD_STAGING", "--stdin", "--env", "staging"], { input: canary });

    const out = await ws.cli(["secrets", "export", "--to", "do-app-spec", "--env", "staging", "--out", "app.yaml"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(
      "wrote app.yaml: app siteloom-staging, 3 SECRET variables added, 0 kept (names only; set the values in DigitalOcean)\n",
    );
    expect(out.stderr).toContain(
      "left out: site evil remote.password: ${NODE_OPTIONS} names a variable the process itself depends on",
    );
    const text = await readFile(join(ws.root, "app.yaml"), "utf8");
    expect(text).not.toContain(canary);
    expect(text).toContain("# DigitalOcean App Platform spec for siteloom"); // comments kept
    const spec = parse(text);
    expect(appSpecTypeProblems(spec)).toEqual([]);
    expect(appSpecRuleProblems(spec, { env: "staging" })).toEqual([]);
    const secrets = spec.envs.filter((e: AppSpecDoc) => e.type === "SECRET");
    expect(secrets.map((e: AppSpecDoc) => e.key).sort()).toEqual([
      "SITELOOM_SECRET_GLOBAL__OPENAI_API_KEY",
      "SITELOOM_SECRET_GLOBAL__STORE_URL",
      "SITELOOM_SECRET_SHOP__FTP_PASSWORD_STAGING",
      "WP_APP_PASSWORD",
    ]);
    expect(
      secrets.filter((e: AppSpecDoc) => e.key !== "SITELOOM_SECRET_GLOBAL__STORE_URL").map((e: AppSpecDoc) => e.value),
    ).toEqual([undefined, undefined, undefined]);
    expect(spec.envs.map((e: AppSpecDoc) => e.key)).not.toContain("NODE_OPTIONS");

    // a spec read back from DigitalOcean (values encrypted) is filled again without losing a value
    spec.envs.find((e: AppSpecDoc) => e.key === "WP_APP_PASSWORD").value = "EV[1:abc:def]";
    await writeFile(join(ws.root, "current.yaml"), stringify(spec));
    const again = await ws.cli([
      "--json",
      "secrets",
      "export",
      "--to",
      "do-app-spec",
      "--env",
      "staging",
      "--spec",
      "current.yaml",
    ]);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.added).toEqual([]);
    expect(report.app).toBe("siteloom-staging");
    const respec = parse(report.spec);
    expect(respec.envs.find((e: AppSpecDoc) => e.key === "WP_APP_PASSWORD").value).toBe("EV[1:abc:def]");
    expect(respec.envs.filter((e: AppSpecDoc) => e.key === "SITELOOM_ENV")).toHaveLength(1);

    // production: the production references, the app's own name
    const prod = await ws.cli(["--json", "secrets", "export", "--to", "do-app-spec", "--env", "production"]);
    const prodReport = JSON.parse(prod.stdout);
    expect(prodReport.app).toBe("siteloom");
    expect(prodReport.variables.map((v: { key: string }) => v.key)).toContain("SITELOOM_SECRET_SHOP__FTP_PASSWORD");
    expect(prodReport.variables.map((v: { key: string }) => v.key)).not.toContain(
      "SITELOOM_SECRET_SHOP__FTP_PASSWORD_STAGING",
    );

    const bad = await ws.cli(["secrets", "export", "--to", "do-app-spec", "--spec", "missing.yaml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: cannot read the app spec missing.yaml \(ENOENT\): pass --spec FILE\n$/);
  });
});
