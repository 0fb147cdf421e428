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

/** Paths of the credential fields in `data` that hold a plaintext value instead of a reference. */
export function plaintextCredentialPaths(data: unknown, schema: ZodType = SiteConfigSchema): string[][] {
  const out: string[][] = [];
  const visit = (value: unknown, path: string[]): void => {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) visit(item, [...path, String(i)]);
    } else if (typeof value === "object" && value !== null) {
      for (const [key, child] of Object.entries(value)) visit(child, [...path, key]);
    } else if (typeof value === "string" && path.length > 0 && !isReference(value) && isCredentialAt(schema, path)) {
      out.push(path);
    }
  };
  visit(data, []);
  return out;
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
