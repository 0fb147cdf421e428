import { readFile } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { parse } from "dotenv";
import { isCredentialVariable, isReference, updateConfigFile } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { currentActor } from "../events.ts";
import { writePrivateFile } from "../files.ts";
import { MASK, Secret } from "../secret.ts";
import { SECRET_NAME_PATTERN } from "../secret-names.ts";
import { ensurePrivateDir } from "./fs-util.ts";
import { configFiles, looksLikeKey, type PlaintextFinding, rewriteYamlValues, scanYaml } from "./plaintext.ts";
import type { SecretStore } from "./store.ts";

/** One credential found and where it goes. */
export interface MigrateItem {
  /** `sites/shop/site.yaml:7`, or `.env:3`. */
  where: string;
  /** Key path (YAML) or variable name (.env). */
  key: string;
  ref: string;
  env: string;
  /** `stored`: written to the store; `reused`: the store already held this value; with --dry-run: what would be. */
  action: "stored" | "reused";
}

export interface MigrateResult {
  items: MigrateItem[];
  /** Files rewritten (or that would be), relative to the root, with their backups. */
  files: { file: string; backup: string | undefined }[];
  /** Masked diff lines (`-`/`+`), for --dry-run and the report. */
  diff: string[];
}

export interface MigrateOptions {
  root: string;
  stateDir: string;
  /** The active environment: credentials outside `environments:` blocks go to its store. */
  env: string;
  /** The store of an environment. */
  storeFor: (env: string) => Promise<SecretStore>;
  dryRun?: boolean;
  /** A .env file whose credentials are stored too (the file itself is left alone). */
  fromDotenv?: string | undefined;
}

/** What `planMigrate` found and stored: the items, the masked diff and the new text of each file to rewrite. */
export interface MigratePlan {
  items: MigrateItem[];
  diff: string[];
  rewrites: { file: string; text: string; next: string }[];
}

/**
 * Moves plaintext credentials of siteloom.yaml, every site.yaml (and a .env file) into the secret store and
 * rewrites the YAML in place with `secret://` references, changing only those values: `planMigrate`, then
 * `applyMigrate`. Values are stored before any file is rewritten, so an interrupted run is simply run again; a second
 * run finds nothing to do.
 */
export async function runMigrate(options: MigrateOptions): Promise<MigrateResult> {
  return applyMigrate(await planMigrate(options), options);
}

/**
 * The first half of a migration, everything that talks to the secret stores (opening them, a passphrase asked,
 * the values stored; with `dryRun` only looked up): it reads the files and writes none, so a caller can run it before
 * it takes the configuration files' locks.
 */
export async function planMigrate(options: MigrateOptions): Promise<MigratePlan> {
  const result: MigratePlan = { items: [], diff: [], rewrites: [] };
  const planned = new Map<string, Secret>();

  async function place(
    scope: string,
    name: string,
    env: string,
    value: Secret,
  ): Promise<{ ref: string; reused: boolean }> {
    const store = await options.storeFor(env);
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? name : `${name}_${n}`;
      const ref = `secret://${scope}/${candidate}`;
      const key = `${env}:${ref}`;
      const plannedValue = planned.get(key);
      if (plannedValue) {
        if (plannedValue.reveal() === value.reveal()) return { ref, reused: true };
        continue;
      }
      const existing = await store.find(ref);
      if (existing && existing.reveal() !== value.reveal()) continue;
      planned.set(key, value);
      if (existing) return { ref, reused: true };
      if (!options.dryRun) await store.set(ref, value);
      return { ref, reused: false };
    }
  }

  const rewrites = result.rewrites;
  for (const { file, scope } of configFiles(options.root)) {
    const text = await readFile(file, "utf8");
    const rel = relative(options.root, file);
    const findings = scanYaml(text, rel, scope);
    if (findings.length === 0) continue;
    const replacements: { path: (string | number)[]; ref: string }[] = [];
    for (const f of findings) {
      const env = f.env ?? options.env;
      const { ref, reused } = await place(f.scope, f.name, env, f.value);
      replacements.push({ path: f.path, ref });
      result.items.push({
        where: `${f.file}:${f.line}`,
        key: f.path.join("."),
        ref,
        env,
        action: reused ? "reused" : "stored",
      });
    }
    const next = rewriteYamlValues(text, replacements);
    result.diff.push(..._diff(rel, text, next, findings));
    rewrites.push({ file, text, next });
  }

  if (options.fromDotenv) {
    const text = await readFile(options.fromDotenv, "utf8").catch((error: NodeJS.ErrnoException) => {
      throw new SiteloomError("ERR_USAGE", `cannot read ${options.fromDotenv} (${error.code ?? "error"})`);
    });
    for (const entry of parseDotenv(text)) {
      if (!_isCredentialVar(entry.key, entry.value)) continue;
      const mapped = /^SITELOOM_SECRET_([A-Z0-9_]+?)__([A-Z0-9_]+)$/.exec(entry.key);
      const scope = mapped ? mapped[1]!.toLowerCase().replace(/_/g, "-") : "global";
      const name = mapped ? mapped[2]! : entry.key.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
      if (!SECRET_NAME_PATTERN.test(name)) continue;
      const { ref, reused } = await place(scope, name, options.env, new Secret(entry.value));
      result.items.push({
        where: `${basename(options.fromDotenv)}:${entry.line}`,
        key: entry.key,
        ref,
        env: options.env,
        action: reused ? "reused" : "stored",
      });
    }
  }

  return result;
}

/**
 * The second half: each file of the plan gets a backup (.siteloom/backups/, 0600) and its new text, through
 * `updateConfigFile`; a file edited since the plan read it is refused (run the migration again). With `dryRun`
 * nothing is written.
 */
export async function applyMigrate(
  plan: MigratePlan,
  options: Pick<MigrateOptions, "root" | "stateDir" | "env" | "dryRun">,
): Promise<MigrateResult> {
  const result: MigrateResult = { items: plan.items, files: [], diff: plan.diff };
  const rewrites = plan.rewrites;
  const actor = currentActor();
  if (!options.dryRun) {
    // all or nothing: a file edited since the plan (the plan may have waited at a passphrase prompt without the
    // locks) is found before any file is rewritten, so no half-migrated folder is left for a follower or a watcher
    for (const r of rewrites) {
      const now = await readFile(r.file, "utf8").catch(() => undefined);
      if (now !== r.text) _changedWhileMigrating(relative(options.root, r.file));
    }
    const backupDir = join(options.stateDir, "backups");
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    for (const r of rewrites) {
      await ensurePrivateDir(backupDir);
      const rel = relative(options.root, r.file);
      const backup = join(backupDir, `${rel.replace(/[/\\]/g, "__")}.${stamp}.bak`);
      await writePrivateFile(backup, r.text);
      await updateConfigFile(
        r.file,
        (_doc, text) => {
          // the values were stored for the text read above; a file edited meanwhile is left for a rerun
          if (text !== r.text) _changedWhileMigrating(rel);
          return r.next;
        },
        { env: options.env, actor, ref: rel },
      );
      result.files.push({ file: rel, backup: relative(options.root, backup) });
    }
  } else {
    for (const r of rewrites) result.files.push({ file: relative(options.root, r.file), backup: undefined });
  }
  return result;
}

function _changedWhileMigrating(rel: string): never {
  throw new SiteloomError("ERR_CONFIG_INVALID", `${rel} changed while migrating; run siteloom secrets migrate again`);
}

/**
 * The non-empty variables of a .env file, parsed by dotenv (quotes, `export`, comments, multi-line values), each with
 * the line it is set on (for the report).
 */
export function parseDotenv(text: string): { key: string; value: string; line: number }[] {
  const lines = text.split(/\r?\n/);
  return Object.entries(parse(text))
    .filter(([, value]) => value !== "")
    .map(([key, value]) => {
      const at = lines.findLastIndex((l) =>
        new RegExp(`^\\s*(?:export\\s+)?${key.replaceAll(".", "\\.")}\\s*=`).test(l),
      );
      return { key, value, line: at + 1 };
    });
}

// --- internal ---

/** A .env variable holding a credential: named so by the schema's credential fields, or key-shaped. */
function _isCredentialVar(key: string, value: string): boolean {
  if (isReference(value)) return false;
  return /^SITELOOM_SECRET_/.test(key) || isCredentialVariable(key) || looksLikeKey(value);
}

/** Masked line diff of the rewritten lines. */
function _diff(file: string, before: string, after: string, findings: PlaintextFinding[]): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const out: string[] = [];
  const lines = [...new Set(findings.map((f) => f.line))].sort((x, y) => x - y);
  for (const line of lines) {
    let old = a[line - 1] ?? "";
    for (const f of findings) if (f.line === line) old = old.split(f.value.reveal()).join(MASK);
    out.push(`${file}:${line}`, `- ${old}`, `+ ${b[line - 1] ?? ""}`);
  }
  return out;
}
