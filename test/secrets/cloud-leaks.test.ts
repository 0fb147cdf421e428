import { readdir, readFile, writeFile } from "node:fs/promises";
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

describe("secrets: leak canary over every remote store", { timeout: 600_000 }, () => {
  it("leak canary: a value never appears in output, errors, audit or state files, whichever store holds it", async () => {
    const ws = await cloudWorkspace();
    const canary = `Canary-${randomValue("leak")}/+=&?`;
    const forms = [canary, encodeURIComponent(canary), Buffer.from(canary).toString("base64")];
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const r = await ws.run(args, input);
      outputs.push(`$ ${args.join(" ")}\n${r.stdout}${r.stderr}`);
      return r;
    };
    await run(["secrets", "init"]);
    for (const store of ["aws", "gcp", "azure", "do", "vault"]) {
      const set = await run(["secrets", "set", "shop/FTP_PASSWORD", "--stdin", "--store", store, "--debug"], canary);
      expect(set.code, `${store}: ${set.stderr}`).toBe(0);
      await run(["secrets", "get", "shop/FTP_PASSWORD", "--store", store, "--json", "--debug"]);
      await run(["secrets", "list", "--store", store, "--json", "--debug"]);
      await run(["secrets", "rotate", "shop/FTP_PASSWORD", "--stdin", "--store", store, "--debug"], canary);
      await run(["secrets", "history", "shop/FTP_PASSWORD", "--store", store, "--json"]);
      await run(["secrets", "copy", "--from", store, "--to", "file", "--debug"]);
      await run(["secrets", "get", "shop/NOPE", "--store", store, "--debug"]);
      await run(["secrets", "rotate", "shop/NOPE", "--stdin", "--store", store, "--debug"], canary);
      // service refusals: too large a value echoes nothing back
      await run(
        ["secrets", "set", "shop/BIG", "--stdin", "--store", store, "--debug"],
        `${canary}${"x".repeat(70_000)}`,
      );
    }
    aws.deny.add("secretsmanager:GetSecretValue");
    gcp.deny.add("secretmanager.versions.access");
    azure.deny.add("getSecret");
    try {
      for (const store of ["aws", "gcp", "azure"]) {
        const denied = await run(["secrets", "get", "shop/FTP_PASSWORD", "--store", store, "--debug"]);
        expect(denied.stderr).toContain("permission denied for");
      }
    } finally {
      aws.deny.clear();
      gcp.deny.clear();
      azure.deny.clear();
    }
    await run(["audit", "--json"]);
    const text = outputs.join("\n");
    for (const form of forms) expect(text).not.toContain(form);
    const files = await _allFiles(ws.root);
    expect(files.some((f) => f.endsWith("audit.log"))).toBe(true);
    for (const file of files) {
      const content = (await readFile(file)).toString("latin1");
      for (const form of forms) expect(content, file).not.toContain(form);
    }
    // and it really was stored in each service
    expect((await ws.run(["secrets", "get", "shop/FTP_PASSWORD", "--reveal", "--store", "azure"])).stdout).toBe(
      `${canary}\n`,
    );
    expect(digitalocean.runtimeEnv.SITELOOM_SECRET_SHOP__FTP_PASSWORD).toBe(canary);
  });
});

async function _allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await _allFiles(full)));
    else out.push(full);
  }
  return out;
}
