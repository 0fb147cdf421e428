import type { ZodType } from "zod";
import { isReference } from "./references.ts";
import { SiteConfigSchema } from "./schema.ts";
import { isCredentialAt } from "./schema-walk.ts";

/** What a masked plaintext credential shows. */
export const MASK = "****";

/**
 * A copy of `config` fit to print: every credential field (marked in the schema) that holds a plaintext value shows
 * `****`; references (`secret://...`, `${NAME}`) are shown as written, since they are not secrets — and they are never
 * resolved here.
 */
export function maskCredentials<T>(config: T, schema: ZodType = SiteConfigSchema): T {
  return _mask(config, [], schema) as T;
}

// --- internal ---

function _mask(value: unknown, path: string[], schema: ZodType): unknown {
  if (Array.isArray(value)) return value.map((item, i) => _mask(item, [...path, String(i)], schema));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = _mask(child, [...path, key], schema);
    return out;
  }
  if (path.length > 0 && isCredentialAt(schema, path)) {
    return typeof value === "string" && isReference(value) ? value : MASK;
  }
  return value;
}
