import { SiteloomError } from "../../errors.ts";
import { deniedError, requestJson, serviceError } from "../cloud.ts";
import { type BackendCreate, memoize } from "../define.ts";
import type { BackendFactory, SecretBackend, SecretInfo, SecretVersionInfo, WriteMeta } from "../types.ts";
import type { VaultStoreSchema } from "./descriptors/vault.ts";

export interface VaultBackendOptions {
  /** Vault address, e.g. https://vault.example.com:8200. */
  address: string;
  /** Returns the Vault token (X-Vault-Token). */
  token: () => Promise<string>;
  /** KV v2 mount. @default "secret" */
  mount?: string;
  /** Path prefix inside the mount; secrets live at `<prefix>/<env>/<scope>/<NAME>`. @default "siteloom" */
  prefix?: string;
  /** Environment, part of the path. */
  env: string;
  /** HTTP client (tests may pass their own). @default globalThis.fetch */
  fetch?: typeof fetch;
}

interface KvData {
  data: { value?: string; actor?: string } | null;
  metadata: { version: number; created_time: string; deletion_time: string; destroyed: boolean };
}

interface KvMetadata {
  current_version: number;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
  created_time: string;
  updated_time: string;
}

/**
 * HashiCorp Vault KV version 2 over its HTTP API (no SDK): each secret is one KV entry whose versions are Vault's
 * own; writes of an existing secret use check-and-set, so concurrent writers lose no update.
 */
export const vaultBackend: BackendFactory<VaultBackendOptions> = (options) => {
  const http = options.fetch ?? globalThis.fetch;
  const mount = options.mount ?? "secret";
  const base = `${options.address.replace(/\/+$/, "")}/v1`;
  const root = `${options.prefix ?? "siteloom"}/${options.env}`;

  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T | undefined }> {
    const at = { backend: "vault", action: _capability(method, path), resource: path.replace(/\?.*$/, "") };
    const answer = await requestJson({
      at,
      method,
      url: `${base}/${path}`,
      headers: { "X-Vault-Token": await options.token() },
      body,
      fetch: http,
      // 429: a rate-limit quota; 502-504: a standby or a proxy in between; both pass
      retryable: (status) => status === 429 || (status >= 502 && status <= 504),
      unreachable: (error) =>
        new SiteloomError(
          "ERR_SECRET_BACKEND",
          `cannot reach Vault at ${options.address}: ${error.message}; check secrets.stores.*.address`,
          { cause: error },
        ),
      check({ status, json, message }) {
        if (json === undefined && message) {
          throw new SiteloomError(
            "ERR_SECRET_BACKEND",
            `${options.address} answered ${status} with something other than JSON; is it a Vault server?`,
          );
        }
        if (status === 403 || status === 401) {
          // Vault answers 403 both for an unknown token and for a policy without the capability
          throw deniedError(
            at,
            `check that the token (VAULT_TOKEN or the store's token) is valid and that its policy grants "${at.action}" on ${at.resource}`,
          );
        }
        if (status >= 500) throw serviceError(at, `${status} ${message}`);
      },
    });
    return { status: answer.status, json: answer.json as T | undefined };
  }

  const dataPath = (key: string) => `${mount}/data/${root}/${key}`;
  const metaPath = (key: string) => `${mount}/metadata/${root}/${key}`;

  async function metadata(key: string): Promise<KvMetadata | undefined> {
    const { status, json } = await call<{ data: KvMetadata }>("GET", metaPath(key));
    if (status === 404 || !json) return undefined;
    return json.data;
  }

  async function write(key: string, value: string, meta: WriteMeta, cas: number | undefined): Promise<number> {
    const body = { data: { value, actor: meta.actor }, ...(cas === undefined ? {} : { options: { cas } }) };
    const { status, json } = await call<{ data: { version: number }; errors?: string[] }>("POST", dataPath(key), body);
    if (status === 400 && json?.errors?.some((e) => e.includes("check-and-set"))) return -1;
    if (status >= 300 || !json) {
      throw new SiteloomError(
        "ERR_SECRET_BACKEND",
        `Vault refused the write of ${key} (${status}): ${json?.errors?.join("; ") ?? ""}`,
      );
    }
    return json.data.version;
  }

  /** Writes with check-and-set against the current version, retrying when another writer got in first. */
  async function writeCas(key: string, value: (meta: KvMetadata) => Promise<string> | string, meta: WriteMeta) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await metadata(key);
      if (!current || _live(current).length === 0) {
        throw new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
      }
      const version = await write(key, await value(current), meta, current.current_version);
      if (version > 0) return version;
    }
    throw new SiteloomError("ERR_SECRET_BACKEND", `Vault: ${key} kept changing under concurrent writers; try again`);
  }

  async function get(key: string, version?: number): Promise<{ value: string; version: number } | undefined> {
    const { status, json } = await call<{ data: KvData }>(
      "GET",
      `${dataPath(key)}${version === undefined ? "" : `?version=${version}`}`,
    );
    if (status === 404 || !json?.data?.data || typeof json.data.data.value !== "string") return undefined;
    return { value: json.data.data.value, version: json.data.metadata.version };
  }

  async function listKeys(path: string): Promise<string[]> {
    // `GET ?list=true` is Vault's documented equivalent of the LIST verb, which many HTTP stacks refuse
    const { status, json } = await call<{ data: { keys: string[] } }>("GET", `${mount}/metadata/${path}?list=true`);
    if (status === 404 || !json) return [];
    return json.data.keys;
  }

  return {
    type: "vault",
    capabilities: { write: true, list: true, history: true },
    describe: () => `${options.address} (${mount}/${root})`,
    get,
    async list(scope) {
      const scopes = scope ? [`${scope}/`] : (await listKeys(`${root}/`)).filter((k) => k.endsWith("/"));
      const out: SecretInfo[] = [];
      for (const s of scopes) {
        for (const name of await listKeys(`${root}/${s}`)) {
          if (name.endsWith("/")) continue;
          const meta = await metadata(`${s}${name}`);
          if (!meta || _live(meta).length === 0) continue;
          const live = _live(meta);
          out.push({
            scope: s.slice(0, -1),
            name,
            version: meta.current_version,
            createdAt: live[0]?.createdAt,
            updatedAt: live.at(-1)?.createdAt,
          });
        }
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key): Promise<SecretVersionInfo[]> {
      const meta = await metadata(key);
      if (!meta) return [];
      // the actor is written with each version's data; read it back (the values are not kept)
      const versions = _live(meta);
      for (const v of versions) {
        const { json } = await call<{ data: KvData }>("GET", `${dataPath(key)}?version=${v.version}`);
        if (json?.data?.data?.actor) v.actor = json.data.data.actor;
      }
      return versions;
    },
    async set(key, value, meta) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const current = await metadata(key);
        const version = await write(key, value, meta, current?.current_version ?? 0);
        if (version > 0) return version;
      }
      throw new SiteloomError("ERR_SECRET_BACKEND", `Vault: ${key} kept changing under concurrent writers; try again`);
    },
    rotate: (key, value, meta) => writeCas(key, () => value, meta),
    async rollback(key, version, meta) {
      return writeCas(
        key,
        async () => {
          const old = await get(key, version);
          if (!old) {
            throw new SiteloomError(
              "ERR_SECRET_NOT_FOUND",
              `version ${version} of ${key} is not kept in Vault; see siteloom secrets history secret://${key}`,
            );
          }
          return old.value;
        },
        meta,
      );
    },
    async delete(key) {
      const meta = await metadata(key);
      if (!meta) return false;
      await call("DELETE", metaPath(key));
      return `deleted ${mount}/metadata/${root}/${key} with every version; not recoverable`;
    },
    async test() {
      const { status } = await call("GET", "auth/token/lookup-self");
      if (status >= 300)
        throw new SiteloomError("ERR_SECRET_BACKEND", `Vault at ${options.address} answered ${status}`);
      return `${options.address}: token accepted (${mount}/${root})`;
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/vault.ts holds the options). */
export const create: BackendCreate<typeof VaultStoreSchema> = (config, ctx) => {
  return vaultBackend({
    address: config.address,
    mount: config.mount,
    prefix: config.prefix,
    env: ctx.env,
    token: memoize(async () => {
      if (config.token) return ctx.resolveCredential(config.token, `secrets.stores.${ctx.store}.token`);
      if (ctx.vars.VAULT_TOKEN) return ctx.vars.VAULT_TOKEN;
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        `no Vault token for store "${ctx.store}": set VAULT_TOKEN, or token: \${VAULT_TOKEN} on the store`,
      );
    }),
  });
};

// --- internal ---

function _live(meta: KvMetadata): SecretVersionInfo[] {
  return Object.entries(meta.versions)
    .filter(([, v]) => !v.destroyed && !v.deletion_time)
    .map(([n, v]) => ({ version: Number(n), createdAt: v.created_time, actor: "vault" }))
    .sort((a, b) => a.version - b.version);
}

/** The Vault policy capability a request needs (what a permission error names). */
function _capability(method: string, path: string): string {
  if (method === "GET" && path.includes("/metadata/") && path.endsWith("?list=true")) return "list";
  return { GET: "read", POST: "create/update", PUT: "create/update", DELETE: "delete", LIST: "list" }[method] ?? method;
}
