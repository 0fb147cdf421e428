/**
 * The marks a zod field carries in the schema registry: which fields are credentials and how a change to a field is
 * guarded. At the root because both the config schema and the secret backends' option schemas (which the config
 * schema composes) mark their fields; `config/schema-walk.ts` reads the marks.
 */
import { z } from "zod";

/** Registry key marking a credential field (set by the schema's `credential()` helper). */
export const CREDENTIAL_META = "x-siteloom-credential";

/**
 * Registry key of a field's guard: what a change to it can do to credentials, and so who may change it.
 * - `credential`: holds a credential (or says which key file is one);
 * - `destination`: decides where a credential is sent or whom the connection trusts (host, URL, TLS pinning);
 * - `store`: decides where secrets are kept, who can decrypt them and what references may read (stores,
 *   recipients, the `env:` allow-list); changed only by hand or through the CLI, never through the API.
 * A field added later is guarded by marking it here, not by a list kept elsewhere (docs/server.md).
 */
export const GUARD_META = "x-siteloom-guard";
export type Guard = "credential" | "destination" | "store";

/**
 * Registry key of a credential field's conventional global secret names (a regular expression source): a
 * `secret://global/NAME` reference is resolved into the field only when NAME matches or `secrets.globals`
 * declares the field for it (docs/secrets.md, "Where a reference may be used").
 */
export const GLOBAL_NAMES_META = "x-siteloom-global-names";

/**
 * A credential field: a string that should be a reference (`${ENV}`, `secret://scope/NAME`). Marked in the schema
 * registry so `config show` masks it wherever it is, and new credential fields are masked without a list to update.
 * `globalNames` are the conventional `secret://global/NAME` names it may read.
 */
export const credential = (globalNames: RegExp) =>
  z
    .string()
    .min(1)
    .meta({ [CREDENTIAL_META]: true, [GUARD_META]: "credential", [GLOBAL_NAMES_META]: globalNames.source });

/**
 * Marks a field with its guard (see GUARD_META): below admin a `credential` or `destination` field cannot be changed
 * through the API, and a `store` field cannot be changed through the API at all. Every new field that decides where a
 * credential goes is marked here, and the rule follows it without another list.
 */
export const guarded = <T extends z.ZodType>(guard: Guard, schema: T): T => schema.meta({ [GUARD_META]: guard }) as T;
