import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AwsSecretsManagerFake, startAwsSecretsManager } from "../support/cloud/aws-secrets-manager.ts";
import { type AzureKeyVaultFake, startAzureKeyVault } from "../support/cloud/azure-key-vault.ts";
import { type DigitalOceanAppsFake, startDigitalOceanApps } from "../support/cloud/digitalocean-apps.ts";
import { type GcpSecretManagerFake, startGcpSecretManager } from "../support/cloud/gcp-secret-manager.ts";
import { randomValue, tempWorkspace } from "./helpers.ts";
import { startVaultServer } from "./support/vault-server.ts";

let aws: AwsSecretsManagerFake;
let gcp: GcpSecretManagerFake;
let azure: AzureKeyVaultFake;
let digitalocean: DigitalOceanAppsFake;
let vault: Awaited<ReturnType<typeof startVaultServer>>;
const VAULT_TOKEN = `hvs.${randomValue("t")}`;

beforeAll(async () => {
  [aws, gcp, azure, digitalocean, vault] = await Promise.all([
    startAwsSecretsManager(),
    startGcpSecretManager(),
    startAzureKeyVault(),
    startDigitalOceanApps(),
    startVaultServer(VAULT_TOKEN),
  ]);
});
afterAll(async () => {
  await Promise.all([aws?.close(), gcp?.close(), azure?.close(), digitalocean?.close(), vault?.close()]);
});

/** A workspace whose siteloom.yaml has one store of each remote type, and the environment the real SDKs read. */
async function cloudWorkspace() {
  const ws = await tempWorkspace({
    "siteloom.yaml": `environment: development
env: [DIGITALOCEAN_TOKEN]
secrets:
  stores:
    aws: { type: aws, region: ${aws.credentials.region}, endpoint: "${aws.url}" }
    gcp: { type: gcp, project: ${gcp.project}, keyFile: gcp-key.json, endpoint: "${gcp.url}" }
    azure: { type: azure, vaultUrl: "${azure.vaultUrl}", verifyChallengeResource: false }
    do: { type: digitalocean, appId: ${digitalocean.appId}, endpoint: "${digitalocean.url}", token: "\${DIGITALOCEAN_TOKEN}" }
    vault: { type: vault, address: "${vault.address}" }
`,
  });
  await writeFile(join(ws.root, "gcp-key.json"), JSON.stringify(gcp.serviceAccount), { mode: 0o600 });
  const env = {
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    NODE_EXTRA_CA_CERTS: azure.caFile,
    ...azure.identityEnv,
    DIGITALOCEAN_TOKEN: digitalocean.token,
    VAULT_TOKEN,
    SITELOOM_AGE_IDENTITY: undefined,
  };
  return {
    ...ws,
    run: (args: string[], input?: string) => ws.cli(args, { env, ...(input === undefined ? {} : { input }) }),
  };
}

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
    expect([...aws.secrets.keys()]).toContain("siteloom/development/shop/FTP_PASSWORD");
    await ws.run(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], `${value}-changed`);
    const again = await ws.run(["secrets", "copy", "--from", "file", "--to", "gcp", "--dry-run", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      updated: ["secret://shop/FTP_PASSWORD"],
      unchanged: ["secret://global/OPENAI_API_KEY"],
    });
  });
});
