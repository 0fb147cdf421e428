import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type LoadWorkspaceOptions,
  loadWorkspace,
  type Origin,
  type SiteConfig,
  type SiteContext,
  SiteloomError,
  validateWorkspace,
  type Workspace,
} from "../../src/index.ts";
import { checkSiteName } from "../../src/workspace/index.ts";
import { useTempDir } from "../support/cli.ts";

async function makeWorkspace(): Promise<string> {
  const dir = await useTempDir();
  await writeFile(
    join(dir, "siteloom.yaml"),
    "env: [SHOP_PW]\ndeploy:\n  parallel: 3\nenvironments:\n  production:\n    deploy:\n      parallel: 2\n",
  );
  await mkdir(join(dir, "sites", "shop"), { recursive: true });
  await writeFile(
    join(dir, "sites", "shop", "site.yaml"),
    "domain: shop.example.com\nremote:\n  password: ${SHOP_PW}\n  user: secret://shop/FTP_USER\n",
  );
  return dir;
}

describe("workspace: library API", () => {
  it("loads from code with types, and layers variables passed as an object (not process.env)", async () => {
    const dir = await makeWorkspace();
    const options: LoadWorkspaceOptions = {
      workspace: dir,
      env: "production",
      vars: { SITELOOM_SITES__SHOP__DEPLOY__RETRIES: "9", SHOP_PW: "pw-from-env" },
      flags: { "deploy.verify": "hash" },
    };
    const ws = await loadWorkspace(options);
    expectTypeOf(ws).toEqualTypeOf<Workspace>();
    expect(ws.env).toBe("production");
    expect(ws.envSource).toBe("flag");
    expect(ws.sites).toEqual(["shop"]);
    expect(ws.config.deploy.parallel).toBe(2);
    const shop = await ws.site("shop");
    expectTypeOf(shop).toEqualTypeOf<SiteContext>();
    expectTypeOf(shop.config).toEqualTypeOf<SiteConfig>();
    expectTypeOf(shop.origins.get("x")).toEqualTypeOf<Origin | undefined>();
    expect(shop.config.deploy.retries).toBe(9);
    expect(shop.config.deploy.verify).toBe("hash");
    expect(shop.origins.get("deploy.parallel")).toMatchObject({ layer: "workspace-env", line: 7 });
    expect(shop.paths.topics).toBe(join(dir, "sites", "shop", "topics.csv"));
    // references stay unresolved in config and resolve at use
    expect(shop.config.remote.password).toBe("${SHOP_PW}");
    const secret = await ws.resolve(shop.config.remote.password!, { field: "remote.password", site: "shop" });
    expect(secret.reveal()).toBe("pw-from-env");
    expect(String(secret)).toBe("****");
    await expect(ws.resolve(shop.config.remote.user!, { field: "remote.password", site: "shop" })).rejects.toThrow(
      /secret:\/\/shop\/FTP_USER \(site shop remote.password\): no secret store/,
    );
  });

  it("uses a secrets resolver factory called with the loaded workspace", async () => {
    const dir = await makeWorkspace();
    const { Secret } = await import("../../src/index.ts");
    const seen: string[] = [];
    const ws = await loadWorkspace({
      workspace: dir,
      vars: {},
      secrets: (w) => ({
        async resolve(ref) {
          seen.push(`${w.env}:${ref.scope}/${ref.name}`);
          return new Secret("u1");
        },
      }),
    });
    expect((await ws.resolve("secret://shop/FTP_USER", { field: "remote.password", site: "shop" })).reveal()).toBe(
      "u1",
    );
    expect(seen).toEqual(["development:shop/FTP_USER"]);
  });

  it("throws ERR_CONFIG_INVALID with positioned detail lines, and validateWorkspace collects them", async () => {
    const dir = await makeWorkspace();
    await writeFile(join(dir, "sites", "shop", "site.yaml"), "domain: shop.example.com\ndeploy:\n  parallel: many\n");
    const ws = await loadWorkspace({ workspace: dir, vars: {} });
    const error = await ws.site("shop").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SiteloomError);
    expect((error as SiteloomError).code).toBe("ERR_CONFIG_INVALID");
    expect((error as SiteloomError).details).toEqual([
      'sites/shop/site.yaml:3:13 deploy.parallel: expected a number, got "many"',
    ]);
    const report = await validateWorkspace({ workspace: dir, vars: {} });
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toEqual({
      file: "sites/shop/site.yaml",
      line: 3,
      col: 13,
      path: "deploy.parallel",
      message: 'expected a number, got "many"',
    });
  });
});

describe("workspace: validateWorkspace", () => {
  it("flags a site folder whose name is not a usable site name", async () => {
    const dir = await makeWorkspace();
    await mkdir(join(dir, "sites", "My_Site"), { recursive: true });
    await writeFile(join(dir, "sites", "My_Site", "site.yaml"), "domain: my.example.com\n");
    await mkdir(join(dir, "sites", "nul"), { recursive: true });
    await writeFile(join(dir, "sites", "nul", "site.yaml"), "domain: nul.example.com\n");
    const report = await validateWorkspace({ workspace: dir, vars: {} });
    const why =
      '(lowercase letters, digits and hyphens; not "global" nor a Windows device name such as con, nul, com1)';
    expect(report.problems.map((p) => `${p.file}: ${p.message}`)).toEqual([
      `sites/My_Site/site.yaml: "My_Site" is not a usable site name ${why}; rename the folder`,
      `sites/nul/site.yaml: "nul" is not a usable site name ${why}; rename the folder`,
    ]);
  });

  it.each(["con", "nul", "aux", "prn", "com1", "lpt9", "CON"])(
    "refuses the Windows device name %s as a site name",
    (name) => {
      expect(() => checkSiteName(name)).toThrow(/Windows device name|not a usable|lowercase/);
    },
  );
});

describe("workspace: production isolation", () => {
  it("refuses development-only settings in production only, naming where they were set", async () => {
    const dir = await makeWorkspace();
    await writeFile(
      join(dir, "sites", "shop", "site.yaml"),
      "domain: shop.example.com\nremote:\n  insecure: true\nenvironments:\n  production:\n    enrich:\n      drafts: preview\n",
    );
    const dev = await loadWorkspace({ workspace: dir, env: "development", vars: {} });
    expect((await dev.site("shop")).config.remote.insecure).toBe(true);

    const prod = await loadWorkspace({ workspace: dir, env: "production", vars: {} });
    const error = await prod.site("shop").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SiteloomError);
    expect((error as SiteloomError).details).toEqual([
      "sites/shop/site.yaml:3:13 remote.insecure: is a development-only setting: TLS verification cannot be skipped in production; pin remote.tlsFingerprint or remote.caFile instead",
      "sites/shop/site.yaml:7:15 enrich.drafts: is a development-only setting: draft previews would publish sample content; use drafts: skip (the default) in production",
    ]);
  });
});
