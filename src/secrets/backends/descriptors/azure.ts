import { z } from "zod";
import { defineBackend } from "../../define.ts";

export const AZURE_SDK = "@azure/keyvault-secrets";
export const AZURE_SDK_VERSION = "4.11.2";
export const AZURE_IDENTITY = "@azure/identity";
export const AZURE_IDENTITY_VERSION = "4.13.1";

export const AzureStoreSchema = z
  .strictObject({
    type: z.literal("azure"),
    vaultUrl: z.string().url().describe("Vault URL, e.g. https://my-vault.vault.azure.net"),
    prefix: z.string().default("siteloom").describe("Secret names are <prefix>--<env>--<scope>--<NAME>"),
    purge: z.boolean().default(true).describe("Purge after delete when the vault allows it (no purge protection)"),
    caFile: z.string().optional().describe("Extra CA certificate to trust for the vault (private endpoints)"),
    verifyChallengeResource: z
      .boolean()
      .default(true)
      .describe("Check that the vault's auth challenge names the vault's own domain"),
  })
  .describe("Azure Key Vault");

/** Azure Key Vault. */
export const azureStore = defineBackend({
  type: "azure",
  summary: "Azure Key Vault (DefaultAzureCredential: environment, workload or managed identity, Azure CLI)",
  writable: true,
  packages: [
    { name: AZURE_SDK, version: AZURE_SDK_VERSION },
    { name: AZURE_IDENTITY, version: AZURE_IDENTITY_VERSION },
  ],
  schema: AzureStoreSchema,
  load: () => import("../azure.ts"),
});
