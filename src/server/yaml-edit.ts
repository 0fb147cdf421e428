import { createTwoFilesPatch } from "diff";
import { type Document, isMap, isScalar, parseDocument, visit } from "yaml";
import { isReference } from "../config/index.ts";
import { MASK } from "../secret.ts";

/** Keys whose values are credentials: shown as their reference, or `****` when written as a literal. */
export const CREDENTIAL_KEYS: ReadonlySet<string> = new Set([
  "password",
  "passphrase",
  "apiKey",
  "appPassword",
  "token",
]);

/**
 * Applies a JSON Merge Patch (RFC 7386) to the YAML document at `base` (e.g. `["environments", "staging"]`),
 * editing nodes in place so comments, key order and layout of everything the patch does not touch are kept.
 */
export function applyMergePatchToDocument(doc: Document, patch: Record<string, unknown>, base: string[] = []): void {
  for (const [key, value] of Object.entries(patch)) {
    const path = [...base, key];
    if (value === null) {
      if (doc.hasIn(path)) doc.deleteIn(path);
    } else if (_isPlainObject(value)) {
      const node = doc.getIn(path, true);
      if (isMap(node)) applyMergePatchToDocument(doc, value, path);
      else doc.setIn(path, mergePatch(undefined, value));
    } else {
      doc.setIn(path, value);
    }
  }
}

/** RFC 7386 on plain values: the result of applying `patch` to `target` (neither is changed). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!_isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = _isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** A deep copy of a config object with literal credential values replaced by `****` (references are kept). */
export function maskConfig<T>(value: T): T {
  return _mask(value, undefined) as T;
}

/** The YAML text with literal credential values replaced by `****`; comments and layout kept. */
export function maskYamlText(text: string): string {
  if (!text) return text;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return "# (unparseable YAML, not shown)\n";
  let changed = false;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && CREDENTIAL_KEYS.has(String(pair.key.value)) && isScalar(pair.value)) {
        const v = pair.value.value;
        if (typeof v === "string" && !isReference(v)) {
          pair.value.value = MASK;
          changed = true;
        } else if (typeof v === "number" || typeof v === "boolean") {
          pair.value.value = MASK;
          changed = true;
        }
      }
    },
  });
  return changed ? doc.toString() : text;
}

/** Unified diff of two file sets (relative path → text), credential literals masked. Empty when equal. */
export function diffFiles(before: Record<string, string>, after: Record<string, string>): string {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  let out = "";
  for (const name of names) {
    const a = before[name] ?? "";
    const b = after[name] ?? "";
    if (a === b) continue;
    const oldName = name in before ? `a/${name}` : "/dev/null";
    const newName = name in after ? `b/${name}` : "/dev/null";
    const patch = createTwoFilesPatch(oldName, newName, maskYamlText(a), maskYamlText(b), undefined, undefined, {
      context: 3,
    });
    // drop the "Index:"/"====" preamble jsdiff writes; keep the ---/+++ headers git users read
    out += patch.replace(/^={3,}\n/m, "").replace(/^Index: .*\n/m, "");
  }
  return out;
}

// --- internal ---

function _isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _mask(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && CREDENTIAL_KEYS.has(key) && value !== undefined && value !== null) {
    return typeof value === "string" && isReference(value) ? value : MASK;
  }
  if (Array.isArray(value)) return value.map((v) => _mask(v, undefined));
  if (_isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = _mask(v, k);
    return out;
  }
  return value;
}
