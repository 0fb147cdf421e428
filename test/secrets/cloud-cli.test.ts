import { describe, expect, it } from "vitest";
import { randomValue } from "./helpers.ts";
import { useCloudStores } from "./support/cloud-stores.ts";

const { cloudWorkspace, servers } = useCloudStores();

describe("secrets: cloud stores from the CLI", { timeout: 600_000 }, () => {
  it("secrets backend lists the configured stores and every available type, also as JSON", async () => {
    const ws = await cloudWorkspace();
    const json = JSON.parse((await ws.run(["secrets", "backend", "--json"])).stdout) as {
      stores: { name: string; type: string }[];
      types: { type: string; writable: boolean; packages: { name: string; installed: boolean }[] }[];
    };
    expect(json.types.map((t) => t.type)).toEqual(["file", "env", "vault", "aws", "gcp", "azure", "digitalocean"]);
    expect(json.types.find((t) => t.type === "env")!.writable).toBe(false);
    expect(json.types.find((t) => t.type === "aws")!.packages).toEqual([
      { name: "@aws-sdk/client-secrets-manager", version: expect.any(String), installed: true },
    ]);
    expect(json.stores.map((s) => `${s.name}:${s.type}`)).toEqual(
      expect.arrayContaining(["aws:aws", "gcp:gcp", "azure:azure", "do:digitalocean", "vault:vault"]),
    );
    const text = (await ws.run(["secrets", "backend"])).stdout;
    expect(text).toMatch(/digitalocean\s+rw\s+DigitalOcean App Platform/);
  });

  it("copy --from file --to <each cloud store>: --dry-run reports what would be created or updated and writes nothing", async () => {
    const ws = await cloudWorkspace();
    const value = randomValue("copy");
    expect((await ws.run(["secrets", "init"])).code).toBe(0);
    await ws.run(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], value);
    await ws.run(["secrets", "set", "global/OPENAI_API_KEY", "--stdin"], `${value}-2`);
    for (const store of ["aws", "gcp", "azure", "do"]) {
      const dry = await ws.run(["secrets", "copy", "--from", "file", "--to", store, "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        dryRun: true,
        copied: ["secret://global/OPENAI_API_KEY", "secret://shop/FTP_PASSWORD"],
        updated: [],
      });
      const listed = await ws.run(["secrets", "list", "--store", store, "--json"]);
      expect(JSON.parse(listed.stdout)).toEqual([]);
      const real = await ws.run(["secrets", "copy", "--from", "file", "--to", store]);
      expect(real.code, real.stderr).toBe(0);
      expect(real.stdout).toContain("2 copied");
    }
    expect((await ws.run(["secrets", "get", "shop/FTP_PASSWORD", "--reveal", "--store", "aws"])).stdout).toBe(
      `${value}\n`,
    );
    expect([...servers.aws.secrets.keys()]).toContain("siteloom/development/shop/FTP_PASSWORD");
    await ws.run(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], `${value}-changed`);
    const again = await ws.run(["secrets", "copy", "--from", "file", "--to", "gcp", "--dry-run", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      updated: ["secret://shop/FTP_PASSWORD"],
      unchanged: ["secret://global/OPENAI_API_KEY"],
    });
  });

  it("copy from one cloud store to another, along a chain aws → gcp → azure → vault → do; a rerun writes only what it cannot compare", async () => {
    const ws = await cloudWorkspace();
    const value = randomValue("chain");
    for (const [ref, v] of [
      ["chain/FTP_PASSWORD", value],
      ["chain/SMTP_PASSWORD", `${value}-smtp`],
      ["chain/API_KEY", `${value}-key`],
    ]) {
      const set = await ws.run(["secrets", "set", ref!, "--stdin", "--store", "aws"], v);
      expect(set.code, set.stderr).toBe(0);
    }
    // another test of the file wrote to these servers: this one copies its own scope
    const scope = ["--scope", "chain"];
    const chain = ["aws", "gcp", "azure", "vault", "do"];
    for (const [i, to] of chain.slice(1).entries()) {
      const from = chain[i]!;
      const dry = await ws.run(["secrets", "copy", "--from", from, "--to", to, ...scope, "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        copied: ["secret://chain/API_KEY", "secret://chain/FTP_PASSWORD", "secret://chain/SMTP_PASSWORD"],
      });
      const real = await ws.run(["secrets", "copy", "--from", from, "--to", to, ...scope]);
      expect(real.code, real.stderr).toBe(0);
      expect(real.stdout).toContain("3 copied");
      expect(real.stdout).not.toContain(value);
    }
    for (const store of ["gcp", "azure", "vault"]) {
      const got = await ws.run(["secrets", "get", "chain/FTP_PASSWORD", "--reveal", "--store", store]);
      expect(got.stdout, `${store}: ${got.stderr}`).toBe(`${value}\n`);
    }
    // what the app's containers get after the spec is deployed
    expect(servers.digitalocean.runtimeEnv.SITELOOM_SECRET_CHAIN__SMTP_PASSWORD).toBe(`${value}-smtp`);
    expect(servers.digitalocean.runtimeEnv.SITELOOM_SECRET_CHAIN__API_KEY).toBe(`${value}-key`);

    const rerun = await ws.run(["secrets", "copy", "--from", "gcp", "--to", "azure", ...scope, "--json"]);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ copied: [], updated: [], unchanged: expect.any(Array) });
    expect(JSON.parse(rerun.stdout).unchanged).toHaveLength(3);
    // App Platform hands values back encrypted: a rerun cannot compare, so it writes them again, in one spec write
    const puts = servers.digitalocean.counts().PUT ?? 0;
    const again = await ws.run(["secrets", "copy", "--from", "vault", "--to", "do", ...scope, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ copied: [], unchanged: [] });
    expect(JSON.parse(again.stdout).updated).toHaveLength(3);
    expect((servers.digitalocean.counts().PUT ?? 0) - puts).toBe(1);
  });
});
