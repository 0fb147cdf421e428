import { resolve } from "node:path";
import type * as Sdk from "@google-cloud/secret-manager";
import { SiteloomError } from "../../errors.ts";
import { runWithRetry } from "../../retry.ts";
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
import { GCP_SDK, GCP_SDK_VERSION, type GcpStoreSchema } from "./descriptors/gcp.ts";

export interface GcpBackendOptions {
  /** Environment, part of every secret id. */
  env: string;
  /** Google Cloud project id (or number) that holds the secrets. */
  project: string;
  /** First part of every secret id. @default "siteloom" */
  prefix?: string | undefined;
  /** Replication of new secrets: "automatic", or the locations of user-managed replicas. @default "automatic" */
  replication?: "automatic" | string[] | undefined;
  /** Service-account key file; without it Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server). */
  keyFilename?: string | undefined;
  /** API endpoint host (a regional or private endpoint, a local server). @default secretmanager.googleapis.com */
  apiEndpoint?: string | undefined;
  /** Port of apiEndpoint. @default 443 */
  port?: number | undefined;
  /** "http" only for a local server. @default "https" */
  protocol?: "http" | "https" | undefined;
  /** Attempts per request when the quota is exhausted. @default 5 */
  attempts?: number | undefined;
}

type Client = InstanceType<typeof Sdk.v1.SecretManagerServiceClient>;
type Version = { version: number; createdAt: string; state: string };

/**
 * Google Secret Manager through the official client over its REST transport (`fallback`; no gRPC native code).
 * One secret per siteloom secret, id `<prefix>--<env>--<scope>--<NAME>` with `-`/`_` escaped so the mapping is
 * reversible, labelled with siteloom's scope, name and environment. Versions are Secret Manager's own numbers;
 * rollback adds a new version holding an old one's value; disabled and destroyed versions are reported as such.
 */
export const gcpBackend: BackendFactory<GcpBackendOptions> = (options) => {
  const prefix = options.prefix ?? "siteloom";
  const base = `${encodeName([prefix, options.env])}--`;
  const parent = `projects/${options.project}`;
  const where = `project ${options.project}`;
  let clientPromise: Promise<Client> | undefined;

  function connect(): Promise<Client> {
    clientPromise ??= importOptional<typeof Sdk>(GCP_SDK, GCP_SDK_VERSION, "gcp").then(
      (sdk) =>
        new sdk.v1.SecretManagerServiceClient({
          fallback: true,
          ...(options.keyFilename ? { keyFilename: options.keyFilename } : {}),
          ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
          ...(options.port ? { port: options.port } : {}),
          ...(options.protocol ? { protocol: options.protocol } : {}),
        }),
    );
    return clientPromise;
  }

  const idOf = (key: string) => `${base}${encodeName(key.split("/"))}`;
  const nameOf = (key: string) => `${parent}/secrets/${idOf(key)}`;
  function keyOf(resourceName: string): string | undefined {
    const id = resourceName.slice(resourceName.lastIndexOf("/") + 1);
    if (!id.startsWith(base)) return undefined;
    const parts = decodeName(id.slice(base.length));
    return parts?.length === 2 ? parts.join("/") : undefined;
  }

  /** One call; quota errors are retried with back-off, NOT_FOUND is undefined, the rest become siteloom errors. */
  async function call<T>(
    action: string,
    resource: string,
    fn: (client: Client) => Promise<T>,
    values: string[] = [],
  ): Promise<T | undefined> {
    const client = await connect();
    const at: CloudAction = { backend: "gcp", action, resource };
    try {
      return await runWithRetry(() => fn(client), {
        retries: (options.attempts ?? 5) - 1,
        baseMs: 200,
        maxMs: 5000,
        classify: (error) => ({ retry: _status(error).status === "RESOURCE_EXHAUSTED" }),
      });
    } catch (error) {
      if (_status(error).status === "NOT_FOUND") return undefined;
      throw _mapError(error, at, where, values);
    }
  }

  async function versions(key: string): Promise<Version[] | undefined> {
    const name = nameOf(key);
    const out = await call("secretmanager.versions.list", name, (c) =>
      c.listSecretVersions({ parent: name, pageSize: 25_000 }, { autoPaginate: true }),
    );
    if (!out) return undefined;
    return out[0]
      .map((v) => ({
        version: Number(v.name!.slice(v.name!.lastIndexOf("/") + 1)),
        createdAt: _time(v.createTime),
        state: String(v.state),
      }))
      .sort((a, b) => a.version - b.version);
  }

  async function get(key: string, version?: number): Promise<StoredValue | undefined> {
    const name = `${nameOf(key)}/versions/${version ?? "latest"}`;
    try {
      const out = await call("secretmanager.versions.access", name, (c) => c.accessSecretVersion({ name }));
      const data = out?.[0].payload?.data;
      if (!out || data === undefined || data === null) return undefined;
      const number = Number(out[0].name!.slice(out[0].name!.lastIndexOf("/") + 1));
      return { value: Buffer.from(data as Uint8Array | string).toString("utf8"), version: number };
    } catch (error) {
      // a disabled or destroyed version: say so instead of "not set"
      const state = /is in (DISABLED|DESTROYED) state/.exec(String((error as Error).message))?.[1];
      if (!state) throw error;
      if (version === undefined) return undefined;
      throw new SiteloomError(
        "ERR_SECRET_NOT_FOUND",
        `version ${version} of secret://${key} is ${state.toLowerCase()} in Google Secret Manager (${where}); see siteloom secrets history secret://${key}`,
      );
    }
  }

  async function add(key: string, value: string): Promise<number> {
    const name = nameOf(key);
    const out = await call(
      "secretmanager.versions.add",
      name,
      (c) => c.addSecretVersion({ parent: name, payload: { data: Buffer.from(value, "utf8") } }),
      [value],
    );
    if (!out) throw new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
    return Number(out[0].name!.slice(out[0].name!.lastIndexOf("/") + 1));
  }

  async function create(key: string): Promise<void> {
    const [scope, secretName] = key.split("/") as [string, string];
    try {
      await call("secretmanager.secrets.create", nameOf(key), (c) =>
        c.createSecret({
          parent,
          secretId: idOf(key),
          secret: {
            replication:
              !options.replication || options.replication === "automatic"
                ? { automatic: {} }
                : { userManaged: { replicas: options.replication.map((location) => ({ location })) } },
            labels: {
              "siteloom-scope": scope.slice(0, 63),
              "siteloom-name": secretName.toLowerCase().slice(0, 63),
              "siteloom-env": options.env
                .toLowerCase()
                .replace(/[^a-z0-9_-]/g, "_")
                .slice(0, 63),
            },
          },
        }),
      );
    } catch (error) {
      // another writer created it first: its version numbering is shared, so just add ours
      if (((error as SiteloomError).cause as { status?: string } | undefined)?.status !== "ALREADY_EXISTS") throw error;
    }
  }

  async function listSecrets(): Promise<{ key: string; createdAt: string }[]> {
    const out = await call("secretmanager.secrets.list", parent, (c) =>
      c.listSecrets({ parent, pageSize: 25_000 }, { autoPaginate: true }),
    );
    const found: { key: string; createdAt: string }[] = [];
    for (const s of out?.[0] ?? []) {
      const key = keyOf(s.name ?? "");
      if (key) found.push({ key, createdAt: _time(s.createTime) });
    }
    return found;
  }

  return {
    type: "gcp",
    capabilities: { write: true, list: true, history: true, actors: false },
    describe: () => `Google Secret Manager (${where}), ids ${base}<scope>--<NAME>`,
    get,
    async getAll(scope) {
      // Secret Manager has no batch read: one listing, then the values with a bounded number in flight
      const keys = (await listSecrets()).map((s) => s.key).filter((k) => !scope || k.startsWith(`${scope}/`));
      return readEach(keys, get);
    },
    async list(scope) {
      const out: SecretInfo[] = [];
      for (const s of await listSecrets()) {
        const [secretScope, name] = s.key.split("/") as [string, string];
        if (scope && secretScope !== scope) continue;
        const all = (await versions(s.key)) ?? [];
        const live = all.filter((v) => v.state === "ENABLED" || v.state === "1");
        if (live.length === 0) continue;
        out.push({
          scope: secretScope,
          name,
          version: live.at(-1)!.version,
          createdAt: s.createdAt,
          updatedAt: live.at(-1)!.createdAt,
        });
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key): Promise<SecretVersionInfo[]> {
      return ((await versions(key)) ?? []).map((v) => ({
        version: v.version,
        createdAt: v.createdAt,
        actor: "gcp",
        ...(_stateName(v.state) === "ENABLED" ? {} : { state: _stateName(v.state).toLowerCase() }),
      }));
    },
    async set(key, value) {
      const existing = await versions(key);
      if (!existing) await create(key);
      return add(key, value);
    },
    async rotate(key, value) {
      return add(key, value);
    },
    async rollback(key, version) {
      const old = await get(key, version);
      if (!old) {
        throw new SiteloomError(
          "ERR_SECRET_NOT_FOUND",
          `version ${version} of ${key} is not kept in Google Secret Manager; see siteloom secrets history secret://${key}`,
        );
      }
      return add(key, old.value);
    },
    async delete(key) {
      const name = nameOf(key);
      const out = await call("secretmanager.secrets.delete", name, (c) => c.deleteSecret({ name }));
      return (
        out !== undefined && `deleted ${name} with every version; not recoverable (Secret Manager has no undelete)`
      );
    },
    async test() {
      const found = await listSecrets();
      return `Google Secret Manager (${where}): credentials accepted, ${found.length} secret(s) under ${base}`;
    },
    async dispose() {
      if (clientPromise) await (await clientPromise).close();
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/gcp.ts holds the options). */
export const create: BackendCreate<typeof GcpStoreSchema> = (config, ctx) => {
  const endpoint = config.endpoint ? new URL(config.endpoint) : undefined;
  return gcpBackend({
    env: ctx.env,
    project: config.project,
    prefix: config.prefix,
    replication: config.replication,
    keyFilename: config.keyFile ? resolve(ctx.root, config.keyFile) : undefined,
    ...(endpoint
      ? {
          apiEndpoint: endpoint.hostname,
          port: Number(endpoint.port || (endpoint.protocol === "http:" ? 80 : 443)),
          protocol: endpoint.protocol === "http:" ? "http" : "https",
        }
      : {}),
  });
};

// --- internal ---

const STATES = ["STATE_UNSPECIFIED", "ENABLED", "DISABLED", "DESTROYED"];

function _stateName(state: string): string {
  return /^\d+$/.test(state) ? (STATES[Number(state)] ?? state) : state;
}

function _time(t: { seconds?: unknown; nanos?: number | null } | null | undefined): string {
  const seconds = Number(t?.seconds ?? 0);
  return new Date(seconds * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();
}

const GRPC_STATUS = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/**
 * The google.rpc.Status of a failed call: a GoogleError carries a gRPC code, while the REST transport's HTTP
 * errors carry the service's JSON body (`{"error":{"code","message","status"}}`) as their message.
 */
function _status(error: unknown): { status: string | undefined; message: string } {
  const e = error as { code?: unknown; message?: unknown; details?: unknown };
  const text = String(e.message ?? "");
  try {
    const body = JSON.parse(text) as { error?: { status?: string; message?: string } };
    if (body.error?.status) return { status: body.error.status, message: body.error.message ?? "" };
  } catch {
    // not a JSON body
  }
  const status = typeof e.code === "number" && e.code < GRPC_STATUS.length ? GRPC_STATUS[e.code] : undefined;
  return { status, message: String(e.details || text).split("\n")[0]! };
}

function _mapError(error: unknown, at: CloudAction, where: string, values: string[]): SiteloomError {
  const { status, message: detail } = _status(error);
  const cause = Object.assign(safeCause(error, values)!, { status });
  switch (status) {
    case "PERMISSION_DENIED":
      return deniedError(at, `grant it to the account siteloom runs as (IAM on ${where})`, cause);
    case "UNAUTHENTICATED":
      return credentialsError(
        "gcp",
        `Google Secret Manager (${where}) refused the credentials`,
        "check GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login",
        error,
      );
    case "RESOURCE_EXHAUSTED":
      return serviceError(at, "quota exhausted after several attempts; try again later", [], cause);
    default:
      if (status === undefined) {
        if (/Could not load the default credentials|Could not refresh access token/.test(detail)) {
          return credentialsError(
            "gcp",
            "no Google credentials found",
            "set GOOGLE_APPLICATION_CREDENTIALS or the store's keyFilename, or run gcloud auth application-default login",
            error,
          );
        }
        return new SiteloomError(
          "ERR_SECRET_BACKEND",
          `gcp: cannot reach Google Secret Manager (${where}): ${detail}; check the network and the store's apiEndpoint`,
          { cause: safeCause(error) },
        );
      }
      return serviceError(at, `${status}: ${detail}`, values, cause);
  }
}
