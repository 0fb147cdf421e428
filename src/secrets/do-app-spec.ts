import { isMap, isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { isCredentialAt, parseReference, SiteConfigSchema, type WorkspaceConfig } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { envVarName } from "./env-names.ts";

/** An app-level variable a DigitalOcean App Platform spec needs for a workspace: a name, never a value. */
export interface SpecVariable {
  /** `SITELOOM_SECRET_SHOP__FTP_PASSWORD`, or the NAME of a `${NAME}` reference in a credential field. */
  key: string;
  /** The references that need it (`secret://shop/FTP_PASSWORD`). */
  refs: string[];
}

/** What `collectSpecVariables` found: the variables, and references left out (with why). */
export interface SpecVariables {
  variables: SpecVariable[];
  skipped: string[];
}

/** One configuration to read references from: the workspace's, or a site's (layered for one environment). */
export interface ConfigSource {
  site?: string | undefined;
  config: WorkspaceConfig;
}

/**
 * The env var names the references of these configurations need in a container on the env store: each
 * `secret://<scope>/<NAME>` becomes `SITELOOM_SECRET_<SCOPE>__<NAME>`, each `${NAME}` in a credential field that
 * `env:` allows becomes `NAME`. Names come from configuration, which is untrusted: a malformed reference or a name
 * a process depends on (PATH, NODE_OPTIONS, LD_*, SITELOOM_* other than secrets) is skipped and reported, never added.
 */
export function collectSpecVariables(sources: ConfigSource[]): SpecVariables {
  const found = new Map<string, Set<string>>();
  const skipped = new Set<string>();
  for (const { site, config } of sources) {
    const where = site ? `site ${site}` : "workspace";
    const allowedEnv = new Set(config.env);
    _walk(config, [], (value, path) => {
      let ref: ReturnType<typeof parseReference>;
      try {
        ref = parseReference(value);
      } catch {
        skipped.add(`${where} ${path.join(".")}: not a valid reference`);
        return;
      }
      if (!ref) return;
      let key: string;
      if (ref.kind === "secret") key = envVarName(SECRET_PREFIX, ref.scope, ref.name);
      else {
        if (!isCredentialAt(SiteConfigSchema, path)) return;
        if (!allowedEnv.has(ref.name)) {
          skipped.add(`${where} ${path.join(".")}: \${${ref.name}} is not listed in env:`);
          return;
        }
        if (RESERVED_NAME.test(ref.name)) {
          skipped.add(`${where} ${path.join(".")}: \${${ref.name}} names a variable the process itself depends on`);
          return;
        }
        key = ref.name;
      }
      if (!found.has(key)) found.set(key, new Set());
      found.get(key)!.add(ref.raw);
    });
  }
  return {
    variables: [...found]
      .map(([key, refs]) => ({ key, refs: [...refs].sort() }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
    skipped: [...skipped].sort(),
  };
}

/** What `fillAppSpec` changed. */
export interface FilledAppSpec {
  /** The spec as YAML, its comments kept. */
  text: string;
  name: string;
  /** Variables added (type SECRET, no value). */
  added: string[];
  /** Variables already in the spec: left as they are (their value may be DigitalOcean's encrypted one), type SECRET. */
  kept: string[];
}

/**
 * Fills an App Platform spec for one environment: `SITELOOM_ENV` set to it, the app named `<name>-<env>` outside
 * production (one app per environment), and every variable an app-level env var of `type: SECRET`, `RUN_TIME`,
 * without a value. A variable the spec already has keeps its value, so a spec read back with `doctl apps spec get`
 * (values encrypted) can be filled and applied again without losing a secret.
 */
export function fillAppSpec(specText: string, env: string, variables: SpecVariable[]): FilledAppSpec {
  const doc = parseDocument(specText);
  if (doc.errors.length > 0 || !isMap(doc.contents)) {
    throw new SiteloomError(
      "ERR_USAGE",
      `the app spec is not a YAML mapping${doc.errors[0] ? ` (${doc.errors[0].message.split("\n")[0]})` : ""}; pass the file of .do/app.yaml or \`doctl apps spec get <app id>\``,
    );
  }
  const root = doc.contents as YAMLMap;
  const base = String(root.get("name") ?? "siteloom");
  const name = env === PRODUCTION || base.endsWith(`-${env}`) ? base : `${base}-${env}`;
  root.set("name", name);
  let envs = root.get("envs");
  if (envs === undefined) {
    envs = doc.createNode([]);
    root.set("envs", envs);
  }
  if (!isSeq(envs)) throw new SiteloomError("ERR_USAGE", "the app spec's envs is not a list");
  const seq = envs as YAMLSeq;
  const byKey = new Map<string, YAMLMap>();
  for (const item of seq.items) {
    if (isMap(item) && isScalar(item.get("key", true))) byKey.set(String(item.get("key")), item as YAMLMap);
  }
  const envVar = byKey.get("SITELOOM_ENV");
  if (envVar) envVar.set("value", env);
  else seq.add(doc.createNode({ key: "SITELOOM_ENV", value: env, scope: "RUN_TIME" }));
  const added: string[] = [];
  const kept: string[] = [];
  for (const v of variables) {
    const existing = byKey.get(v.key);
    if (existing) {
      existing.set("type", "SECRET");
      kept.push(v.key);
    } else {
      seq.add(doc.createNode({ key: v.key, scope: "RUN_TIME", type: "SECRET" }));
      added.push(v.key);
    }
  }
  return { text: doc.toString({ lineWidth: 0 }), name, added, kept };
}

// --- internal ---

const SECRET_PREFIX = "SITELOOM_SECRET_";
const PRODUCTION = "production";
/** Variables that steer the process or the runtime: a config must not be able to make them secrets of the app. */
const RESERVED_NAME = /^(PATH|HOME|USER|SHELL|PORT|HOSTNAME|TMPDIR|NODE_[A-Z0-9_]*|LD_[A-Z0-9_]*|SITELOOM_[A-Z0-9_]*)$/;

function _walk(value: unknown, path: (string | number)[], visit: (text: string, path: (string | number)[]) => void) {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) _walk(item, [...path, i], visit);
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) _walk(item, [...path, key], visit);
  }
}
