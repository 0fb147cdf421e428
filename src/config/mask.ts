import { isMap, isScalar, isSeq, type Node, parseDocument } from "yaml";
import type { ZodType } from "zod";
import { MASK } from "../secret.ts";
import { isReference } from "./references.ts";
import { SiteConfigSchema } from "./schema.ts";
import { credentialFields, isCredentialAt } from "./schema-walk.ts";

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

/**
 * True when `path`, a key path inside `siteloom.yaml` or a `site.yaml` as written, is a credential field of the
 * schema: an `environments.<env>` block holds the same fields as the top level.
 */
export function isCredentialInFile(path: readonly (string | number)[], schema: ZodType = SiteConfigSchema): boolean {
  const inner = path[0] === "environments" && path.length > 2 ? path.slice(2) : path;
  return inner.length > 0 && isCredentialAt(schema, inner);
}

/**
 * The text of a config file with every plaintext credential (by the schema, as `isCredentialInFile`) shown as
 * `****`; references, comments and layout are kept. Unparseable YAML is not shown at all.
 */
export function maskConfigText(text: string, schema: ZodType = SiteConfigSchema): string {
  if (!text) return text;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return "# (unparseable YAML, not shown)\n";
  let changed = false;
  const visit = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) visit(pair.value, [...path, isScalar(pair.key) ? String(pair.key.value) : ""]);
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) visit(item, [...path, String(i)]);
    } else if (isScalar(node) && node.value !== null && isCredentialInFile(path, schema)) {
      if (typeof node.value === "string" && isReference(node.value)) return;
      (node as Node & { value: unknown }).value = MASK;
      changed = true;
    }
  };
  visit(doc.contents, []);
  return changed ? doc.toString() : text;
}

/**
 * True when an environment variable's name says it holds a credential: it matches a credential field's conventional
 * global secret names (`FTP_PASSWORD`, `OPENAI_API_KEY`) or ends with a credential field's key in UPPER_SNAKE
 * (`DEPLOY_TOKEN`, `SMTP_PASSWORD`), all read from the schema.
 */
export function isCredentialVariable(name: string, schema: ZodType = SiteConfigSchema): boolean {
  return _variableRules(schema).some((rule) => rule.test(name));
}

// --- internal ---

const VARIABLE_RULES = new WeakMap<ZodType, RegExp[]>();

function _variableRules(schema: ZodType): RegExp[] {
  let rules = VARIABLE_RULES.get(schema);
  if (!rules) {
    const suffixes = new Set<string>();
    rules = [];
    for (const field of credentialFields(schema)) {
      if (field.globalNames) rules.push(field.globalNames);
      const key = field.path.at(-1);
      if (key && key !== "*") suffixes.add(key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase());
    }
    if (suffixes.size > 0) rules.push(new RegExp(`(^|_)(${[...suffixes].join("|")})$`, "i"));
    VARIABLE_RULES.set(schema, rules);
  }
  return rules;
}

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
