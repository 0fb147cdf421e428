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
});
