import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from "yaml";
import type { ZodType } from "zod";
import {
  isCredentialInFile,
  isReference,
  SITE_FILE,
  SITES_DIR,
  SiteConfigSchema,
  WORKSPACE_FILE,
} from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { Secret } from "../secret.ts";

/** A credential written in plain text in a config file. The value is held as a `Secret`. */
export interface PlaintextFinding {
  /** Path relative to the workspace root (`sites/shop/site.yaml`). */
  file: string;
  line: number;
  col: number;
  /** Key path inside the file, e.g. `["environments", "production", "remote", "password"]`. */
  path: (string | number)[];
  /** `shop`, or `global` for siteloom.yaml. */
  scope: string;
  /** Environment block it sits in, if any. */
  env: string | undefined;
  /** Suggested secret name: FTP_PASSWORD, OPENAI_API_KEY, ... */
  name: string;
  value: Secret;
}

/** Values that look like API keys wherever they appear (a credential pasted into a field not meant for one). */
const KEY_LIKE_VALUE =
  /^(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|glpat-[A-Za-z0-9_-]{20,}|AGE-SECRET-KEY-1[0-9A-Z]+)$/;

/** True when `value` has the shape of a well-known kind of API key or token (OpenAI, GitHub, Slack, AWS, ...). */
export function looksLikeKey(value: string): boolean {
  return KEY_LIKE_VALUE.test(value);
}

/** Finds plaintext credentials in `siteloom.yaml` and every `sites/<name>/site.yaml` of a workspace. */
export async function findPlaintextCredentials(root: string): Promise<PlaintextFinding[]> {
  const out: PlaintextFinding[] = [];
  for (const { file, scope } of configFiles(root)) {
    const text = await readFile(file, "utf8");
    out.push(...scanYaml(text, relative(root, file), scope));
  }
  return out;
}

/** The config files of a workspace and the secret scope each one's credentials belong to. */
export function configFiles(root: string): { file: string; scope: string }[] {
  const files = [{ file: join(root, WORKSPACE_FILE), scope: "global" }];
  const sites = join(root, SITES_DIR);
  if (existsSync(sites)) {
    for (const d of readdirSync(sites, { withFileTypes: true })) {
      const f = join(sites, d.name, SITE_FILE);
      if (d.isDirectory() && existsSync(f)) files.push({ file: f, scope: d.name });
    }
  }
  return files.filter((f) => existsSync(f.file));
}

/** Scans one YAML text: credential fields of `schema` holding a plaintext value, and key-shaped values anywhere. */
export function scanYaml(
  text: string,
  file: string,
  scope: string,
  schema: ZodType = SiteConfigSchema,
): PlaintextFinding[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true });
  if (doc.errors.length > 0) return [];
  const out: PlaintextFinding[] = [];
  const root = doc.toJS() as Record<string, unknown> | null;
  const visit = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        visit(item, [...path, i]);
      });
    } else if (isScalar(node) && typeof node.value === "string") {
      const value = node.value;
      // the secret stores' own credentials cannot move into a store: they stay references by hand
      if (path[0] === "secrets" || path[0] === "$schema") return;
      if (value === "" || isReference(value)) return;
      if (!isCredentialInFile(path, schema) && !looksLikeKey(value)) return;
      const pos = lineCounter.linePos(node.range?.[0] ?? 0);
      const env = path[0] === "environments" && typeof path[1] === "string" ? path[1] : undefined;
      out.push({
        file,
        line: pos.line,
        col: pos.col,
        path,
        scope,
        env,
        name: suggestName(env ? path.slice(2) : path, root, env),
        value: new Secret(value),
      });
    }
  };
  visit(doc.contents, []);
  return out;
}

/** FTP_PASSWORD for remote.password, OPENAI_API_KEY for llm.apiKey, ... else the path in UPPER_SNAKE. */
export function suggestName(path: (string | number)[], config: Record<string, unknown> | null, env?: string): string {
  const dotted = path.join(".");
  const section = (name: string) => {
    const base = (config?.[name] ?? {}) as Record<string, unknown>;
    const envBlock = env
      ? (((config?.environments as Record<string, Record<string, unknown>> | undefined)?.[env]?.[name] ?? {}) as Record<
          string,
          unknown
        >)
      : {};
    return { ...base, ...envBlock };
  };
  if (dotted === "remote.password") return section("remote").protocol === "sftp" ? "SFTP_PASSWORD" : "FTP_PASSWORD";
  if (dotted === "remote.passphrase") return "SSH_KEY_PASSPHRASE";
  if (dotted === "wordpress.appPassword") return "WP_APP_PASSWORD";
  if (dotted === "llm.apiKey") {
    const provider = String(section("llm").provider ?? "llm");
    return `${provider === "openai-compatible" ? "LLM" : provider.toUpperCase()}_API_KEY`;
  }
  return path
    .map((p) =>
      String(p)
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/[^A-Za-z0-9]+/g, "_"),
    )
    .join("_")
    .toUpperCase();
}

/**
 * Replaces the value of each given scalar with its reference, editing only the bytes of those values: comments,
 * key order, indentation and the quoting style stay as written. The result is parsed again and compared with the
 * original, so any change beyond the values is refused.
 */
export function rewriteYamlValues(text: string, replacements: { path: (string | number)[]; ref: string }[]): string {
  const doc = parseDocument(text, { keepSourceTokens: true });
  const edits: { start: number; end: number; text: string }[] = [];
  for (const { path, ref } of replacements) {
    const node = doc.getIn(path, true) as Node | undefined;
    if (!isScalar(node) || !node.range) {
      throw new SiteloomError("ERR_INTERNAL", `cannot find the value at ${path.join(".")} to rewrite`);
    }
    const [start, end] = node.range;
    const quote = node.type === Scalar.QUOTE_DOUBLE ? '"' : node.type === Scalar.QUOTE_SINGLE ? "'" : "";
    edits.push({ start, end, text: `${quote}${ref}${quote}` });
  }
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  // check: the new document equals the old one with exactly those values replaced
  const expected = parseDocument(text);
  for (const { path, ref } of replacements) expected.setIn(path, ref);
  const actual = parseDocument(out);
  if (actual.errors.length > 0 || JSON.stringify(actual.toJS()) !== JSON.stringify(expected.toJS())) {
    throw new SiteloomError(
      "ERR_INTERNAL",
      "rewriting the configuration would change more than the credential values; nothing was written (please report this)",
    );
  }
  return out;
}
