import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type LocalService, type SeenRequest, sendJson, startLocalService } from "./http.ts";

/** Credentials the fake accepts (what AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY hold in the tests). */
export interface AwsTestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

interface Version {
  id: string;
  value: string;
  created: number;
  stages: Set<string>;
}

interface StoredSecret {
  arn: string;
  name: string;
  created: number;
  changed: number;
  tags: { Key: string; Value: string }[];
  kmsKeyId: string | undefined;
  versions: Map<string, Version>;
  deletedAt: number | undefined;
}

export interface AwsSecretsManagerFake extends LocalService {
  credentials: AwsTestCredentials;
  secrets: Map<string, StoredSecret>;
  /** The next N requests are answered with ThrottlingException (the SDK's retry must absorb them). */
  throttleNext(n: number): void;
  /** Actions (`secretsmanager:GetSecretValue`) answered with AccessDeniedException from now on. */
  deny: Set<string>;
  /** How many requests carried each `X-Amz-Target` action. */
  counts(): Record<string, number>;
}

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const TOKEN_LENGTH = [32, 64] as const;
const MAX_VALUE_BYTES = 65_536;

/**
 * A loopback AWS Secrets Manager speaking the documented JSON 1.1 protocol: `POST /` with
 * `X-Amz-Target: secretsmanager.<Action>`, SigV4 signatures recomputed and compared (canonical request, string to
 * sign, derived key), the service's error shapes (`__type` + `message`), name and size limits, version ids
 * (ClientRequestToken) that cannot be reused for another value, and the AWSCURRENT/AWSPREVIOUS staging labels.
 */
export async function startAwsSecretsManager(): Promise<AwsSecretsManagerFake> {
  const credentials: AwsTestCredentials = {
    accessKeyId: `AKIA${randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}`,
    secretAccessKey: randomUUID() + randomUUID(),
    region: "eu-central-1",
  };
  const secrets = new Map<string, StoredSecret>();
  const deny = new Set<string>();
  const targetCounts: Record<string, number> = {};
  let throttle = 0;

  const service = await startLocalService((req, res) => {
    const target = String(req.headers["x-amz-target"] ?? "");
    const action = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : "";
    targetCounts[action] = (targetCounts[action] ?? 0) + 1;
    const fail = (type: string, message: string, status = 400) =>
      sendJson(res, status, { __type: type, message }, { "x-amzn-errortype": type });
    if (req.method !== "POST" || req.path !== "/") return fail("UnknownOperationException", "", 404);
    if (req.headers["content-type"] !== "application/x-amz-json-1.1") {
      return fail("SerializationException", "expected Content-Type application/x-amz-json-1.1");
    }
    const auth = _verifySigV4(req, credentials);
    if (auth) return fail(auth.type, auth.message, auth.status);
    if (!action) return fail("UnknownOperationException", `unknown target ${target}`);
    if (throttle > 0) {
      throttle -= 1;
      return fail("ThrottlingException", "Rate exceeded");
    }
    const input = JSON.parse(req.body || "{}") as Record<string, unknown>;
    const resource = String(input.SecretId ?? input.Name ?? "*");
    if (deny.has(`secretsmanager:${action}`)) {
      return fail(
        "AccessDeniedException",
        `User: arn:aws:iam::123456789012:user/siteloom-test is not authorized to perform: secretsmanager:${action} on resource: ${resource} because no identity-based policy allows the secretsmanager:${action} action`,
      );
    }
    return _dispatch(action, input, secrets, res, fail);
  });

  return {
    ...service,
    credentials,
    secrets,
    deny,
    throttleNext(n) {
      throttle = n;
    },
    counts: () => ({ ...targetCounts }),
  };
}

// --- internal ---

type Fail = (type: string, message: string, status?: number) => void;

function _dispatch(
  action: string,
  input: Record<string, unknown>,
  secrets: Map<string, StoredSecret>,
  res: ServerResponse,
  fail: Fail,
): unknown {
  const now = Date.now() / 1000;
  const ok = (body: unknown) => sendJson(res, 200, body);
  const find = (id: unknown): StoredSecret | undefined => {
    const text = String(id ?? "");
    return secrets.get(text) ?? [...secrets.values()].find((s) => s.arn === text);
  };
  const live = (id: unknown): StoredSecret | undefined => {
    const secret = find(id);
    if (!secret) {
      fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      return undefined;
    }
    if (secret.deletedAt !== undefined) {
      fail(
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
      return undefined;
    }
    return secret;
  };
  const checkValue = (value: unknown): value is string => {
    if (typeof value !== "string") {
      fail("InvalidParameterException", "You must provide either SecretString or SecretBinary.");
      return false;
    }
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
      fail(
        "ValidationException",
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
      );
      return false;
    }
    return true;
  };
  const checkToken = (token: unknown): token is string | undefined => {
    if (token === undefined) return true;
    const t = String(token);
    if (t.length < TOKEN_LENGTH[0] || t.length > TOKEN_LENGTH[1]) {
      fail(
        "ValidationException",
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
      );
      return false;
    }
    return true;
  };
  const addVersion = (secret: StoredSecret, id: string, value: string): Version => {
    for (const v of secret.versions.values()) {
      v.stages.delete("AWSPREVIOUS");
      if (v.stages.delete("AWSCURRENT")) v.stages.add("AWSPREVIOUS");
    }
    const version = { id, value, created: now, stages: new Set(["AWSCURRENT"]) };
    secret.versions.set(id, version);
    secret.changed = now;
    return version;
  };
  const stagesOf = (secret: StoredSecret) =>
    Object.fromEntries([...secret.versions.values()].filter((v) => v.stages.size).map((v) => [v.id, [...v.stages]]));

  switch (action) {
    case "CreateSecret": {
      const name = String(input.Name ?? "");
      if (!NAME_PATTERN.test(name)) {
        return fail(
          "ValidationException",
          "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        );
      }
      const existing = secrets.get(name);
      if (existing?.deletedAt !== undefined) {
        return fail(
          "InvalidRequestException",
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      if (existing)
        return fail("ResourceExistsException", `The operation failed because the secret ${name} already exists.`);
      if (!checkValue(input.SecretString) || !checkToken(input.ClientRequestToken)) return;
      const secret: StoredSecret = {
        arn: `arn:aws:secretsmanager:eu-central-1:123456789012:secret:${name}-${randomUUID().slice(0, 6)}`,
        name,
        created: now,
        changed: now,
        tags: (input.Tags as StoredSecret["tags"]) ?? [],
        kmsKeyId: input.KmsKeyId as string | undefined,
        versions: new Map(),
        deletedAt: undefined,
      };
      const version = addVersion(secret, String(input.ClientRequestToken ?? randomUUID()), input.SecretString);
      secrets.set(name, secret);
      return ok({ ARN: secret.arn, Name: name, VersionId: version.id });
    }
    case "PutSecretValue": {
      const secret = live(input.SecretId);
      if (!secret || !checkValue(input.SecretString) || !checkToken(input.ClientRequestToken)) return;
      const id = String(input.ClientRequestToken ?? randomUUID());
      const existing = secret.versions.get(id);
      if (existing) {
        if (existing.value !== input.SecretString) {
          return fail(
            "ResourceExistsException",
            "You can't modify an existing version, you can only create new versions.",
          );
        }
        return ok({ ARN: secret.arn, Name: secret.name, VersionId: id, VersionStages: [...existing.stages] });
      }
      const version = addVersion(secret, id, input.SecretString);
      return ok({ ARN: secret.arn, Name: secret.name, VersionId: id, VersionStages: [...version.stages] });
    }
    case "GetSecretValue": {
      const secret = live(input.SecretId);
      if (!secret) return;
      const stage = (input.VersionStage as string | undefined) ?? (input.VersionId ? undefined : "AWSCURRENT");
      const version = input.VersionId
        ? secret.versions.get(String(input.VersionId))
        : [...secret.versions.values()].find((v) => stage && v.stages.has(stage));
      if (!version || (stage && !version.stages.has(stage))) {
        return fail(
          "ResourceNotFoundException",
          `Secrets Manager can't find the specified secret value for ${input.VersionId ? `VersionId: ${input.VersionId}` : `staging label: ${stage}`}`,
        );
      }
      return ok({
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        SecretString: version.value,
        VersionStages: [...version.stages],
        CreatedDate: version.created,
      });
    }
    case "ListSecretVersionIds": {
      const secret = find(input.SecretId);
      if (!secret) return fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      const versions = [...secret.versions.values()].filter((v) => input.IncludeDeprecated || v.stages.size > 0);
      return ok({
        ARN: secret.arn,
        Name: secret.name,
        Versions: versions.map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: v.created })),
      });
    }
    case "ListSecrets": {
      const filters = (input.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
      const max = Number(input.MaxResults ?? 100);
      if (max < 1 || max > 100) return fail("InvalidParameterException", "MaxResults must be between 1 and 100.");
      const matching = [...secrets.values()]
        .filter((s) => input.IncludePlannedDeletion || s.deletedAt === undefined)
        .filter((s) => filters.every((f) => _filterMatches(s, f)))
        .sort((a, b) => a.name.localeCompare(b.name));
      const start = input.NextToken ? Number(Buffer.from(String(input.NextToken), "base64url").toString()) : 0;
      const page = matching.slice(start, start + max);
      const next = start + max < matching.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
      return ok({
        SecretList: page.map((s) => ({
          ARN: s.arn,
          Name: s.name,
          Tags: s.tags,
          CreatedDate: s.created,
          LastChangedDate: s.changed,
          SecretVersionsToStages: stagesOf(s),
          ...(s.kmsKeyId ? { KmsKeyId: s.kmsKeyId } : {}),
          ...(s.deletedAt ? { DeletedDate: s.deletedAt } : {}),
        })),
        ...(next ? { NextToken: next } : {}),
      });
    }
    case "BatchGetSecretValue": {
      const ids = input.SecretIdList as string[] | undefined;
      const filters = input.Filters as { Key: string; Values: string[] }[] | undefined;
      if ((ids && filters) || (!ids && !filters)) {
        return fail("InvalidParameterException", "Either SecretIdList or Filters must be provided, but not both.");
      }
      if (ids && input.MaxResults !== undefined) {
        return fail("InvalidParameterException", "MaxResults can only be used with Filters.");
      }
      if (ids && ids.length > 20) return fail("InvalidParameterException", "SecretIdList can hold at most 20 ids.");
      const max = Number(input.MaxResults ?? 20);
      if (max < 1 || max > 20) return fail("InvalidParameterException", "MaxResults must be between 1 and 20.");
      const values: unknown[] = [];
      const errors: unknown[] = [];
      const current = (s: StoredSecret) => [...s.versions.values()].find((v) => v.stages.has("AWSCURRENT"))!;
      const entry = (s: StoredSecret) => {
        const v = current(s);
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: v.id,
          SecretString: v.value,
          VersionStages: [...v.stages],
          CreatedDate: v.created,
        };
      };
      if (ids) {
        for (const id of ids) {
          const s = find(id);
          if (!s || s.deletedAt !== undefined) {
            errors.push({
              SecretId: id,
              ErrorCode: "ResourceNotFoundException",
              Message: "Secrets Manager can't find the specified secret.",
            });
          } else values.push(entry(s));
        }
        return ok({ SecretValues: values, Errors: errors });
      }
      const matching = [...secrets.values()]
        .filter((s) => s.deletedAt === undefined && filters!.every((f) => _filterMatches(s, f)))
        .sort((a, b) => a.name.localeCompare(b.name));
      const start = input.NextToken ? Number(Buffer.from(String(input.NextToken), "base64url").toString()) : 0;
      const next = start + max < matching.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
      return ok({
        SecretValues: matching.slice(start, start + max).map(entry),
        Errors: [],
        ...(next ? { NextToken: next } : {}),
      });
    }
    case "DeleteSecret": {
      const secret = live(input.SecretId);
      if (!secret) return;
      if (input.ForceDeleteWithoutRecovery && input.RecoveryWindowInDays !== undefined) {
        return fail(
          "InvalidParameterException",
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      const days = Number(input.RecoveryWindowInDays ?? 30);
      if (!input.ForceDeleteWithoutRecovery && (days < 7 || days > 30)) {
        return fail("InvalidParameterException", "RecoveryWindowInDays must be between 7 and 30.");
      }
      if (input.ForceDeleteWithoutRecovery) secrets.delete(secret.name);
      else secret.deletedAt = now;
      return ok({
        ARN: secret.arn,
        Name: secret.name,
        DeletionDate: input.ForceDeleteWithoutRecovery ? now : now + days * 86400,
      });
    }
    case "DescribeSecret": {
      const secret = find(input.SecretId);
      if (!secret) return fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      return ok({
        ARN: secret.arn,
        Name: secret.name,
        Tags: secret.tags,
        CreatedDate: secret.created,
        LastChangedDate: secret.changed,
        VersionIdsToStages: stagesOf(secret),
        ...(secret.deletedAt ? { DeletedDate: secret.deletedAt } : {}),
      });
    }
    case "RestoreSecret": {
      const secret = find(input.SecretId);
      if (!secret) return fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      secret.deletedAt = undefined;
      return ok({ ARN: secret.arn, Name: secret.name });
    }
    default:
      return fail("UnknownOperationException", `${action} is not served by this fake`);
  }
}

function _filterMatches(secret: StoredSecret, filter: { Key: string; Values: string[] }): boolean {
  // documented: "name" and tag filters are prefix matches, not case-sensitive; a "!" prefix negates
  const test = (candidate: string, value: string) => {
    const negate = value.startsWith("!");
    const hit = candidate.toLowerCase().startsWith((negate ? value.slice(1) : value).toLowerCase());
    return negate ? !hit : hit;
  };
  switch (filter.Key) {
    case "name":
      return filter.Values.some((v) => test(secret.name, v));
    case "tag-key":
      return filter.Values.some((v) => secret.tags.some((t) => test(t.Key, v)));
    case "tag-value":
      return filter.Values.some((v) => secret.tags.some((t) => test(t.Value, v)));
    case "all":
      return filter.Values.some(
        (v) => test(secret.name, v) || secret.tags.some((t) => test(t.Key, v) || test(t.Value, v)),
      );
    default:
      return false;
  }
}

/** Recomputes the SigV4 signature of a request; undefined when it is valid, else the error AWS answers. */
function _verifySigV4(
  req: SeenRequest,
  credentials: AwsTestCredentials,
): { type: string; message: string; status: number } | undefined {
  const header = String(req.headers.authorization ?? "");
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!match)
    return { type: "MissingAuthenticationTokenException", message: "Missing Authentication Token", status: 400 };
  const [, keyId, day, region, serviceName, signedHeaders, signature] = match as unknown as string[];
  if (keyId !== credentials.accessKeyId) {
    return {
      type: "UnrecognizedClientException",
      message: "The security token included in the request is invalid.",
      status: 400,
    };
  }
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (serviceName !== "secretsmanager" || region !== credentials.region || !amzDate.startsWith(day!)) {
    return {
      type: "InvalidSignatureException",
      message: `Credential should be scoped to a valid region and service secretsmanager, not '${region}/${serviceName}'.`,
      status: 400,
    };
  }
  const skew = Math.abs(
    Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z")) - Date.now(),
  );
  if (!(skew < 5 * 60_000)) {
    return {
      type: "InvalidSignatureException",
      message: "Signature expired: the request time is too skewed.",
      status: 400,
    };
  }
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) {
    return { type: "InvalidSignatureException", message: "host and x-amz-date must be signed.", status: 400 };
  }
  const url = new URL(req.path, "http://x");
  const query = [...url.searchParams]
    .map(([k, v]) => `${_rfc3986(k)}=${_rfc3986(v)}`)
    .sort()
    .join("&");
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const payloadHash = createHash("sha256").update(req.body).digest("hex");
  const canonical = [req.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${day}/${region}/${serviceName}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`);
  for (const part of [day!, region!, serviceName!, "aws4_request"])
    key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(toSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature!, "hex"))) {
    return {
      type: "InvalidSignatureException",
      message:
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
      status: 400,
    };
  }
  return undefined;
}

function _rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
