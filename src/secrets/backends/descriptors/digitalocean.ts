import { z } from "zod";
import { credential } from "../../../schema-marks.ts";
import { defineBackend } from "../../define.ts";

export const DigitaloceanStoreSchema = z
  .strictObject({
    type: z.literal("digitalocean"),
    appId: z.string().min(1).describe("App Platform app id"),
    token: credential(/(^|_)DIGITALOCEAN_TOKEN$/)
      .optional()
      .describe("API token reference (default: DIGITALOCEAN_TOKEN)"),
    prefix: z.string().default("SITELOOM_SECRET_").describe("Env var prefix (what the env store reads in the app)"),
    endpoint: z.string().url().optional().describe("API base URL"),
  })
  .describe("DigitalOcean App Platform");

/** DigitalOcean App Platform. */
export const digitaloceanStore = defineBackend({
  type: "digitalocean",
  summary: "DigitalOcean App Platform app-level SECRET env vars (write-mostly: read inside the app via the env store)",
  writable: true,
  schema: DigitaloceanStoreSchema,
  load: () => import("../digitalocean.ts"),
});
