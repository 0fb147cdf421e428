import { z } from "zod";
import { defineBackend } from "../../define.ts";

export const FileStoreSchema = z
  .strictObject({
    type: z.literal("file"),
    /** Store file; `{env}` is replaced by the environment name. */
    path: z.string().default(".siteloom/secrets.{env}.age").describe("Encrypted store file; {env} → environment"),
    /** age X25519 recipients (public keys) the store is encrypted to, besides the local identity. */
    recipients: z.array(z.string()).default([]).describe("Extra age recipients (age1...) that can decrypt the store"),
    /** Encrypt to a passphrase (scrypt) instead of X25519 identities. */
    passphrase: z.boolean().default(false).describe("Encrypt with a passphrase instead of an X25519 identity"),
    /** Identity file; default `$XDG_CONFIG_HOME/siteloom/<workspace-id>.<env>.key`. */
    identityFile: z.string().optional().describe("Path of the age identity (private key) file"),
  })
  .describe("age-encrypted file store");

/** The age-encrypted file store, the default. */
export const fileStore = defineBackend({
  type: "file",
  summary: "age-encrypted file per environment (.siteloom/secrets.<env>.age), the default",
  writable: true,
  schema: FileStoreSchema,
  load: () => import("../file.ts"),
});
