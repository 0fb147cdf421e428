import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LATEST_SCHEMA_VERSION } from "../../src/store/index.ts";
import { randomValue, tempWorkspace } from "../secrets/helpers.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { freePort } from "../support/servers/common.ts";

const SITE = (host: string) =>
  `remote:\n  protocol: ftp\n  host: ${host}\n  port: 2121\n  user: shop\n  password: secret://shop/FTP_PASSWORD\n`;

/** A workspace on the env store (as in a container): the credential comes from a variable. */
async function containerWorkspace(host = "localhost") {
  const ws = await tempWorkspace({
    "siteloom.yaml": "secrets: { backend: env }\n",
    "sites/shop/site.yaml": SITE(host),
  });
  const env = { SITELOOM_SECRET_SHOP__FTP_PASSWORD: randomValue("pw") };
  return { ws, env };
}

describe("cli: siteloom doctor", { timeout: 180_000 }, () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("SQLite, the env store, a host that resolves: one ok line per check, exit 0", async () => {
    const { ws, env } = await containerWorkspace();
    const run = await ws.cli(["doctor"], { env });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.slice(0, 4) + l.slice(4).split(":")[0])).toEqual([
      "ok   config",
      "ok   database",
      "warn secrets",
      "ok   secrets",
      "ok   secrets",
      "skip queue",
      "ok   remote",
    ]);
    expect(lines[0]).toBe(`ok   config: ${ws.root}, environment development, 1 site`);
    // the file store nothing uses here cannot open: a warning, not a failure
    expect(lines[2]).toMatch(/^warn secrets: store file: /);
    expect(lines[3]).toContain("store env (default): environment and /run/secrets: 1 secret visible");
    expect(lines[4]).toBe("ok   secrets: store env holds all 1 secret:// references");
    expect(lines[1]).toBe(
      `ok   database: SQLite ${ws.root}/.siteloom/state.db: reachable, schema version ${LATEST_SCHEMA_VERSION} (migrated)`,
    );
    expect(lines[6]).toMatch(/^ok {3}remote: shop: ftp:\/\/localhost resolves to (127\.0\.0\.1|::1)/);
    const json = await ws.cli(["--json", "doctor"], { env });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c: { check: string; status: string }) => `${c.check} ${c.status}`)).toEqual([
      "config ok",
      "database ok",
      "secrets warn",
      "secrets ok",
      "secrets ok",
      "queue skip",
      "remote ok",
    ]);
  });

  it("PostgreSQL as the store and the queue: migrated, pg-boss ready", async () => {
    const { ws, env } = await containerWorkspace();
    const url = await pg.createDatabase("doctor_ok");
    const run = await ws.cli(["doctor"], { env: { ...env, SITELOOM_STORE: url } });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const host = `postgres://siteloom:****@127.0.0.1:${pg.port}/doctor_ok`;
    expect(run.stdout).toContain(`ok   database: postgres://siteloom:****@127.0.0.1:${pg.port}/doctor_ok`);
    expect(run.stdout).toContain(`schema version ${LATEST_SCHEMA_VERSION} (migrated)`);
    expect(run.stdout).toContain(`ok   queue: ${host}: ready`);
    expect(run.stdout).not.toContain(pg.password);
    const [row] = await pg.query<{ v: number }>("SELECT MAX(version) AS v FROM schema_migrations", [], "doctor_ok");
    expect(row!.v).toBe(LATEST_SCHEMA_VERSION);
  });

  it("a database that is not there: FAIL database, exit 1, no password, nothing checked after it", async () => {
    const { ws, env } = await containerWorkspace();
    const password = randomValue("dbpw");
    const url = `postgres://siteloom:${password}@127.0.0.1:${await freePort()}/nowhere`;
    const run = await ws.cli(["doctor"], { env: { ...env, SITELOOM_STORE: url } });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL database: postgres:\/\/siteloom:\*\*\*\*@127\.0\.0\.1:\d+\/nowhere: /m);
    expect(run.stdout).not.toContain("secrets:");
    expect(run.stdout).not.toContain("queue:");
    expect(run.stdout + run.stderr).not.toContain(password);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^error: doctor: database: /);
  });

  it("a remote host that does not resolve: FAIL remote naming the site and file, exit 5", async () => {
    const { ws, env } = await containerWorkspace("siteloom-doctor-test.invalid");
    const run = await ws.cli(["doctor"], { env });
    expect(run.code).toBe(5);
    expect(run.stdout).toContain(
      "FAIL remote: shop: siteloom-doctor-test.invalid does not resolve (ENOTFOUND); check remote.host of sites/shop/site.yaml and this machine's DNS",
    );
    expect(run.stderr).toMatch(/^error: doctor: remote: shop: siteloom-doctor-test\.invalid does not resolve/);
    expect(run.stderr).not.toContain("    at ");
  });

  it("a broken config: FAIL config with file and line, exit 3, nothing else checked", async () => {
    const ws = await tempWorkspace({ "siteloom.yaml": "deploy:\n  paralel: 4\n" });
    const run = await ws.cli(["doctor"]);
    expect(run.code).toBe(3);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^FAIL config: siteloom\.yaml:2:3 deploy\.paralel: unknown key "paralel"; did you mean "parallel"\?$/,
    );
    expect(run.stderr).not.toContain("    at ");
  });

  it("a reference the store does not hold: a warning naming it, not a failure", async () => {
    const { ws } = await containerWorkspace();
    const run = await ws.cli(["doctor"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "warn secrets: store env does not hold secret://shop/FTP_PASSWORD: siteloom secrets set <scope>/<NAME> --env development",
    );
  });

  it("a secret store the references need and that cannot open: FAIL secrets, exit 4", async () => {
    const ws = await tempWorkspace(); // the default file store, never initialised; the site refers to it
    const run = await ws.cli(["doctor"]);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(
      "FAIL secrets: store file (default): store .siteloom/secrets.development.age does not exist; run siteloom secrets init (1 secret:// reference need it)",
    );
  });
});
