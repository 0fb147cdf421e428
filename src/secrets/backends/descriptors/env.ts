import { z } from "zod";
import { defineBackend } from "../../define.ts";

export const EnvStoreSchema = z
  .strictObject({
    type: z.literal("env"),
    prefix: z.string().default("SITELOOM_SECRET_").describe("Prefix of the variables read"),
    secretsDir: z.string().default("/run/secrets").describe("Docker/Kubernetes secrets directory"),
  })
  .describe("Read-only store: environment variables, *_FILE variables and mounted secret files");

/** Read-only: environment variables, `*_FILE` variables and mounted secret files (containers, CI). */
export const envStore = defineBackend({
  type: "env",
  summary: "read-only: SITELOOM_SECRET_* variables, *_FILE variables and mounted secret files",
  writable: false,
  schema: EnvStoreSchema,
  load: () => import("../env.ts"),
});
