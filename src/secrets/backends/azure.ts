import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { TokenCredential } from "@azure/identity";
import type * as Sdk from "@azure/keyvault-secrets";
import { SiteloomError } from "../../errors.ts";
import {
  type CloudAction,
  credentialsError,
  decodeName,
  deniedError,
  encodeName,
  importOptional,
  readEach,
  safeCause,
  serviceError,
} from "../cloud.ts";
import type { BackendCreate } from "../define.ts";
import type { BackendFactory, SecretBackend, SecretInfo, SecretVersionInfo, StoredValue } from "../types.ts";
import {
  AZURE_IDENTITY,
  AZURE_IDENTITY_VERSION,
  AZURE_SDK,
  AZURE_SDK_VERSION,
  type AzureStoreSchema,
} from "./descriptors/azure.ts";

export interface AzureBackendOptions {
  /** Environment, part of every secret name. */
  env: string;
  /** Vault URL, e.g. https://my-vault.vault.azure.net. */
  vaultUrl: string;
  /** First part of every secret name. @default "siteloom" */
  prefix?: string | undefined;
  /** After a delete, purge the soft-deleted secret when the vault allows it (no purge protection). @default true */
  purge?: boolean | undefined;
  /** Extra CA certificate file to trust for the vault (private endpoints with an internal CA). */
  caFile?: string | undefined;
  /** Check that the vault's challenge names a resource of the vault's own domain. @default true */
  verifyChallengeResource?: boolean | undefined;
  /** Credential; without it `DefaultAzureCredential` (environment, workload identity, managed identity, Azure CLI). */
  credential?: TokenCredential | undefined;
}

/**
 * Azure Key Vault through `@azure/keyvault-secrets` and `@azure/identity`. One Key Vault secret per siteloom secret,
 * named `<prefix>--<env>--<scope>--<NAME>` with `-` and `_` escaped (Key Vault allows letters, digits and `-` only,
 * and ignores case: scopes are lower case and names upper case, so no two keys meet). Versions are Key Vault's;
 * each carries siteloom's version number and author in its tags, and numbers follow creation order. Delete is Key
 * Vault's soft delete, then a purge when the vault allows it; with purge protection the secret stays recoverable
 * and the delete says until when.
 */
export const azureBackend: BackendFactory<AzureBackendOptions> = (options) => {
  const base = `${encodeName([options.prefix ?? "siteloom", options.env])}--`;
  const where = options.vaultUrl.replace(/\/+$/, "");
  let clientPromise: Promise<Sdk.SecretClient> | undefined;

  function connect(): Promise<Sdk.SecretClient> {
    clientPromise ??= (async () => {
      const sdk = await importOptional<typeof Sdk>(AZURE_SDK, AZURE_SDK_VERSION, "azure");
      const credential =
        options.credential ??
        new (
          await importOptional<typeof import("@azure/identity")>(AZURE_IDENTITY, AZURE_IDENTITY_VERSION, "azure")
        ).DefaultAzureCredential();
      return new sdk.SecretClient(where, credential, {
        ...(options.verifyChallengeResource === false ? { disableChallengeResourceVerification: true } : {}),
        ...(options.caFile ? { tlsOptions: { ca: readFileSync(options.caFile, "utf8") } } : {}),
        retryOptions: { maxRetries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 5000 },
      });
    })();
    return clientPromise;
  }

  // The SDK learns the vault's challenge (a 401 to a first request without a token) and then fetches one token
  // per client; requests sent before that each get their own 401. So the first request of a client goes alone,
  // and the others wait for it: one challenge and one token for 100 concurrent reads, not 100 of each.
  let firstDone: Promise<void> | undefined;
  async function authenticated<T>(send: () => Promise<T>): Promise<T> {
    if (firstDone) {
      await firstDone;
      return send();
    }
    const first = send();
    firstDone = first.then(
      () => undefined,
      (error: { statusCode?: number }) => {
        // no answer past the challenge (unreachable, refused credentials): the next request tries alone again
        if (error.statusCode === undefined || error.statusCode === 401) firstDone = undefined;
      },
    );
    return first;
  }

  const nameOf = (key: string) => `${base}${encodeName(key.split("/"))}`;
  function keyOf(name: string): string | undefined {
    if (!name.toLowerCase().startsWith(base.toLowerCase())) return undefined;
    const parts = decodeName(name.slice(base.length));
    return parts?.length === 2 ? `${parts[0]!.toLowerCase()}/${parts[1]!.toUpperCase()}` : undefined;
  }

  async function call<T>(
    action: string,
    key: string | undefined,
    fn: (c: Sdk.SecretClient) => Promise<T>,
    values: string[] = [],
  ) {
    const client = await connect();
    const at: CloudAction = { backend: "azure", action, resource: `${where}/secrets/${key ? nameOf(key) : ""}` };
    try {
      return await authenticated(() => fn(client));
    } catch (error) {
      const e = error as { statusCode?: number; code?: string };
      if (e.statusCode === 404 && action !== "purge") return undefined;
      throw _mapError(error, at, where, values);
    }
  }

  /** Versions in creation order (ties: siteloom's tag, then id), numbered from 1. */
  async function versions(key: string) {
    const out = await call("secrets/readMetadata", key, async (c) => {
      const all: Sdk.SecretProperties[] = [];
      for await (const p of c.listPropertiesOfSecretVersions(nameOf(key))) all.push(p);
      return all;
    });
    if (!out) return undefined;
    return out
      .sort(
        (a, b) =>
          (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0) ||
          Number(a.tags?.["siteloom-version"] ?? 0) - Number(b.tags?.["siteloom-version"] ?? 0) ||
          (a.version ?? "").localeCompare(b.version ?? ""),
      )
      .map((p, i) => ({
        version: i + 1,
        id: p.version!,
        createdAt: (p.createdOn ?? new Date(0)).toISOString(),
        actor: p.tags?.["siteloom-actor"] ?? "azure",
        enabled: p.enabled !== false,
      }));
  }

  async function get(key: string, version?: number): Promise<StoredValue | undefined> {
    let id: string | undefined;
    if (version !== undefined) {
      id = (await versions(key))?.find((v) => v.version === version)?.id;
      if (!id) return undefined;
    }
    const secret = await call("secrets/getSecret", key, (c) => c.getSecret(nameOf(key), id ? { version: id } : {}));
    if (secret?.value === undefined) return undefined;
    // the tag is the number the writer gave it; a secret written by another tool is numbered from the list
    const tagged = Number(secret.properties.tags?.["siteloom-version"]);
    const number =
      version ?? (tagged || (await versions(key))?.find((v) => v.id === secret.properties.version)?.version || 1);
    return { value: secret.value, version: number };
  }

  async function write(key: string, value: string, actor: string, mustExist: boolean): Promise<number> {
    const before = await versions(key);
    if (mustExist && !before?.length) throw new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
    const [scope, name] = key.split("/") as [string, string];
    const written = await call(
      "secrets/setSecret",
      key,
      (c) =>
        c.setSecret(nameOf(key), value, {
          tags: {
            "siteloom-version": String((before?.length ?? 0) + 1),
            "siteloom-actor": actor.slice(0, 256),
            "siteloom-scope": scope,
            "siteloom-name": name,
            "siteloom-env": options.env,
          },
        }),
      [value],
    );
    const after = (await versions(key)) ?? [];
    return after.find((v) => v.id === written?.properties.version)?.version ?? after.length;
  }

  async function listNames(): Promise<{ key: string; createdAt: string | undefined; updatedAt: string | undefined }[]> {
    const out = await call("secrets/readMetadata", undefined, async (c) => {
      const all: Sdk.SecretProperties[] = [];
      for await (const p of c.listPropertiesOfSecrets()) all.push(p);
      return all;
    });
    const found = [];
    for (const p of out ?? []) {
      const key = keyOf(p.name);
      if (key) found.push({ key, createdAt: p.createdOn?.toISOString(), updatedAt: p.updatedOn?.toISOString() });
    }
    return found;
  }

  return {
    type: "azure",
    capabilities: { write: true, list: true, history: true, maxValueBytes: 25 * 1024 },
    describe: () => `Azure Key Vault ${where}, names ${base}<scope>--<NAME>`,
    get,
    async getAll(scope) {
      // Key Vault has no batch read: one listing, then the values with a bounded number in flight
      const keys = (await listNames()).map((s) => s.key).filter((k) => !scope || k.startsWith(`${scope}/`));
      return readEach(keys, get);
    },
    async list(scope) {
      const out: SecretInfo[] = [];
      for (const s of await listNames()) {
        const [secretScope, name] = s.key.split("/") as [string, string];
        if (scope && secretScope !== scope) continue;
        const all = (await versions(s.key)) ?? [];
        if (all.length === 0) continue;
        out.push({ scope: secretScope, name, version: all.length, createdAt: s.createdAt, updatedAt: s.updatedAt });
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key): Promise<SecretVersionInfo[]> {
      return ((await versions(key)) ?? []).map((v) => ({
        version: v.version,
        createdAt: v.createdAt,
        actor: v.actor,
        ...(v.enabled ? {} : { state: "disabled" }),
      }));
    },
    set: (key, value, meta) => write(key, value, meta.actor, false),
    rotate: (key, value, meta) => write(key, value, meta.actor, true),
    async rollback(key, version, meta) {
      const old = await get(key, version);
      if (!old) {
        throw new SiteloomError(
          "ERR_SECRET_NOT_FOUND",
          `version ${version} of ${key} is not kept in Azure Key Vault; see siteloom secrets history secret://${key}`,
        );
      }
      return write(key, old.value, meta.actor, true);
    },
    async delete(key) {
      const name = nameOf(key);
      const deleted = await call("secrets/delete", key, async (c) => {
        const poller = await c.beginDeleteSecret(name, { intervalInMs: 100 });
        return poller.pollUntilDone();
      });
      if (!deleted) return false;
      const until = deleted.scheduledPurgeDate?.toISOString() ?? "the vault's retention period ends";
      if (options.purge === false) {
        return `soft-deleted ${name}; recoverable until ${until} (az keyvault secret recover), purge: false on the store`;
      }
      try {
        await call("secrets/purge", key, (c) => c.purgeDeletedSecret(name));
        return `deleted and purged ${name}; not recoverable`;
      } catch (error) {
        if ((error as SiteloomError).code !== "ERR_SECRET_DENIED") throw error;
        // purge protection: the secret stays recoverable, and a new one of that name waits for the purge date
        return `soft-deleted ${name}; the vault refuses purging (purge protection on), so it stays recoverable until ${until}`;
      }
    },
    async test() {
      const found = await listNames();
      return `Azure Key Vault ${where}: credentials accepted, ${found.length} secret(s) under ${base}`;
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/azure.ts holds the options). */
export const create: BackendCreate<typeof AzureStoreSchema> = (config, ctx) =>
  azureBackend({
    ...config,
    env: ctx.env,
    caFile: config.caFile ? resolve(ctx.root, config.caFile) : undefined,
  });

// --- internal ---

function _mapError(error: unknown, at: CloudAction, where: string, values: string[]): SiteloomError {
  const e = error as Error & { statusCode?: number; code?: string };
  const detail = String(e.message ?? "").split(/\r?\n/)[0]!;
  if (e.statusCode === 403) {
    if (/purge protection/i.test(e.message)) {
      return deniedError(
        at,
        "the vault has purge protection; the secret stays recoverable until its purge date",
        error,
      );
    }
    return deniedError(
      at,
      `assign a Key Vault role that allows it (Key Vault Secrets Officer/User) on ${where}`,
      error,
    );
  }
  if (e.statusCode === 401 || e.name === "CredentialUnavailableError" || e.name === "AuthenticationError") {
    return credentialsError(
      "azure",
      `Azure Key Vault ${where} refused the credentials or none were found (${e.name})`,
      "set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, run az login, or give the workload a managed identity",
      error,
    );
  }
  if (e.statusCode === 409 && /deleted but recoverable/.test(e.message)) {
    return serviceError(
      at,
      "a deleted secret of this name is still recoverable; recover it (az keyvault secret recover) or purge it first",
      [],
      error,
    );
  }
  if (e.statusCode === 429)
    return serviceError(at, "throttled by Key Vault after several attempts; try again later", [], error);
  if (e.statusCode === undefined) {
    return new SiteloomError(
      "ERR_SECRET_BACKEND",
      `azure: cannot reach Azure Key Vault ${where}: ${e.code ? `${e.code}: ` : ""}${detail}; check the vault URL, the network and its certificate (NODE_EXTRA_CA_CERTS or the store's caFile)`,
      { cause: safeCause(error, values) },
    );
  }
  return serviceError(at, `${e.code ?? e.statusCode}: ${detail}`, values, error);
}
