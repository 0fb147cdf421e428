import { type ZodType, z } from "zod";

/** Registry key marking a credential field (set by the schema's `credential()` helper). */
export const CREDENTIAL_META = "x-siteloom-credential";

type Def = { type: string; [key: string]: unknown };

/**
 * The schemas that can appear at `path` inside `schema` (a union contributes every option). Wrappers (default,
 * optional, nullable, pipe...) are looked through, so callers see objects, records, arrays and leaves.
 */
export function schemasAt(schema: ZodType, path: readonly (string | number)[]): ZodType[] {
  let current = _unwrapAll(schema);
  for (const segment of path) {
    const next: ZodType[] = [];
    for (const s of current) {
      const def = _def(s);
      if (def.type === "object") {
        const child = (def.shape as Record<string, ZodType>)[String(segment)];
        if (child) next.push(..._unwrapAll(child));
      } else if (def.type === "record") {
        next.push(..._unwrapAll(def.valueType as ZodType));
      } else if (def.type === "array") {
        next.push(..._unwrapAll(def.element as ZodType));
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

/** Keys that are valid in the mapping at `path` (empty for records and leaves). */
export function validKeysAt(schema: ZodType, path: readonly (string | number)[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const def = _def(s);
    if (def.type === "object") for (const key of Object.keys(def.shape as object)) keys.add(key);
  }
  return [...keys];
}

/** "object" | "record" | "array" | "string" | "number" | "boolean" | ... of the schema at `path` (first option). */
export function kindAt(schema: ZodType, path: readonly (string | number)[]): string | undefined {
  const found = schemasAt(schema, path)[0];
  if (!found) return undefined;
  const type = _def(found).type;
  return type === "enum" || type === "literal" ? "string" : type;
}

/** True when the field at `path` is a credential (values are masked, references expected). */
export function isCredentialAt(schema: ZodType, path: readonly (string | number)[]): boolean {
  return schemasAt(schema, path).some((s) => z.globalRegistry.get(s)?.[CREDENTIAL_META] === true);
}

/** The description of the field at `path`, looking through wrappers. */
export function describeAt(schema: ZodType, path: readonly (string | number)[]): string | undefined {
  if (path.length === 0) return _descriptionOf(schema);
  const parents = schemasAt(schema, path.slice(0, -1));
  const last = path[path.length - 1]!;
  for (const parent of parents) {
    const def = _def(parent);
    if (def.type === "object") {
      const child = (def.shape as Record<string, ZodType>)[String(last)];
      if (child) return _descriptionOf(child);
    }
  }
  return undefined;
}

// --- internal ---

function _def(schema: ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(["default", "optional", "nullable", "prefault", "readonly", "catch", "nonoptional"]);

function _unwrapAll(schema: ZodType): ZodType[] {
  const def = _def(schema);
  if (WRAPPERS.has(def.type)) return _unwrapAll(def.innerType as ZodType);
  if (def.type === "pipe") return _unwrapAll(def.in as ZodType);
  if (def.type === "lazy") return _unwrapAll((def.getter as () => ZodType)());
  if (def.type === "union") return (def.options as ZodType[]).flatMap(_unwrapAll);
  return [schema];
}

function _descriptionOf(schema: ZodType): string | undefined {
  let current: ZodType | undefined = schema;
  while (current) {
    if (current.description) return current.description;
    const def = _def(current);
    current = WRAPPERS.has(def.type) ? (def.innerType as ZodType) : undefined;
  }
  return undefined;
}
