import { z } from "zod";
import { defineBackend } from "../../define.ts";

export const GCP_SDK = "@google-cloud/secret-manager";
export const GCP_SDK_VERSION = "6.3.0";

export const GcpStoreSchema = z
  .strictObject({
    type: z.literal("gcp"),
    project: z.string().min(1).describe("Project id (or number) holding the secrets"),
    prefix: z.string().default("siteloom").describe("Secret ids are <prefix>--<env>--<scope>--<NAME>"),
    replication: z
      .union([z.literal("automatic"), z.array(z.string()).min(1)])
      .default("automatic")
      .describe('"automatic", or the locations of user-managed replicas'),
    keyFile: z.string().optional().describe("Service-account key file (default: Application Default Credentials)"),
    endpoint: z.string().url().optional().describe("API endpoint (private or regional endpoint)"),
  })
  .describe("Google Secret Manager");

/** Google Secret Manager. */
export const gcpStore = defineBackend({
  type: "gcp",
  summary: "Google Secret Manager (Application Default Credentials)",
  writable: true,
  packages: [{ name: GCP_SDK, version: GCP_SDK_VERSION }],
  schema: GcpStoreSchema,
  load: () => import("../gcp.ts"),
});
