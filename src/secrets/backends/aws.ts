import type * as Sdk from "@aws-sdk/client-secrets-manager";
import { SiteloomError } from "../../errors.ts";
import { type CloudAction, credentialsError, deniedError, importOptional, safeCause, serviceError } from "../cloud.ts";
import type { BackendCreate } from "../define.ts";
import type { BackendFactory, SecretBackend, SecretInfo, SecretVersionInfo, StoredValue } from "../types.ts";
import { AWS_SDK, AWS_SDK_VERSION, type AwsStoreSchema } from "./descriptors/aws.ts";

export interface AwsBackendOptions {
  /** Environment, part of every secret name. */
  env: string;
  /** AWS region. @default the SDK's chain (AWS_REGION, the shared profile) */
  region?: string | undefined;
  /** Service endpoint (VPC endpoint, FIPS endpoint, a local server). @default the region's endpoint */
  endpoint?: string | undefined;
  /** KMS key for new secrets. @default the account's aws/secretsmanager key */
  kmsKeyId?: string | undefined;
  /** First part of every secret name: `<prefix>/<env>/<scope>/<NAME>`. @default "siteloom" */
  prefix?: string | undefined;
  /** Shared-config profile. @default AWS_PROFILE, then "default" */
  profile?: string | undefined;
  /** Days AWS keeps a deleted secret restorable (7–30); without it a delete is immediate. */
  recoveryWindowDays?: number | undefined;
  /** Attempts per request, throttling included (the SDK backs off between them). @default 5 */
  maxAttempts?: number | undefined;
  /** Static credentials; without them the SDK's standard chain (env, profile, web identity, container, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/** Version ids siteloom writes: `siteloom-version-` and the version number, so numbers survive in AWS itself. */
const VERSION_ID = /^siteloom-version-(\d{16})$/;
const PAGE = 100;

/**
 * AWS Secrets Manager through the official SDK. One AWS secret per siteloom secret, named
 * `<prefix>/<env>/<scope>/<NAME>` and tagged with siteloom's scope, name and environment. Versions are AWS
 * versions whose id carries siteloom's number (a version id cannot be reused for another value, so two writers of
 * the same next version cannot both win); AWSCURRENT is the current value and AWSPREVIOUS the one before.
 */
export const awsBackend: BackendFactory<AwsBackendOptions> = (options) => {
  const prefix = `${(options.prefix ?? "siteloom").replace(/\/+$/, "")}/${options.env}/`;
  const where = options.endpoint ?? options.region ?? "the default region";
  let clientPromise: Promise<Sdk.SecretsManager> | undefined;

  function connect() {
    clientPromise ??= importOptional<typeof Sdk>(AWS_SDK, AWS_SDK_VERSION, "aws").then(
      (sdk) =>
        new sdk.SecretsManager({
          ...(options.region ? { region: options.region } : {}),
          ...(options.endpoint ? { endpoint: options.endpoint } : {}),
          ...(options.profile ? { profile: options.profile } : {}),
          ...(options.credentials ? { credentials: options.credentials } : {}),
          maxAttempts: options.maxAttempts ?? 5,
        }),
    );
    return clientPromise;
  }

  /** Sends one command; AWS errors become siteloom's, "not found" becomes undefined. */
  async function send<O>(
    action: string,
    key: string | undefined,
    call: (client: Sdk.SecretsManager) => Promise<O>,
    values: string[] = [],
  ): Promise<O | undefined> {
    const client = await connect();
    const at: CloudAction = {
      backend: "aws",
      action: `secretsmanager:${action}`,
      resource: key === undefined ? `${prefix}*` : nameOf(key),
    };
    try {
      return await call(client);
    } catch (error) {
      const name = (error as Error).name;
      if (name === "ResourceNotFoundException") return undefined;
      throw _mapError(error, at, where, values);
    }
  }

  const nameOf = (key: string) => `${prefix}${key}`;
  const keyOf = (name: string) => name.slice(prefix.length);

  /** Every version of a secret, numbered, oldest first; undefined when the secret does not exist. */
  async function versions(
    key: string,
  ): Promise<{ id: string; version: number; createdAt: string; stages: string[] }[] | undefined> {
    const all: Sdk.SecretVersionsListEntry[] = [];
    let token: string | undefined;
    do {
      const page = await send("ListSecretVersionIds", key, (c) =>
        c.listSecretVersionIds({
          SecretId: nameOf(key),
          IncludeDeprecated: true,
          MaxResults: PAGE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      if (!page) return undefined;
      all.push(...(page.Versions ?? []));
      token = page.NextToken;
    } while (token);
    // versions written by other tools have no number in their id: they are numbered by age after ours
    const byAge = [...all].sort((a, b) => (a.CreatedDate?.getTime() ?? 0) - (b.CreatedDate?.getTime() ?? 0));
    let next = Math.max(0, ...byAge.map((v) => _number(v.VersionId)));
    return byAge
      .map((v) => ({
        id: v.VersionId!,
        version: _number(v.VersionId) || ++next,
        createdAt: (v.CreatedDate ?? new Date(0)).toISOString(),
        stages: v.VersionStages ?? [],
      }))
      .sort((a, b) => a.version - b.version);
  }

  async function get(key: string, version?: number): Promise<StoredValue | undefined> {
    const id = version === undefined ? undefined : await idOf(key, version);
    if (version !== undefined && !id) return undefined;
    const out = await send("GetSecretValue", key, (c) =>
      c.getSecretValue({ SecretId: nameOf(key), ...(id ? { VersionId: id } : {}) }),
    );
    if (out?.SecretString === undefined) return undefined;
    const number = _number(out.VersionId) || (await versions(key))?.find((v) => v.id === out.VersionId)?.version || 1;
    return { value: out.SecretString, version: number };
  }

  async function idOf(key: string, version: number): Promise<string | undefined> {
    return (await versions(key))?.find((v) => v.version === version)?.id;
  }

  /**
   * Writes the next version: CreateSecret for a new key, else PutSecretValue with the next numbered version id.
   * When another writer took that number first, AWS refuses the id and the write retries with the one after.
   */
  async function write(key: string, value: string, mustExist: boolean): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const existing = await versions(key);
      if (!existing) {
        if (mustExist) throw new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
        const created = await _tryConflict(() =>
          send(
            "CreateSecret",
            key,
            (c) =>
              c.createSecret({
                Name: nameOf(key),
                ClientRequestToken: _versionId(1),
                SecretString: value,
                ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
                Tags: [
                  { Key: "siteloom:scope", Value: key.split("/")[0]! },
                  { Key: "siteloom:name", Value: key.split("/")[1]! },
                  { Key: "siteloom:env", Value: options.env },
                ],
                Description: `siteloom secret://${key} (${options.env})`,
              }),
            [value],
          ),
        );
        if (created) return 1;
        continue;
      }
      const next = Math.max(0, ...existing.map((v) => v.version)) + 1;
      const put = await _tryConflict(() =>
        send(
          "PutSecretValue",
          key,
          (c) =>
            c.putSecretValue({
              SecretId: nameOf(key),
              ClientRequestToken: _versionId(next),
              SecretString: value,
            }),
          [value],
        ),
      );
      if (put) return next;
    }
    throw new SiteloomError(
      "ERR_SECRET_BACKEND",
      `aws: ${nameOf(key)} kept changing under concurrent writers; try again`,
    );
  }

  async function listSecrets(scope?: string): Promise<Sdk.SecretListEntry[]> {
    const filter = scope ? `${prefix}${scope}/` : prefix;
    const out: Sdk.SecretListEntry[] = [];
    let token: string | undefined;
    do {
      const page = await send("ListSecrets", undefined, (c) =>
        c.listSecrets({
          Filters: [{ Key: "name", Values: [filter] }],
          MaxResults: PAGE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      // the name filter ignores case: keep the exact prefix only
      out.push(...(page?.SecretList ?? []).filter((s) => s.Name?.startsWith(filter)));
      token = page?.NextToken;
    } while (token);
    return out;
  }

  return {
    type: "aws",
    capabilities: { write: true, list: true, history: true, actors: false, batchRead: true },
    describe: () => `AWS Secrets Manager (${where}), names ${prefix}<scope>/<NAME>`,
    get,
    async getAll(scope) {
      const filter = scope ? `${prefix}${scope}/` : prefix;
      const found = new Map<string, StoredValue>();
      let token: string | undefined;
      do {
        const page = await send("BatchGetSecretValue", undefined, (c) =>
          c.batchGetSecretValue({
            Filters: [{ Key: "name", Values: [filter] }],
            MaxResults: 20,
            ...(token ? { NextToken: token } : {}),
          }),
        );
        for (const s of page?.SecretValues ?? []) {
          if (!s.Name?.startsWith(filter) || s.SecretString === undefined) continue;
          // a version written by another tool has no number here; a later get() numbers it properly
          found.set(keyOf(s.Name), { value: s.SecretString, version: _number(s.VersionId) || 1 });
        }
        token = page?.NextToken;
      } while (token);
      return found;
    },
    async list(scope) {
      const out: SecretInfo[] = [];
      for (const s of await listSecrets(scope)) {
        const [secretScope, name, ...rest] = keyOf(s.Name!).split("/");
        if (!secretScope || !name || rest.length) continue;
        const current = Object.entries(s.SecretVersionsToStages ?? {}).find(([, st]) => st.includes("AWSCURRENT"));
        out.push({
          scope: secretScope,
          name,
          version: _number(current?.[0]) || 1,
          createdAt: s.CreatedDate?.toISOString(),
          updatedAt: (s.LastChangedDate ?? s.CreatedDate)?.toISOString(),
        });
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key): Promise<SecretVersionInfo[]> {
      return ((await versions(key)) ?? []).map((v) => ({ version: v.version, createdAt: v.createdAt, actor: "aws" }));
    },
    set: (key, value) => write(key, value, false),
    rotate: (key, value) => write(key, value, true),
    async rollback(key, version) {
      const old = await get(key, version);
      if (!old) {
        throw new SiteloomError(
          "ERR_SECRET_NOT_FOUND",
          `version ${version} of ${key} is not kept in AWS Secrets Manager; see siteloom secrets history secret://${key}`,
        );
      }
      return write(key, old.value, true);
    },
    async delete(key) {
      const days = options.recoveryWindowDays;
      const out = await send("DeleteSecret", key, (c) =>
        c.deleteSecret({
          SecretId: nameOf(key),
          ...(days ? { RecoveryWindowInDays: days } : { ForceDeleteWithoutRecovery: true }),
        }),
      );
      if (out === undefined) return false;
      return days
        ? `scheduled ${nameOf(key)} for deletion on ${out.DeletionDate?.toISOString() ?? `in ${days} days`}; restorable until then (aws secretsmanager restore-secret --secret-id ${nameOf(key)})`
        : `deleted ${nameOf(key)} with every version at once (no recovery window: recoveryWindowDays is not set); not recoverable`;
    },
    async test() {
      const found = await listSecrets();
      return `AWS Secrets Manager (${where}): credentials accepted, ${found.length} secret(s) under ${prefix}`;
    },
    async dispose() {
      if (clientPromise) (await clientPromise).destroy();
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/aws.ts holds the options). */
export const create: BackendCreate<typeof AwsStoreSchema> = (config, ctx) => awsBackend({ ...config, env: ctx.env });

// --- internal ---

function _versionId(version: number): string {
  return `siteloom-version-${String(version).padStart(16, "0")}`;
}

function _number(id: string | undefined): number {
  const match = id ? VERSION_ID.exec(id) : null;
  return match ? Number(match[1]) : 0;
}

/** Runs a create/put; a version id or name another writer took first is `undefined` (the caller retries). */
async function _tryConflict<T>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (
      (error as SiteloomError).cause &&
      ((error as SiteloomError).cause as Error).name === "ResourceExistsException"
    ) {
      return undefined;
    }
    throw error;
  }
}

function _mapError(error: unknown, at: CloudAction, where: string, values: string[]): SiteloomError {
  const e = error as Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; code?: string };
  switch (e.name) {
    case "AccessDeniedException":
      return deniedError(at, "grant it in the IAM policy of the credentials siteloom runs with", error);
    case "UnrecognizedClientException":
    case "InvalidSignatureException":
    case "ExpiredTokenException":
    case "IncompleteSignature":
    case "MissingAuthenticationTokenException":
      return credentialsError(
        "aws",
        `AWS Secrets Manager (${where}) refused the credentials (${e.name})`,
        "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role siteloom runs with",
        error,
      );
    case "CredentialsProviderError":
      return credentialsError(
        "aws",
        "no AWS credentials found",
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with a role (web identity, container, instance)",
        error,
      );
    case "ThrottlingException":
    case "TooManyRequestsException":
      return serviceError(
        at,
        `throttled by AWS after ${e.$metadata?.attempts ?? "several"} attempts; try again later`,
        [],
        error,
      );
    case "ResourceExistsException":
      return serviceError(at, "another writer created this version first", [], error);
    case "InvalidRequestException":
      if (/marked for deletion|scheduled for deletion/.test(e.message)) {
        return serviceError(
          at,
          "the secret is scheduled for deletion in AWS; restore it (aws secretsmanager restore-secret) or wait for its recovery window to end",
          [],
          error,
        );
      }
      return serviceError(at, e.message, values, error);
    default:
      if (!e.$metadata) {
        return new SiteloomError(
          "ERR_SECRET_BACKEND",
          `aws: cannot reach AWS Secrets Manager (${where}): ${e.message.split("\n")[0]}; check the store's region/endpoint and the network`,
          { cause: safeCause(error) },
        );
      }
      return serviceError(at, `${e.name}: ${e.message}`, values, error);
  }
}
