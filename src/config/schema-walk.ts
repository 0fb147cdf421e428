import { type ZodType, z } from "zod";

import { CREDENTIAL_META, GLOBAL_NAMES_META, GUARD_META, type Guard } from "../schema-marks.ts";

export { CREDENTIAL_META, credential, GLOBAL_NAMES_META, GUARD_META, type Guard, guarded } from "../schema-marks.ts";

/** A guarded field: its path (`*` stands for any key of a record or item of an array) and its guard. */
export interface GuardedField {
  path: string[];
  guard: Guard;
}

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
        // own keys only: "toString" or "__proto__" are not settings, whatever Object.prototype says
        const shape = def.shape as Record<string, ZodType>;
        const child = Object.hasOwn(shape, String(segment)) ? shape[String(segment)] : undefined;
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

/** Every guarded field of `schema`, outermost first (a guarded section is listed once, not its children). */
export function guardedFields(schema: ZodType): GuardedField[] {
  const out: GuardedField[] = [];
  const visit = (s: ZodType, path: string[]): void => {
    const guard = path.length > 0 ? _guardOf(s) : undefined;
    if (guard) {
      out.push({ path, guard });
      return;
    }
    if (path.length > 16) return;
    for (const core of _unwrapAll(s)) {
      const def = _def(core);
      if (def.type === "object") {
        for (const [key, child] of Object.entries(def.shape as Record<string, ZodType>)) visit(child, [...path, key]);
      } else if (def.type === "record") visit(def.valueType as ZodType, [...path, "*"]);
      else if (def.type === "array") visit(def.element as ZodType, [...path, "*"]);
    }
  };
  visit(schema, []);
  return out;
}

/** A credential field: its path (`*` for any key or item) and its conventional global secret names. */
export interface CredentialField {
  path: string[];
  globalNames: RegExp | undefined;
}

/**
 * Every credential field of `schema` (marked by `credential()`), inside guarded sections and union options too: the
 * one list the rules that need names instead of paths derive from (`.env` variables, masking by key).
 */
export function credentialFields(schema: ZodType): CredentialField[] {
  const out: CredentialField[] = [];
  const visit = (s: ZodType, path: string[], depth: number): void => {
    if (depth > 16) return;
    for (const core of _unwrapAll(s)) {
      const meta = z.globalRegistry.get(core);
      if (meta?.[CREDENTIAL_META] === true) {
        const source = meta[GLOBAL_NAMES_META];
        out.push({ path, globalNames: typeof source === "string" ? new RegExp(source) : undefined });
        continue;
      }
      const def = _def(core);
      if (def.type === "object") {
        for (const [key, child] of Object.entries(def.shape as Record<string, ZodType>)) {
          visit(child, [...path, key], depth + 1);
        }
      } else if (def.type === "record") visit(def.valueType as ZodType, [...path, "*"], depth + 1);
      else if (def.type === "array") visit(def.element as ZodType, [...path, "*"], depth + 1);
    }
  };
  visit(schema, [], 0);
  return out;
}

/** The conventional global secret names of the credential field at `path` (see GLOBAL_NAMES_META). */
export function globalNamesAt(schema: ZodType, path: readonly (string | number)[]): RegExp | undefined {
  for (const s of schemasAt(schema, path)) {
    const source = z.globalRegistry.get(s)?.[GLOBAL_NAMES_META];
    if (typeof source === "string") return new RegExp(source);
  }
  return undefined;
}

/** The description of the field at `path`, looking through wrappers. */
export function describeAt(schema: ZodType, path: readonly (string | number)[]): string | undefined {
  if (path.length === 0) return _descriptionOf(schema);
  const parents = schemasAt(schema, path.slice(0, -1));
  const last = path[path.length - 1]!;
  for (const parent of parents) {
    const def = _def(parent);
    if (def.type === "object" && Object.hasOwn(def.shape as object, String(last))) {
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

const GUARD_RANK: Record<Guard, number> = { credential: 1, destination: 1, store: 2 };

/** The guard set on `schema` or on any wrapper or union option inside it (the strongest one). */
function _guardOf(schema: ZodType): Guard | undefined {
  let found: Guard | undefined;
  const take = (g: unknown) => {
    if ((g === "credential" || g === "destination" || g === "store") && (!found || GUARD_RANK[g] > GUARD_RANK[found])) {
      found = g;
    }
  };
  const visit = (s: ZodType, depth: number): void => {
    if (depth > 8) return;
    take(z.globalRegistry.get(s)?.[GUARD_META]);
    const def = _def(s);
    if (WRAPPERS.has(def.type)) visit(def.innerType as ZodType, depth + 1);
    else if (def.type === "pipe") visit(def.in as ZodType, depth + 1);
    else if (def.type === "union") for (const o of def.options as ZodType[]) visit(o, depth + 1);
  };
  visit(schema, 0);
  return found;
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
