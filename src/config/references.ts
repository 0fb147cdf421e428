import { SiteloomError } from "../errors.ts";
import { Secret } from "../secret.ts";
import { SCOPE_PATTERN, SECRET_NAME_PATTERN } from "../secret-names.ts";
import { SiteConfigSchema, type WorkspaceConfig } from "./schema.ts";
import { globalNamesAt } from "./schema-walk.ts";

/** `${NAME}` or `${NAME:-default}`: an environment variable. */
export interface EnvReference {
  kind: "env";
  name: string;
  default: string | undefined;
  raw: string;
}

/** `secret://<scope>/<NAME>[?version=N]`: a credential in the configured secret store. */
export interface SecretReference {
  kind: "secret";
  /** A site name or `global`. */
  scope: string;
  name: string;
  version: number | undefined;
  raw: string;
}

export type Reference = EnvReference | SecretReference;

/** Resolves `secret://` references; implemented by the secrets layer. */
export interface SecretResolver {
  resolve(ref: SecretReference): Promise<Secret>;
}

export const SECRET_SCHEME = "secret://";
export { SCOPE_PATTERN, SECRET_NAME_PATTERN };

const ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\}$/s;

/** True when the string is written as a reference of either kind. */
export function isReference(value: string): boolean {
  return value.startsWith(SECRET_SCHEME) || ENV_REF.test(value);
}

/**
 * Parses a reference; returns undefined for a plain literal. A string that starts like a reference but is malformed
 * is an error (a typo must not silently become a literal password).
 */
export function parseReference(value: string): Reference | undefined {
  if (value.startsWith(SECRET_SCHEME)) return parseSecretReference(value);
  const env = ENV_REF.exec(value);
  if (env) return { kind: "env", name: env[1]!, default: env[2], raw: value };
  if (value.startsWith("${")) {
    throw new SiteloomError(
      "ERR_REFERENCE_INVALID",
      `invalid reference "${value}": expected \${NAME} or \${NAME:-default}`,
    );
  }
  return undefined;
}

/** Parses `secret://<scope>/<NAME>[?version=N]` (also accepts `<scope>/<NAME>` without the scheme). */
export function parseSecretReference(value: string): SecretReference {
  const body = value.startsWith(SECRET_SCHEME) ? value.slice(SECRET_SCHEME.length) : value;
  const [path = "", query] = body.split("?", 2);
  const parts = path.split("/");
  const fail = (why: string): never => {
    throw new SiteloomError(
      "ERR_REFERENCE_INVALID",
      `invalid secret reference "${value}": ${why} (expected secret://<site|global>/<NAME>, e.g. secret://shop/FTP_PASSWORD)`,
    );
  };
  if (parts.length !== 2) fail("it needs exactly one scope and one name");
  const [scope = "", name = ""] = parts;
  if (!SCOPE_PATTERN.test(scope)) fail(`scope "${scope}" is not a site name or "global"`);
  if (!SECRET_NAME_PATTERN.test(name)) fail(`name "${name}" must be upper-case letters, digits and _`);
  let version: number | undefined;
  if (query !== undefined) {
    const match = /^version=([1-9][0-9]*)$/.exec(query);
    if (!match) fail(`unsupported query "?${query}" (only ?version=N)`);
    version = Number(match![1]);
  }
  return { kind: "secret", scope, name, version, raw: `${SECRET_SCHEME}${scope}/${name}${query ? `?${query}` : ""}` };
}

/**
 * Where a configured credential is used, and what the workspace allows there. Resolution refuses a reference that
 * does not belong (docs/secrets.md, "Where a reference may be used"), so even a hand-written file cannot move a
 * secret or a variable into a field it was not made for.
 */
export interface ReferenceUse {
  /** The credential field: `remote.password`, `llm.apiKey`, `secrets.stores.vault.token`. */
  field: string;
  /** The site whose configuration holds the value; undefined for the workspace's own fields. */
  site?: string | undefined;
  /** Variables `${NAME}` may read (the workspace's `env:` list). */
  env: readonly string[];
  /** Global secrets declared for fields beyond their conventional name (`secrets.globals`). */
  globals: Readonly<Record<string, readonly string[]>>;
  /** The conventional global names of the field (the schema's GLOBAL_NAMES_META). */
  globalNames: RegExp | undefined;
}

/** Where a credential value is used: the field and the site whose configuration holds it. */
export interface CredentialUse {
  /** `remote.password`, `llm.apiKey`... */
  field: string;
  /** undefined for the workspace's own fields. */
  site?: string | undefined;
}

/**
 * What the workspace allows where a credential is used: the `env:` list and `secrets.globals` come from the
 * workspace's own configuration (a site file cannot set them), the conventional global names from the schema.
 */
export function referenceUse(config: Pick<WorkspaceConfig, "env" | "secrets">, use: CredentialUse): ReferenceUse {
  return {
    field: use.field,
    site: use.site,
    env: config.env,
    globals: config.secrets.globals,
    globalNames: globalNamesAt(SiteConfigSchema, use.field.split(".")),
  };
}

/** Variables no reference may read, whatever `env:` says: the keys that open the secret stores. */
export const UNREADABLE_VARIABLES = /^SITELOOM_AGE_|^SITELOOM_SECRET_|^SITELOOM_TOKEN$/;

/** Throws ERR_REFERENCE_FORBIDDEN when the reference may not be resolved into `use.field`. */
export function checkReferenceUse(ref: Reference, use: ReferenceUse): void {
  const fail = (why: string, fix: string): never => {
    throw new SiteloomError("ERR_REFERENCE_FORBIDDEN", `${ref.raw} may not be used in ${_where(use)}: ${why}; ${fix}`);
  };
  if (ref.kind === "env") {
    if (UNREADABLE_VARIABLES.test(ref.name)) {
      fail(`${ref.name} holds a key of the secret stores`, "no configuration value may read it");
    }
    if (!use.env.includes(ref.name)) {
      fail(
        `\${${ref.name}} is not in the workspace's env: list`,
        `add it to env: in siteloom.yaml if this workspace means to read it`,
      );
    }
    return;
  }
  if (ref.scope === "global") {
    const declared = Object.hasOwn(use.globals, ref.name) ? use.globals[ref.name] : undefined;
    if (declared?.includes(use.field) || (!declared && use.globalNames?.test(ref.name))) return;
    fail(
      declared
        ? `secrets.globals declares ${ref.name} for ${declared.join(", ") || "no field"} only`
        : `a global secret goes only into the fields its name is for (${use.globalNames?.source ?? "none"})`,
      `declare it in siteloom.yaml: secrets.globals.${ref.name}: [${use.field}]`,
    );
  }
  if (ref.scope !== use.site) {
    fail(
      `it belongs to site "${ref.scope}"`,
      use.site
        ? `use secret://${use.site}/${ref.name} or a global secret`
        : "the workspace's own fields use global secrets",
    );
  }
}

export interface ResolveValueOptions {
  /** Where the value is used; given, the reference must be allowed there (checkReferenceUse). */
  use?: ReferenceUse | undefined;
  /** Resolver for `secret://`; without one such a reference is a clear error. */
  secrets?: SecretResolver | undefined;
  /** Variables for `${NAME}`. @default process.env */
  env?: Record<string, string | undefined>;
  /** Where the value was set, for messages ("sites/shop/site.yaml:7:13 remote.password"). */
  origin?: string;
}

/**
 * Resolves a configured credential at use. Literals come back as a `Secret` too: a value in a credential field is
 * sensitive whether or not it was written as a reference.
 */
export async function resolveValue(value: string, options: ResolveValueOptions = {}): Promise<Secret> {
  const ref = parseReference(value);
  if (!ref) return new Secret(value);
  if (options.use) checkReferenceUse(ref, options.use);
  const where = options.origin ? ` (${options.origin})` : "";
  if (ref.kind === "env") {
    const env = options.env ?? process.env;
    const found = env[ref.name];
    if (found !== undefined && found !== "") return new Secret(found);
    if (ref.default !== undefined) return new Secret(ref.default);
    throw new SiteloomError(
      "ERR_REFERENCE_UNRESOLVED",
      `${ref.raw}${where}: environment variable ${ref.name} is not set; export it or write \${${ref.name}:-default}`,
    );
  }
  if (!options.secrets) {
    throw new SiteloomError(
      "ERR_REFERENCE_UNRESOLVED",
      `${ref.raw}${where}: no secret store is available to resolve it; run siteloom secrets init`,
    );
  }
  return options.secrets.resolve(ref);
}

// --- internal ---

function _where(use: ReferenceUse): string {
  return use.site ? `${use.field} of site "${use.site}"` : `${use.field} of the workspace`;
}
