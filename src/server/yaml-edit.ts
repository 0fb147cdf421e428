import { createTwoFilesPatch } from "diff";
import { type Document, isMap } from "yaml";
import { maskConfigText } from "../config/index.ts";

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
    const patch = createTwoFilesPatch(oldName, newName, maskConfigText(a), maskConfigText(b), undefined, undefined, {
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
