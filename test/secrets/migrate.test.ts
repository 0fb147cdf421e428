import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { applyMigrate, createFileBackend, createSecretStore, planMigrate } from "../../src/secrets/index.ts";
import { rewriteYamlValues, scanYaml } from "../../src/secrets/plaintext.ts";
import { randomValue, tempWorkspace } from "./helpers.ts";

describe("secrets: migrate", { timeout: 300_000 }, () => {
  it("finds credentials by key and by shape, with file:line and sensible names", () => {
    const text = [
      "llm:",
      "  provider: anthropic",
      "  apiKey: abc-123-xyz",
      "remote:",
      "  protocol: sftp",
      "  password: pw-1234",
      "  privateKey: ~/.ssh/id_ed25519",
      "  user: me",
      "notes:",
      "  - ghp_abcdefghijklmnopqrstuvwx1234",
      "environments:",
      "  production:",
      "    wordpress: { appPassword: 'abcd efgh ijkl' }",
      "  staging:",
      "    remote:",
      "      password: secret://shop/FTP_PASSWORD",
    ].join("\n");
    const found = scanYaml(text, "sites/shop/site.yaml", "shop");
    expect(found.map((f) => [f.path.join("."), f.line, f.name, f.env])).toEqual([
      ["llm.apiKey", 3, "ANTHROPIC_API_KEY", undefined],
      ["remote.password", 6, "SFTP_PASSWORD", undefined],
      ["notes.0", 10, "NOTES_0", undefined],
      ["environments.production.wordpress.appPassword", 13, "WP_APP_PASSWORD", "production"],
    ]);
    expect(JSON.stringify(found)).not.toContain("pw-1234");
  });

  it("rewrites only the value bytes, keeping comments, order, quotes and odd spacing", () => {
    const text = [
      "# top comment",
      "remote:   # trailing comment",
      '  host:    "ftp.example.com"',
      "  password:   'it''s-a-pw'    # keep me",
      "  user: shop",
      "",
      "llm: {provider: openai, apiKey: sk-abcdefghijklmnopqrstuv}  # flow",
      "# end",
      "",
    ].join("\n");
    const out = rewriteYamlValues(text, [
      { path: ["remote", "password"], ref: "secret://shop/FTP_PASSWORD" },
      { path: ["llm", "apiKey"], ref: "secret://shop/OPENAI_API_KEY" },
    ]);
    expect(out).toBe(
      [
        "# top comment",
        "remote:   # trailing comment",
        '  host:    "ftp.example.com"',
        "  password:   'secret://shop/FTP_PASSWORD'    # keep me",
        "  user: shop",
        "",
        "llm: {provider: openai, apiKey: secret://shop/OPENAI_API_KEY}  # flow",
        "# end",
        "",
      ].join("\n"),
    );
  });

  it("CLI: dry run shows a masked diff; the run stores, rewrites, backs up (0600), resolves, and a rerun does nothing", async () => {
    const pw = randomValue("ftp");
    const key = `sk-${randomValue("k").replace(/-/g, "")}abcdefghijklmnop`;
    const site = [
      "# Shop site — hand written",
      "remote:",
      "  protocol: ftp",
      "  host:   ftp.shop.example   # the old host",
      "  user: shop",
      `  password:    "${pw}"   # TODO move`,
      "",
    ].join("\n");
    const workspace = ["environment: development", "llm:", "  provider: openai", `  apiKey: ${key}`, ""].join("\n");
    const ws = await tempWorkspace({ "sites/shop/site.yaml": site, "siteloom.yaml": workspace });
    await ws.cli(["secrets", "init"]);

    const dry = await ws.cli(["secrets", "migrate", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('-   password:    "****"   # TODO move');
    expect(dry.stdout).toContain('+   password:    "secret://shop/FTP_PASSWORD"   # TODO move');
    expect(dry.stdout).toContain("+   apiKey: secret://global/OPENAI_API_KEY");
    expect(dry.stdout + dry.stderr).not.toContain(pw);
    expect(dry.stdout + dry.stderr).not.toContain(key);
    expect(await readFile(join(ws.root, "sites/shop/site.yaml"), "utf8")).toBe(site);

    const run = await ws.cli(["secrets", "migrate"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(pw);
    const after = await readFile(join(ws.root, "sites/shop/site.yaml"), "utf8");
    expect(after).toBe(site.replace(pw, "secret://shop/FTP_PASSWORD"));
    expect(await readFile(join(ws.root, "siteloom.yaml"), "utf8")).toBe(
      workspace.replace(key, "secret://global/OPENAI_API_KEY"),
    );
    const backups = await readdir(join(ws.root, ".siteloom", "backups"));
    expect(backups).toHaveLength(2);
    for (const b of backups) expect((await stat(join(ws.root, ".siteloom", "backups", b))).mode & 0o777).toBe(0o600);
    expect((await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"])).stdout).toBe(`${pw}\n`);
    expect((await ws.cli(["secrets", "get", "global/OPENAI_API_KEY", "--reveal"])).stdout).toBe(`${key}\n`);

    const again = await ws.cli(["secrets", "migrate"]);
    expect(again.stdout).toContain("nothing to migrate");
    expect(await readFile(join(ws.root, "sites/shop/site.yaml"), "utf8")).toBe(after);
    const audit = await ws.cli(["audit", "--action", "config.write", "--json"]);
    expect(
      JSON.parse(audit.stdout)
        .map((e: { ref: string }) => e.ref)
        .sort(),
    ).toEqual(["siteloom.yaml", "sites/shop/site.yaml"]);
  });

  it("a file edited between the plan and the apply (the plan may wait at a prompt without the locks): no file is rewritten", async () => {
    const pw = randomValue("ftp");
    const key = `sk-${randomValue("k").replace(/-/g, "")}abcdefghijklmnop`;
    const workspace = ["environment: development", "llm:", "  provider: openai", `  apiKey: ${key}`, ""].join("\n");
    const site = [
      "remote:",
      "  protocol: ftp",
      "  host: ftp.shop.example",
      "  user: shop",
      `  password: "${pw}"`,
      "",
    ].join("\n");
    const ws = await tempWorkspace({ "siteloom.yaml": workspace, "sites/shop/site.yaml": site });
    const key2 = await generateX25519Identity();
    const identity = { identities: [key2], recipients: [await identityToRecipient(key2)], source: "test" };
    const store = createSecretStore(
      createFileBackend({
        path: join(ws.root, ".siteloom", "secrets.age"),
        env: "development",
        identity: async () => identity,
      }),
      { name: "file", env: "development", actor: "tester" },
    );
    const options = {
      root: ws.root,
      stateDir: join(ws.root, ".siteloom"),
      env: "development",
      storeFor: async () => store,
    };
    const plan = await planMigrate(options);
    expect(plan.rewrites).toHaveLength(2);
    // another writer changes the site's file meanwhile; siteloom.yaml comes first in the plan or not, it must stay
    const edited = site.replace("ftp.shop.example", "ftp2.shop.example");
    await writeFile(join(ws.root, "sites/shop/site.yaml"), edited);
    await expect(applyMigrate(plan, options)).rejects.toThrow(
      "sites/shop/site.yaml changed while migrating; run siteloom secrets migrate again",
    );
    expect(await readFile(join(ws.root, "siteloom.yaml"), "utf8")).toBe(workspace);
    expect(await readFile(join(ws.root, "sites/shop/site.yaml"), "utf8")).toBe(edited);
    await expect(readdir(join(ws.root, ".siteloom", "backups"))).rejects.toThrow();
    // the values were stored by the plan: a rerun migrates the edited file
    const again = await applyMigrate(await planMigrate(options), options);
    expect(again.files.map((f) => f.file).sort()).toEqual(["siteloom.yaml", "sites/shop/site.yaml"]);
    expect(await readFile(join(ws.root, "sites/shop/site.yaml"), "utf8")).toBe(
      edited.replace(pw, "secret://shop/FTP_PASSWORD"),
    );
  });

  it("CLI: --from-dotenv stores the credentials of a .env file under their names", async () => {
    const ws = await tempWorkspace();
    await ws.cli(["secrets", "init"]);
    const token = randomValue("tok");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(ws.root, ".env"),
      `# env\nexport DEPLOY_TOKEN="${token}"\nSITELOOM_SECRET_SHOP__FTP_PASSWORD=${token}x\nPORT=8080\n`,
    );
    const run = await ws.cli(["secrets", "migrate", "--from-dotenv", ".env", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).items.map((i: { ref: string }) => i.ref)).toEqual([
      "secret://global/DEPLOY_TOKEN",
      "secret://shop/FTP_PASSWORD",
    ]);
    expect(run.stdout).not.toContain(token);
    expect((await ws.cli(["secrets", "get", "global/DEPLOY_TOKEN", "--reveal"])).stdout).toBe(`${token}\n`);
  });
});
