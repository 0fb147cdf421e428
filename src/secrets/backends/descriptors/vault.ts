import { z } from "zod";
import { credential } from "../../../schema-marks.ts";
import { defineBackend } from "../../define.ts";

export const VaultStoreSchema = z
  .strictObject({
    type: z.literal("vault"),
    address: z.string().url().describe("Vault address, e.g. https://vault.example.com:8200"),
    token: credential(/(^|_)VAULT_TOKEN$/)
      .optional()
      .describe("Vault token (reference allowed: ${VAULT_TOKEN})"),
    mount: z.string().default("secret").describe("KV v2 mount"),
    prefix: z.string().default("siteloom").describe("Path prefix inside the mount"),
  })
  .describe("HashiCorp Vault KV v2");

/** HashiCorp Vault KV v2 over its HTTP API. */
export const vaultStore = defineBackend({
  type: "vault",
  summary: "HashiCorp Vault KV v2 (token from the store's token reference or VAULT_TOKEN)",
  writable: true,
  schema: VaultStoreSchema,
  load: () => import("../vault.ts"),
});
