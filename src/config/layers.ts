import { readFileSync, statSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, parse as parseYaml, type Node as YamlNode } from "yaml";
import type { ZodType } from "zod";
import { type ConfigProblem, describeIssue, didYouMean } from "./problems.ts";
import { kindAt, validKeysAt } from "./schema-walk.ts";

/** The layers of the configuration, lowest first. */
export const LAYERS = ["defaults", "workspace", "workspace-env", "site", "site-env", "env-var", "flag"] as const;
export type OriginLayer = (typeof LAYERS)[number];

/** Where a resolved value came from (`siteloom config show --origin`). */
export interface Origin {
  layer: OriginLayer;
  /** File (relative to the workspace root), `$VARIABLE`, or `--set path`. Absent for defaults. */
  source?: string;
  line?: number;
  col?: number;
  /** The dotted path as written in that source, e.g. `environments.production.deploy.parallel`. */
  path?: string;
}

/** Position of a key and its value in a YAML file (1-based). */
export interface NodePosition {
  line: number;
  col: number;
  keyLine?: number;
  keyCol?: number;
}

/** A configuration file parsed with positions. */
export interface ConfigFile {
  /** Path relative to the workspace root, used in messages. */
  file: string;
  /** The parsed mapping (empty when the file is empty or broken). */
  data: Record<string, unknown>;
  /** Dotted path → position of every node. */
  positions: Map<string, NodePosition>;
  /** YAML syntax problems (and a top level that is not a mapping). */
  problems: ConfigProblem[];
}

/** One layer to merge: config-shaped data and a way to say where each of its nodes was written. */
export interface ConfigLayer {
  layer: OriginLayer;
  data: Record<string, unknown>;
  locate(path: readonly string[]): Located;
}

/** Where one node of a layer was written. */
export interface Located extends Origin {
  keyLine?: number;
  keyCol?: number;
}

/** Layers merged: the data and the location of every node (containers too). */
export interface Merged {
  data: Record<string, unknown>;
  where: Map<string, Located>;
}

/** A setting from a SITELOOM_* variable or a `--set` flag, already mapped onto a config path. */
export interface Setting {
  /** `$SITELOOM_DEPLOY__PARALLEL` or `--set deploy.parallel`. */
  source: string;
  /** Only for this site (`SITELOOM_SITES__SHOP__...`); undefined = every site and the workspace. */
  site?: string;
  path: string[];
  value: unknown;
}

/** SITELOOM_* variables that belong to other parts of siteloom and are never config paths. */
export const RESERVED_VARIABLES = [
  "SITELOOM_ENV",
  "SITELOOM_WORKSPACE",
  "SITELOOM_SECRETS_BACKEND",
  "SITELOOM_STORE",
  "SITELOOM_DATA_DIR",
  "SITELOOM_SECRET_*",
  "SITELOOM_AGE_*",
  "SITELOOM_TEST_*",
  "SITELOOM_LOG_*",
  "SITELOOM_DEBUG",
];

/** Largest configuration file read (a workspace file with every option commented is about 10 KB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Keys that would reach an object's prototype: never settings, refused wherever they are written. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** Reads and parses a YAML config file, keeping positions; syntax errors become problems, never throws on them. */
export async function readConfigFile(absPath: string, file: string): Promise<ConfigFile> {
  const size = statSync(absPath).size;
  if (size > MAX_CONFIG_BYTES) {
    const problem = {
      file,
      line: 1,
      col: 1,
      path: "",
      message: `the file is ${(size / 1024 / 1024).toFixed(1)} MB; configuration files are limited to ${MAX_CONFIG_BYTES / 1024 / 1024} MB`,
    };
    return { file, data: {}, positions: new Map(), problems: [problem] };
  }
  // a synchronous read of a small file skips the thread-pool round trip: loading 100 sites is mostly these reads
  return parseConfigText(readFileSync(absPath, "utf8"), file);
}

/** Parses YAML text with positions (see readConfigFile). */
export function parseConfigText(text: string, file: string): ConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const seen = new Set<string>();
  const problems: ConfigProblem[] = doc.errors.flatMap((error) => {
    const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
    // the parser often reports one mistake twice at the same place; the first message is the useful one
    if (seen.has(`${pos.line}:${pos.col}`)) return [];
    seen.add(`${pos.line}:${pos.col}`);
    return {
      file,
      line: pos.line,
      col: pos.col,
      path: "",
      message: `YAML syntax error: ${_firstLine(error.message)}`,
    };
  });
  const positions = new Map<string, NodePosition>();
  if (problems.length > 0) return { file, data: {}, positions, problems };
  if (doc.contents) _walk(doc.contents as YamlNode, [], positions, lineCounter);
  for (const [path, pos] of positions) {
    const key = path.split(".").at(-1)!;
    if (PROTOTYPE_KEYS.has(key)) {
      problems.push({
        file,
        line: pos.keyLine ?? pos.line,
        col: pos.keyCol ?? pos.col,
        path,
        message: `"${key}" is not a setting name (it is refused everywhere in configuration)`,
      });
      return { file, data: {}, positions, problems };
    }
  }
  let data: unknown;
  try {
    // maxAliasCount (100) stops alias bombs: a few lines that expand to billions of nodes
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    problems.push({
      file,
      line: 1,
      col: 1,
      path: "",
      message: `YAML aliases expand too far (${_firstLine((error as Error).message)}); write the values out`,
    });
    return { file, data: {}, positions, problems };
  }
  if (data === null || data === undefined) return { file, data: {}, positions, problems };
  if (typeof data !== "object" || Array.isArray(data)) {
    const start = (doc.contents as YamlNode | null)?.range?.[0] ?? 0;
    const pos = lineCounter.linePos(start);
    problems.push({
      file,
      line: pos.line,
      col: pos.col,
      path: "",
      message: `expected a mapping of settings (key: value lines), got ${Array.isArray(data) ? "a list" : "a single value"}`,
    });
    return { file, data: {}, positions, problems };
  }
  return { file, data: data as Record<string, unknown>, positions, problems };
}

/** A layer for a file's data; `prefix` is where the data sits in the file (`environments.production`). */
export function fileLayer(
  layer: OriginLayer,
  file: ConfigFile,
  data: Record<string, unknown>,
  prefix: readonly string[] = [],
): ConfigLayer {
  return {
    layer,
    data,
    locate(path) {
      const written = [...prefix, ...path].join(".");
      const pos = file.positions.get(written);
      return { layer, source: file.file, path: written, ...(pos ?? {}) };
    },
  };
}

/** A layer for one variable or flag setting. */
export function settingLayer(layer: OriginLayer, setting: Setting): ConfigLayer {
  const data: Record<string, unknown> = {};
  let cursor = data;
  setting.path.forEach((segment, i) => {
    if (i === setting.path.length - 1) cursor[segment] = setting.value;
    else cursor = cursor[segment] = {} as Record<string, unknown>;
  });
  return {
    layer,
    data,
    locate(path) {
      return { layer, source: setting.source, path: path.join(".") };
    },
  };
}

/**
 * Merges layers, later wins: mappings merge key by key, lists and scalars replace, `null` removes a key (back to
 * its default). Every node's location is kept for messages and `config show --origin`.
 */
export function mergeLayers(layers: readonly ConfigLayer[]): Merged {
  const data: Record<string, unknown> = {};
  const where = new Map<string, Located>();
  for (const layer of layers) _apply(data, layer.data, [], layer, where);
  return { data, where };
}

/**
 * Validates merged data against `schema`. Every zod issue becomes a positioned, friendly problem; `fallback` is the
 * file blamed for problems no layer wrote (a required key missing at the top).
 */
export function validateMerged<S extends ZodType>(
  schema: S,
  merged: Merged,
  fallback: string,
): { config?: ReturnType<S["parse"]>; problems: ConfigProblem[] } {
  const result = schema.safeParse(merged.data);
  if (result.success) return { config: result.data as ReturnType<S["parse"]>, problems: [] };
  const problems: ConfigProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      const valid = validKeysAt(schema, path).filter((k) => k !== "$schema");
      for (const key of issue.keys) {
        const loc = _locate([...path, key], merged.where, fallback);
        const hint = didYouMean(key, valid);
        const message = hint
          ? `unknown key "${key}"; did you mean "${hint}"?`
          : `unknown key "${key}"${valid.length > 0 ? ` (allowed here: ${valid.join(", ")})` : ""}`;
        const { keyLine, keyCol, ...where } = loc;
        problems.push({ ...where, line: keyLine ?? loc.line, col: keyCol ?? loc.col, message });
      }
      continue;
    }
    const { present, value } = _valueAt(merged.data, path);
    const { keyLine: _l, keyCol: _c, ...where } = _locate(path, merged.where, fallback);
    problems.push({ ...where, message: describeIssue(issue, value, present) });
  }
  return { problems };
}

/**
 * Maps SITELOOM_* variables onto config paths: `__` separates levels, each level matches a key case-insensitively
 * ignoring `_` (`SITELOOM_LLM__MAX_OUTPUT_TOKENS` → llm.maxOutputTokens), `SITELOOM_SITES__<SITE>__...` targets one
 * site. Values are read as YAML scalars (numbers, booleans, [lists]), except where the schema wants a string.
 * Variables whose first level is not a config key are left alone: they belong to other parts of siteloom.
 */
export function settingsFromVariables(
  vars: Record<string, string | undefined>,
  schema: ZodType,
): { settings: Setting[]; problems: ConfigProblem[] } {
  const settings: Setting[] = [];
  const problems: ConfigProblem[] = [];
  const topKeys = validKeysAt(schema, []).filter((k) => !NOT_FROM_VARIABLES.has(k));
  for (const [name, raw] of Object.entries(vars).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith("SITELOOM_") || raw === undefined || _isReserved(name)) continue;
    const segments = name.slice("SITELOOM_".length).split("__");
    let site: string | undefined;
    if (_norm(segments[0]!) === "sites") {
      if (segments.length < 3) continue;
      site = segments[1]!.toLowerCase().replace(/_/g, "-");
      segments.splice(0, 2);
    }
    const first = topKeys.find((k) => _norm(k) === _norm(segments[0]!));
    if (!first) {
      if (site === undefined) continue;
      problems.push(_unknownSetting(`$${name}`, segments, [], topKeys));
      continue;
    }
    const mapped = _mapSegments(schema, segments, `$${name}`);
    if ("problem" in mapped) {
      problems.push(mapped.problem);
      continue;
    }
    settings.push({
      source: `$${name}`,
      ...(site === undefined ? {} : { site }),
      path: mapped.path,
      value: parseSettingValue(raw, schema, mapped.path),
    });
  }
  return { settings, problems };
}

/** Maps `--set` flags (`{ "deploy.parallel": 4 }`) onto config paths, checking each key exists. */
export function settingsFromFlags(
  flags: Record<string, unknown>,
  schema: ZodType,
): { settings: Setting[]; problems: ConfigProblem[] } {
  const settings: Setting[] = [];
  const problems: ConfigProblem[] = [];
  for (const [dotted, value] of Object.entries(flags)) {
    const source = `--set ${dotted}`;
    const segments = dotted.split(".").filter(Boolean);
    let ok = segments.length > 0;
    for (let i = 0; ok && i < segments.length; i++) {
      const parent = segments.slice(0, i);
      if (PROTOTYPE_KEYS.has(segments[i]!)) {
        problems.push({ file: source, path: "", message: `"${segments[i]}" is not a setting name` });
        ok = false;
        break;
      }
      if (kindAt(schema, parent) === "record") continue;
      const keys = validKeysAt(schema, parent);
      if (!keys.includes(segments[i]!) || NOT_FROM_VARIABLES.has(segments[i]!)) {
        problems.push(_unknownSetting(source, segments.slice(i), parent, keys));
        ok = false;
      }
    }
    if (ok) settings.push({ source, path: segments, value });
  }
  return { settings, problems };
}

/** Reads a variable or flag value: YAML scalar rules, but kept as text where the schema expects a string. */
export function parseSettingValue(raw: string, schema: ZodType, path: readonly string[]): unknown {
  if (kindAt(schema, path) === "string") return raw;
  try {
    const value: unknown = parseYaml(raw);
    return value === null && raw.trim() !== "" && raw.trim() !== "null" && raw.trim() !== "~" ? raw : value;
  } catch {
    return raw;
  }
}

/** Reads a value at a path of plain data. */
export function getPath(data: unknown, path: readonly (string | number)[]): unknown {
  let cursor: unknown = data;
  for (const segment of path) {
    if (typeof cursor !== "object" || cursor === null || !Object.hasOwn(cursor, String(segment))) return undefined;
    cursor = (cursor as Record<string, unknown>)[String(segment)];
  }
  return cursor;
}

/** True for a plain mapping (not a list, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// --- internal ---

/** Keys that choose the environment or describe the file, not settings a variable may override. */
const NOT_FROM_VARIABLES = new Set(["environment", "profiles", "$schema"]);

function _isReserved(name: string): boolean {
  return RESERVED_VARIABLES.some((r) => (r.endsWith("*") ? name.startsWith(r.slice(0, -1)) : name === r));
}

function _norm(segment: string): string {
  return segment.toLowerCase().replace(/[_-]/g, "");
}

function _mapSegments(
  schema: ZodType,
  segments: string[],
  source: string,
): { path: string[] } | { problem: ConfigProblem } {
  const path: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === "")
      return { problem: { file: source, path: path.join("."), message: "empty level (___ or a trailing __)" } };
    if (kindAt(schema, path) === "record") {
      path.push(seg.toLowerCase());
      continue;
    }
    const keys = validKeysAt(schema, path);
    const key = keys.find((k) => _norm(k) === _norm(seg));
    if (!key) return { problem: _unknownSetting(source, segments.slice(i), path, keys) };
    path.push(key);
  }
  return { path };
}

function _unknownSetting(source: string, rest: string[], parent: string[], keys: string[]): ConfigProblem {
  // variables are upper-case; show the level the way the key would be written
  const wanted = source.startsWith("$") ? (rest[0] ?? "").toLowerCase() : (rest[0] ?? "");
  const hint = didYouMean(wanted, keys) ?? keys.find((k) => _norm(k) === _norm(wanted).slice(0, k.length));
  const shown = [...parent, wanted].join(".");
  const message = hint
    ? `unknown setting "${shown}"; did you mean "${[...parent, hint].join(".")}"?`
    : `unknown setting "${shown}"${keys.length > 0 ? ` (allowed here: ${keys.join(", ")})` : ""}`;
  return { file: source, path: "", message };
}

function _walk(node: YamlNode, path: string[], positions: Map<string, NodePosition>, lc: LineCounter): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const keyPos = keyNode?.range ? lc.linePos(keyNode.range[0]) : undefined;
      const valueNode = pair.value as YamlNode | null;
      const valuePos = valueNode?.range && !_isEmptyScalar(valueNode) ? lc.linePos(valueNode.range[0]) : keyPos;
      const childPath = [...path, key];
      if (valuePos) {
        positions.set(childPath.join("."), {
          line: valuePos.line,
          col: valuePos.col,
          ...(keyPos ? { keyLine: keyPos.line, keyCol: keyPos.col } : {}),
        });
      }
      if (valueNode) _walk(valueNode, childPath, positions, lc);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const itemNode = item as YamlNode | null;
      if (!itemNode?.range) return;
      const pos = lc.linePos(itemNode.range[0]);
      positions.set([...path, String(i)].join("."), { line: pos.line, col: pos.col });
      _walk(itemNode, [...path, String(i)], positions, lc);
    });
  }
}

function _isEmptyScalar(node: YamlNode): boolean {
  return isScalar(node) && node.value === null && !!node.range && node.range[0] === node.range[1];
}

function _apply(
  target: Record<string, unknown>,
  over: Record<string, unknown>,
  path: string[],
  layer: ConfigLayer,
  where: Map<string, Located>,
): void {
  for (const [key, value] of Object.entries(over)) {
    // parseConfigText and settingsFromFlags refuse these; a layer built another way still cannot reach a prototype
    if (PROTOTYPE_KEYS.has(key)) continue;
    const p = [...path, key];
    if (value === null) {
      delete target[key];
      const prefix = `${p.join(".")}.`;
      for (const written of [...where.keys()]) {
        if (written === p.join(".") || written.startsWith(prefix)) where.delete(written);
      }
      continue;
    }
    where.set(p.join("."), layer.locate(p));
    if (isPlainObject(value)) {
      const prev = target[key];
      const next: Record<string, unknown> = isPlainObject(prev) ? prev : {};
      target[key] = next;
      _apply(next, value, p, layer, where);
    } else {
      target[key] = value;
      if (Array.isArray(value)) _record(value, p, layer, where);
    }
  }
}

/** Records locations inside a list (lists replace whole, but their items can still be wrong). */
function _record(value: unknown, path: string[], layer: ConfigLayer, where: Map<string, Located>): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const p = [...path, String(i)];
      where.set(p.join("."), layer.locate(p));
      _record(item, p, layer, where);
    });
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const p = [...path, key];
      where.set(p.join("."), layer.locate(p));
      _record(item, p, layer, where);
    }
  }
}

function _valueAt(data: unknown, path: readonly string[]): { present: boolean; value: unknown } {
  let cursor: unknown = data;
  for (const segment of path) {
    if (typeof cursor !== "object" || cursor === null || !Object.hasOwn(cursor, segment)) {
      return { present: false, value: undefined };
    }
    cursor = (cursor as Record<string, unknown>)[segment];
  }
  return { present: true, value: cursor };
}

/** The written location of a path, or of its nearest written ancestor with the rest of the path appended. */
function _locate(
  path: readonly string[],
  where: Map<string, Located>,
  fallback: string,
): ConfigProblem & { keyLine?: number; keyCol?: number } {
  for (let n = path.length; n > 0; n--) {
    const loc = where.get(path.slice(0, n).join("."));
    if (!loc) continue;
    const written = [loc.path ?? path.slice(0, n).join("."), ...path.slice(n)].filter(Boolean).join(".");
    const exact = n === path.length;
    return {
      file: loc.source ?? fallback,
      // a missing key is blamed on the key of the mapping that lacks it
      line: exact ? loc.line : (loc.keyLine ?? loc.line),
      col: exact ? loc.col : (loc.keyCol ?? loc.col),
      path: written,
      message: "",
      ...(exact && loc.keyLine !== undefined ? { keyLine: loc.keyLine, keyCol: loc.keyCol ?? 1 } : {}),
    };
  }
  return { file: fallback, line: 1, col: 1, path: path.join("."), message: "" };
}

function _firstLine(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

/** The origin of every leaf of a resolved config (lists count as leaves); unwritten leaves come from defaults. */
export function originsOf(config: unknown, where: Map<string, Located>): Map<string, Origin> {
  const out = new Map<string, Origin>();
  const visit = (value: unknown, path: string[]) => {
    if (isPlainObject(value) && Object.keys(value).length > 0) {
      for (const [key, child] of Object.entries(value)) visit(child, [...path, key]);
      return;
    }
    if (path.length === 0) return;
    const key = path.join(".");
    const loc = where.get(key);
    if (!loc) {
      out.set(key, { layer: "defaults" });
      return;
    }
    const { keyLine: _kl, keyCol: _kc, ...origin } = loc;
    out.set(key, origin);
  };
  visit(config, []);
  return out;
}

/** `site-env sites/shop/site.yaml:12:5`, `env-var $SITELOOM_DEPLOY__PARALLEL`, `defaults`. */
export function formatOrigin(origin: Origin): string {
  if (!origin.source) return origin.layer;
  const pos = origin.line === undefined ? "" : `:${origin.line}:${origin.col ?? 1}`;
  return `${origin.layer} ${origin.source}${pos}`;
}
