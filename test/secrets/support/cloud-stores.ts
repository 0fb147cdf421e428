import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type AwsSecretsManagerFake, startAwsSecretsManager } from "../../support/cloud/aws-secrets-manager.ts";
import { type AzureKeyVaultFake, startAzureKeyVault } from "../../support/cloud/azure-key-vault.ts";
import { type DigitalOceanAppsFake, startDigitalOceanApps } from "../../support/cloud/digitalocean-apps.ts";
import { type GcpSecretManagerFake, startGcpSecretManager } from "../../support/cloud/gcp-secret-manager.ts";
import { startVaultServer, type VaultFake } from "../../support/cloud/hashicorp-vault.ts";
import { randomValue, tempWorkspace } from "../helpers.ts";

/**
 * Starts one local server of each remote store type (aws, gcp, azure, digitalocean, vault) for the calling test file
 * and returns a maker of workspaces whose siteloom.yaml has one store of each, run with the environment the real
 * SDKs read.
 */
export function useCloudStores() {
  let aws: AwsSecretsManagerFake;
  let gcp: GcpSecretManagerFake;
  let azure: AzureKeyVaultFake;
  let digitalocean: DigitalOceanAppsFake;
  let vault: VaultFake;
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
  /** The running servers (set once the file's beforeAll has run). */
  const servers = {
    get aws() {
      return aws;
    },
    get gcp() {
      return gcp;
    },
    get azure() {
      return azure;
    },
    get digitalocean() {
      return digitalocean;
    },
  };
  return { cloudWorkspace, servers };
}
