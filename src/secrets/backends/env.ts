import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SiteloomError } from "../../errors.ts";
import { SCOPE_PATTERN, SECRET_NAME_PATTERN } from "../../secret-names.ts";
import type { BackendCreate } from "../define.ts";
import { envVarKey, envVarName } from "../env-names.ts";
import type { BackendFactory, SecretBackend, SecretInfo } from "../types.ts";
import type { EnvStoreSchema } from "./descriptors/env.ts";

export interface EnvBackendOptions {
  /** Prefix of the variables read. @default "SITELOOM_SECRET_" */
  prefix?: string;
  /** Variable source; tests pass a plain object. @default process.env */
  env?: Record<string, string | undefined>;
  /** Docker / Kubernetes secrets directory. @default "/run/secrets" */
  secretsDir?: string;
}

/**
 * Read-only store for containers. `secret://shop-eu/FTP_PASSWORD` is found, in this order, in
 * `SITELOOM_SECRET_SHOP_EU__FTP_PASSWORD`, in the file named by `SITELOOM_SECRET_SHOP_EU__FTP_PASSWORD_FILE`, in
 * `<secretsDir>/shop-eu.FTP_PASSWORD`, then `<secretsDir>/shop-eu/FTP_PASSWORD`. One trailing newline (LF or CRLF)
 * of a file is removed, as editors and `echo` add one.
 */
export const envBackend: BackendFactory<EnvBackendOptions> = (options) => {
  const prefix = options.prefix ?? "SITELOOM_SECRET_";
  const env = options.env ?? process.env;
  const dir = options.secretsDir ?? "/run/secrets";

  function find(key: string): { value: string; source: string } | undefined {
    const [scope = "", name = ""] = key.split("/");
    const variable = envVarName(prefix, scope, name);
    const direct = env[variable];
    if (direct !== undefined && direct !== "") return { value: direct, source: variable };
    const fileVar = env[`${variable}_FILE`];
    if (fileVar) {
      try {
        return { value: _trimNewline(readFileSync(fileVar, "utf8")), source: `${variable}_FILE` };
      } catch (error) {
        throw new SiteloomError(
          "ERR_SECRET_BACKEND",
          `${variable}_FILE names ${fileVar}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
          { cause: error },
        );
      }
    }
    for (const file of [join(dir, `${scope}.${name}`), join(dir, scope, name)]) {
      if (_isFile(file)) return { value: _trimNewline(readFileSync(file, "utf8")), source: file };
    }
    return undefined;
  }

  return {
    type: "env",
    capabilities: { write: false, list: true, history: false },
    describe: () => `variables ${prefix}<SCOPE>__<NAME>[_FILE] and ${dir}`,
    async get(key, version) {
      const found = find(key);
      if (!found) return undefined;
      if (version !== undefined && version !== 1) return undefined;
      return { value: found.value, version: 1 };
    },
    async list(scope) {
      const seen = new Map<string, SecretInfo>();
      const add = (s: string, name: string, source: string) => {
        if (!SCOPE_PATTERN.test(s) || !SECRET_NAME_PATTERN.test(name)) return;
        if (scope !== undefined && s !== scope) return;
        const key = `${s}/${name}`;
        if (!seen.has(key))
          seen.set(key, { scope: s, name, version: 1, createdAt: undefined, updatedAt: undefined, source });
      };
      for (const variable of Object.keys(env).sort()) {
        if (!variable.startsWith(prefix) || !env[variable]) continue;
        const key = envVarKey(prefix, variable.replace(/_FILE$/, ""));
        if (key) add(key.scope, key.name, variable);
      }
      if (existsSync(dir)) {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory() && SCOPE_PATTERN.test(entry.name)) {
            for (const inner of readdirSync(join(dir, entry.name))) {
              if (_isFile(join(dir, entry.name, inner))) add(entry.name, inner, join(dir, entry.name, inner));
            }
          } else if (!entry.name.startsWith(".")) {
            const dot = entry.name.indexOf(".");
            if (dot > 0 && _isFile(join(dir, entry.name))) {
              add(entry.name.slice(0, dot), entry.name.slice(dot + 1), join(dir, entry.name));
            }
          }
        }
      }
      return [...seen.values()].sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key) {
      return find(key) ? [{ version: 1, createdAt: "", actor: "environment" }] : [];
    },
    async test() {
      const n = (await this.list()).length;
      return `environment and ${dir}: ${n} secret${n === 1 ? "" : "s"} visible`;
    },
    howToSet(key) {
      const [scope = "", name = ""] = key.split("/");
      const variable = envVarName(prefix, scope, name);
      return `set the variable ${variable} (or ${variable}_FILE naming a file), or mount the file ${join(dir, `${scope}.${name}`)}`;
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/env.ts holds the options). */
export const create: BackendCreate<typeof EnvStoreSchema> = (config, ctx) =>
  envBackend({ prefix: config.prefix, env: ctx.vars, secretsDir: resolve(ctx.root, config.secretsDir) });

// --- internal ---

function _trimNewline(text: string): string {
  return text.replace(/\r?\n$/, "");
}

function _isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
