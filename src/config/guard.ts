import { isDeepStrictEqual } from "node:util";
import type { ZodType } from "zod";
import { isPlainObject } from "./layers.ts";
import { SiteConfigSchema } from "./schema.ts";
import { type Guard, type GuardedField, guardedFields } from "./schema-walk.ts";

/** A guarded value that differs between two versions of a configuration file. */
export interface GuardedChange {
  /** Where in the file: `remote.host`, `environments.staging.llm.baseUrl`. */
  path: string;
  /** The schema field: `remote.host`. */
  field: string;
  guard: Guard;
}

/**
 * The guarded values (see GUARD_META) that differ between `before` and `after`, the parsed data of one
 * configuration file: its base layer and every `environments.<env>` block are compared field by field, so any
 * way of writing a change (a value, a null, a whole section, a new environment block) is found.
 */
export function guardedChanges(before: unknown, after: unknown, schema: ZodType = SiteConfigSchema): GuardedChange[] {
  const fields = _fieldsOf(schema);
  const changes: GuardedChange[] = [];
  const compare = (a: unknown, b: unknown, prefix: string[]) => {
    for (const field of fields) {
      for (const path of _expand(field.path, a, b)) {
        if (!isDeepStrictEqual(_at(a, path), _at(b, path))) {
          changes.push({ path: [...prefix, ...path].join("."), field: field.path.join("."), guard: field.guard });
        }
      }
    }
  };
  compare(before, after, []);
  const envs = (data: unknown) => {
    const block = isPlainObject(data) ? data.environments : undefined;
    return isPlainObject(block) ? block : {};
  };
  const beforeEnvs = envs(before);
  const afterEnvs = envs(after);
  for (const env of new Set([...Object.keys(beforeEnvs), ...Object.keys(afterEnvs)])) {
    const a = Object.hasOwn(beforeEnvs, env) ? beforeEnvs[env] : undefined;
    const b = Object.hasOwn(afterEnvs, env) ? afterEnvs[env] : undefined;
    compare(a, b, ["environments", env]);
  }
  return changes;
}

// --- internal ---

const FIELDS = new WeakMap<ZodType, GuardedField[]>();

function _fieldsOf(schema: ZodType): GuardedField[] {
  let fields = FIELDS.get(schema);
  if (!fields) {
    fields = guardedFields(schema);
    FIELDS.set(schema, fields);
  }
  return fields;
}

/** Concrete paths of a field path with `*` segments, over the keys present in either value. */
function _expand(pattern: string[], a: unknown, b: unknown): string[][] {
  let paths: string[][] = [[]];
  for (const segment of pattern) {
    const next: string[][] = [];
    for (const path of paths) {
      if (segment !== "*") {
        next.push([...path, segment]);
        continue;
      }
      const keys = new Set<string>();
      for (const value of [_at(a, path), _at(b, path)]) {
        if (Array.isArray(value)) for (let i = 0; i < value.length; i++) keys.add(String(i));
        else if (isPlainObject(value)) for (const key of Object.keys(value)) keys.add(key);
      }
      // a record or list that is there on one side only: compare it whole
      if (keys.size === 0) next.push(path);
      for (const key of keys) next.push([...path, key]);
    }
    paths = next;
  }
  return paths;
}

function _at(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isPlainObject(current) && Object.hasOwn(current, key)) current = current[key];
    else return undefined;
  }
  return current;
}
