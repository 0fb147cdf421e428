import { generateKeyPairSync, randomUUID, verify } from "node:crypto";
import { type LocalService, sendJson, startLocalService } from "./http.ts";

interface Version {
  number: number;
  data: string;
  created: string;
  state: "ENABLED" | "DISABLED" | "DESTROYED";
  destroyed?: string;
}

interface StoredSecret {
  id: string;
  created: string;
  labels: Record<string, string>;
  replication: unknown;
  versions: Version[];
}

export interface GcpSecretManagerFake extends LocalService {
  project: string;
  /** A service-account key file body (what GOOGLE_APPLICATION_CREDENTIALS points at). */
  serviceAccount: {
    type: string;
    project_id: string;
    client_email: string;
    private_key: string;
    private_key_id: string;
  };
  secrets: Map<string, StoredSecret>;
  /** The next N requests are answered 429 RESOURCE_EXHAUSTED. */
  throttleNext(n: number): void;
  /** IAM permissions refused from now on (`secretmanager.versions.access`). */
  deny: Set<string>;
  /** Requests per method and path shape (`GET :access`, `GET secrets`). */
  counts(): Record<string, number>;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
const MAX_PAYLOAD = 65_536;
const PROJECT_NUMBER = "804127590016";

/**
 * A loopback Google Secret Manager serving the v1 REST mapping of its gRPC API (the `google.api.http` rules of
 * google/cloud/secretmanager/v1/service.proto) that the official client's `fallback` transport sends: secrets,
 * versions with ENABLED/DISABLED/DESTROYED states, `:access`, `:addVersion`, `:disable`, `:enable`, `:destroy`,
 * google.rpc.Status errors, and bearer tokens that must be JWTs signed by the service account's key (the
 * self-signed JWT the auth library makes for a service account, checked with its public key).
 */
export async function startGcpSecretManager(): Promise<GcpSecretManagerFake> {
  const project = `siteloom-test-${randomUUID().slice(0, 8)}`;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const serviceAccount = {
    type: "service_account",
    project_id: project,
    private_key_id: randomUUID().replaceAll("-", ""),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: `siteloom@${project}.iam.gserviceaccount.com`,
    client_id: "1",
    token_uri: "https://oauth2.googleapis.com/token",
  };
  const secrets = new Map<string, StoredSecret>();
  const deny = new Set<string>();
  const counts: Record<string, number> = {};
  let throttle = 0;

  const service = await startLocalService((req, res) => {
    const url = new URL(req.path, "http://x");
    const fail = (code: number, status: string, message: string) =>
      sendJson(res, code, { error: { code, message, status } });
    const auth = _checkJwt(String(req.headers.authorization ?? ""), serviceAccount.client_email, publicKey);
    if (auth) return fail(401, "UNAUTHENTICATED", auth);
    const match = /^\/v1\/projects\/([^/]+)\/secrets(?:\/([^/:]+))?(?:\/versions(?:\/([^/:]+))?)?(?::(\w+))?$/.exec(
      url.pathname,
    );
    if (!match) return fail(404, "NOT_FOUND", `no route for ${req.method} ${url.pathname}`);
    const [, projectId, secretId, versionId, verb] = match;
    const shape = `${req.method} ${verb ? `:${verb}` : versionId ? "version" : req.path.includes("/versions") ? "versions" : secretId ? "secret" : "secrets"}`;
    counts[shape] = (counts[shape] ?? 0) + 1;
    if (throttle > 0) {
      throttle -= 1;
      return fail(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Access requests' of service 'secretmanager.googleapis.com'.",
      );
    }
    if (projectId !== project && projectId !== PROJECT_NUMBER) {
      return fail(403, "PERMISSION_DENIED", `Permission denied on resource project ${projectId}.`);
    }
    const base = `projects/${PROJECT_NUMBER}/secrets`;
    const permission = _permission(req.method, secretId, versionId, verb);
    if (deny.has(permission)) {
      const resource = `projects/${projectId}/secrets${secretId ? `/${secretId}` : ""}${versionId ? `/versions/${versionId}` : ""}`;
      return fail(
        403,
        "PERMISSION_DENIED",
        `Permission '${permission}' denied for resource '${resource}' (or it may not exist).`,
      );
    }
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    const secretJson = (s: StoredSecret) => ({
      name: `${base}/${s.id}`,
      replication: s.replication,
      createTime: s.created,
      labels: s.labels,
      etag: `"${s.versions.length}"`,
    });
    const versionJson = (s: StoredSecret, v: Version) => ({
      name: `${base}/${s.id}/versions/${v.number}`,
      createTime: v.created,
      state: v.state,
      ...(v.destroyed ? { destroyTime: v.destroyed } : {}),
      etag: `"${v.state}"`,
    });

    if (!secretId) {
      if (req.method === "GET") {
        const size = Math.min(Number(url.searchParams.get("pageSize") ?? 25_000), 25_000);
        const start = Number(url.searchParams.get("pageToken") || 0);
        const all = [...secrets.values()].sort((a, b) => a.id.localeCompare(b.id));
        const page = all.slice(start, start + size);
        return sendJson(res, 200, {
          secrets: page.map(secretJson),
          totalSize: all.length,
          ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}),
        });
      }
      if (req.method === "POST") {
        const id = url.searchParams.get("secretId") ?? "";
        if (!ID_PATTERN.test(id)) {
          return fail(
            400,
            "INVALID_ARGUMENT",
            "Secret ID must be at most 255 characters long and contain only uppercase and lowercase letters, numerals, and the hyphen (-) and underscore (_) characters.",
          );
        }
        if (!body.replication) return fail(400, "INVALID_ARGUMENT", "Secret.replication is required.");
        if (secrets.has(id)) return fail(409, "ALREADY_EXISTS", `Secret [${base}/${id}] already exists.`);
        const secret = {
          id,
          created: new Date().toISOString(),
          labels: (body.labels as Record<string, string>) ?? {},
          replication: body.replication,
          versions: [],
        };
        for (const [k, v] of Object.entries(secret.labels)) {
          if (!/^[a-z][a-z0-9_-]{0,62}$/.test(k) || !/^[a-z0-9_-]{0,63}$/.test(v)) {
            return fail(400, "INVALID_ARGUMENT", `Label ${k} is not a valid label.`);
          }
        }
        secrets.set(id, secret);
        return sendJson(res, 200, secretJson(secret));
      }
    }
    const secret = secrets.get(secretId!);
    if (!secret) return fail(404, "NOT_FOUND", `Secret [${base}/${secretId}] not found or has no versions.`);
    if (!versionId && !req.path.includes("/versions")) {
      if (verb === "addVersion" && req.method === "POST") {
        const data = (body.payload as { data?: string } | undefined)?.data;
        if (typeof data !== "string") return fail(400, "INVALID_ARGUMENT", "Payload is required.");
        if (Buffer.from(data, "base64").length > MAX_PAYLOAD) {
          return fail(400, "INVALID_ARGUMENT", "Secret Payload cannot be larger than 64KiB.");
        }
        const version: Version = {
          number: secret.versions.length + 1,
          data,
          created: new Date().toISOString(),
          state: "ENABLED",
        };
        secret.versions.push(version);
        return sendJson(res, 200, versionJson(secret, version));
      }
      if (req.method === "GET") return sendJson(res, 200, secretJson(secret));
      if (req.method === "DELETE") {
        secrets.delete(secret.id);
        return sendJson(res, 200, {});
      }
      return fail(404, "NOT_FOUND", `no route for ${req.method} ${url.pathname}`);
    }
    if (!versionId) {
      const size = Math.min(Number(url.searchParams.get("pageSize") ?? 25_000), 25_000);
      const start = Number(url.searchParams.get("pageToken") || 0);
      const newest = [...secret.versions].reverse();
      return sendJson(res, 200, {
        versions: newest.slice(start, start + size).map((v) => versionJson(secret, v)),
        totalSize: newest.length,
        ...(start + size < newest.length ? { nextPageToken: String(start + size) } : {}),
      });
    }
    const live = secret.versions.filter((v) => v.state === "ENABLED");
    const version =
      versionId === "latest"
        ? live.at(-1)
        : /^\d+$/.test(versionId!)
          ? secret.versions[Number(versionId) - 1]
          : undefined;
    if (!version) {
      if (versionId !== "latest" && !/^\d+$/.test(versionId!)) {
        return fail(400, "INVALID_ARGUMENT", `Invalid resource field value in the request: version "${versionId}".`);
      }
      return fail(404, "NOT_FOUND", `Secret Version [${base}/${secret.id}/versions/${versionId}] not found.`);
    }
    const vname = `${base}/${secret.id}/versions/${version.number}`;
    switch (verb) {
      case "access":
        if (version.state !== "ENABLED") {
          return fail(400, "FAILED_PRECONDITION", `Secret Version [${vname}] is in ${version.state} state.`);
        }
        return sendJson(res, 200, { name: vname, payload: { data: version.data } });
      case "disable":
      case "enable":
      case "destroy":
        if (version.state === "DESTROYED") {
          return fail(400, "FAILED_PRECONDITION", `Secret Version [${vname}] is in DESTROYED state.`);
        }
        version.state = verb === "disable" ? "DISABLED" : verb === "enable" ? "ENABLED" : "DESTROYED";
        if (verb === "destroy") {
          version.data = "";
          version.destroyed = new Date().toISOString();
        }
        return sendJson(res, 200, versionJson(secret, version));
      case undefined:
        return sendJson(res, 200, versionJson(secret, version));
      default:
        return fail(404, "NOT_FOUND", `no route for :${verb}`);
    }
  });

  return {
    ...service,
    project,
    serviceAccount,
    secrets,
    deny,
    throttleNext(n) {
      throttle = n;
    },
    counts: () => ({ ...counts }),
  };
}

// --- internal ---

function _permission(method: string, secret?: string, version?: string, verb?: string): string {
  if (verb === "access") return "secretmanager.versions.access";
  if (verb === "addVersion") return "secretmanager.versions.add";
  if (verb) return `secretmanager.versions.${verb}`;
  if (version) return "secretmanager.versions.get";
  if (!secret) return method === "POST" ? "secretmanager.secrets.create" : "secretmanager.secrets.list";
  return method === "DELETE" ? "secretmanager.secrets.delete" : "secretmanager.secrets.get";
}

/** Checks a bearer token: an RS256 JWT from the service account, not expired, for the cloud-platform scope. */
function _checkJwt(header: string, email: string, publicKey: import("node:crypto").KeyObject): string | undefined {
  const token = /^Bearer (.+)$/.exec(header)?.[1];
  if (!token) return "Request is missing required authentication credential. Expected OAuth 2 access token.";
  const [head, payload, signature] = token.split(".");
  if (!head || !payload || !signature) return "Request had invalid authentication credentials.";
  const ok = verify("RSA-SHA256", Buffer.from(`${head}.${payload}`), publicKey, Buffer.from(signature, "base64url"));
  if (!ok) return "Request had invalid authentication credentials (bad signature).";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  if (claims.iss !== email || claims.sub !== email) return "Request had invalid authentication credentials (issuer).";
  if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return "The access token has expired.";
  const scope = String(claims.scope ?? "");
  if (
    !scope.includes("https://www.googleapis.com/auth/cloud-platform") &&
    !String(claims.aud ?? "").includes("secretmanager")
  ) {
    return "Request had insufficient authentication scopes.";
  }
  return undefined;
}
