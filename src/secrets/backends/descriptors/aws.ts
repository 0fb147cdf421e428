import { z } from "zod";
import { defineBackend } from "../../define.ts";

export const AWS_SDK = "@aws-sdk/client-secrets-manager";
export const AWS_SDK_VERSION = "3.1178.0";

export const AwsStoreSchema = z
  .strictObject({
    type: z.literal("aws"),
    region: z.string().optional().describe("AWS region (default: AWS_REGION or the profile's)"),
    endpoint: z.string().url().optional().describe("Service endpoint (VPC or FIPS endpoint)"),
    kmsKeyId: z.string().optional().describe("KMS key for new secrets (default: aws/secretsmanager)"),
    prefix: z.string().default("siteloom").describe("Secret names are <prefix>/<env>/<scope>/<NAME>"),
    profile: z.string().optional().describe("Shared-config profile (default: AWS_PROFILE)"),
    recoveryWindowDays: z
      .number()
      .int()
      .min(7)
      .max(30)
      .optional()
      .describe("Keep deleted secrets restorable this many days (default: delete at once)"),
    maxAttempts: z.number().int().min(1).max(20).default(5).describe("Attempts per request (throttling included)"),
  })
  .describe("AWS Secrets Manager");

/** AWS Secrets Manager. */
export const awsStore = defineBackend({
  type: "aws",
  summary: "AWS Secrets Manager (standard credential chain: env, profile, web identity, container, instance)",
  writable: true,
  packages: [{ name: AWS_SDK, version: AWS_SDK_VERSION }],
  schema: AwsStoreSchema,
  load: () => import("../aws.ts"),
});
