import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestCertificates } from "../tls.ts";
import { type LocalService, sendJson, startLocalService } from "./http.ts";

interface Version {
  id: string;
  value: string;
  created: number;
  updated: number;
  enabled: boolean;
  tags: Record<string, string>;
  contentType: string | undefined;
}

interface StoredSecret {
  name: string;
  versions: Version[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number } | undefined;
}

export interface AzureKeyVaultFake {
  vault: LocalService;
  identity: LocalService;
  /** The vault URL (https://127.0.0.1:PORT). */
  vaultUrl: string;
  /** The CA file that signed the vault's certificate. */
  caFile: string;
  /** What App Service puts in IDENTITY_ENDPOINT / IDENTITY_HEADER for DefaultAzureCredential's managed identity. */
  identityEnv: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Secrets by lower-cased name (Key Vault names are case-insensitive). */
  secrets: Map<string, StoredSecret>;
  /** When on, purge is refused (purge protection) and deleted secrets stay recoverable. */
  purgeProtection: boolean;
  throttleNext(n: number): void;
  /** Data actions refused from now on (`getSecret`, `setSecret`, ...). */
  deny: Set<string>;
  /** Tokens issued by the identity endpoint. */
  tokensIssued(): number;
  close(): Promise<void>;
}

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_VALUE = 25 * 1024;
const RESOURCE = "https://vault.azure.net";

/**
 * A loopback Azure Key Vault speaking the secrets REST API over HTTPS (certificate from a CA made for the run):
 * the bearer challenge (401 with `WWW-Authenticate: Bearer authorization=..., resource=...`) answered only by
 * tokens from the App Service managed-identity endpoint beside it; `api-version` required; names limited to
 * letters, digits and `-` and case-insensitive; 25 KB values; versions with tags; soft delete, recover, purge
 * and purge protection; 429 with Retry-After; Key Vault's error bodies.
 */
export async function startAzureKeyVault(): Promise<AzureKeyVaultFake> {
  // removed by close(); not tied to a test runner, so benchmarks start it too
  const dir = await mkdtemp(join(tmpdir(), "siteloom-azure-"));
  const caFile = join(dir, "ca.crt");
  await makeTestCertificates(dir, caFile);
  const tenant = randomUUID();
  const identityHeader = randomBytes(16).toString("hex");
  const tokens = new Map<string, { resource: string; expires: number }>();
  const secrets = new Map<string, StoredSecret>();
  const deny = new Set<string>();
  let throttle = 0;

  const identity = await startLocalService((req, res) => {
    const url = new URL(req.path, "http://x");
    if (req.headers["x-identity-header"] !== identityHeader) {
      return sendJson(res, 401, { statusCode: 401, message: "X-IDENTITY-HEADER is missing or wrong" });
    }
    if (url.searchParams.get("api-version") !== "2019-08-01" || !url.searchParams.get("resource")) {
      return sendJson(res, 400, { statusCode: 400, message: "api-version 2019-08-01 and resource are required" });
    }
    const token = randomBytes(24).toString("base64url");
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const resource = url.searchParams.get("resource")!;
    tokens.set(token, { resource, expires });
    return sendJson(res, 200, {
      access_token: token,
      expires_on: String(expires),
      resource,
      token_type: "Bearer",
      client_id: randomUUID(),
    });
  });

  const fake = { purgeProtection: false } as AzureKeyVaultFake;
  const vault = await startLocalService(
    (req, res) => {
      const url = new URL(req.path, "https://x");
      const base = fake.vaultUrl;
      const error = (
        status: number,
        code: string,
        message: string,
        inner?: string,
        headers: Record<string, string> = {},
      ) =>
        sendJson(res, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } }, headers);
      const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
      const grant = bearer ? tokens.get(bearer) : undefined;
      if (!grant || grant.expires * 1000 < Date.now() || grant.resource !== RESOURCE) {
        res.writeHead(401, {
          "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/${tenant}", resource="${RESOURCE}"`,
          "content-type": "application/json",
        });
        return res.end(
          JSON.stringify({
            error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
          }),
        );
      }
      if (!url.searchParams.get("api-version")) {
        return error(400, "BadParameter", "The 'api-version' query parameter is missing.");
      }
      if (throttle > 0) {
        throttle -= 1;
        return error(
          429,
          "Throttled",
          "Request was not processed because too many requests were received.",
          undefined,
          {
            "retry-after": "0",
          },
        );
      }
      const parts = url.pathname.split("/").filter(Boolean);
      const [collection, rawName, versionOrVerb] = parts;
      const action = _action(req.method, collection, rawName, versionOrVerb);
      if (deny.has(action)) {
        return error(
          403,
          "Forbidden",
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${randomUUID()}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/${action}/action'\r\nResource: '/subscriptions/0000/resourcegroups/rg/providers/microsoft.keyvault/vaults/siteloom/secrets/${rawName ?? ""}'\r\nAssignment: (not found)\r\nVault: siteloom;location=westeurope\r\n`,
          "ForbiddenByRbac",
        );
      }
      if (rawName !== undefined && !NAME.test(rawName)) {
        return error(400, "BadParameter", `The request URI contains an invalid name: ${rawName}`);
      }
      const secret = rawName ? secrets.get(rawName.toLowerCase()) : undefined;
      const bundle = (s: StoredSecret, v: Version, withValue: boolean) => ({
        ...(withValue ? { value: v.value } : {}),
        id: `${base}/secrets/${s.name}/${v.id}`,
        ...(v.contentType ? { contentType: v.contentType } : {}),
        attributes: {
          enabled: v.enabled,
          created: v.created,
          updated: v.updated,
          recoveryLevel: fake.purgeProtection ? "Recoverable" : "Recoverable+Purgeable",
          recoverableDays: 90,
        },
        tags: v.tags,
      });
      const page = <T>(items: T[], path: string) => {
        const max = Math.min(Number(url.searchParams.get("maxresults") ?? 25), 25);
        const skip = Number(url.searchParams.get("$skiptoken") ?? 0);
        const next =
          skip + max < items.length
            ? `${base}${path}?api-version=7.6&maxresults=${max}&$skiptoken=${skip + max}`
            : null;
        return { value: items.slice(skip, skip + max), nextLink: next };
      };
      const notFound = (what: string) =>
        error(
          404,
          "SecretNotFound",
          `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
        );
      const now = Math.floor(Date.now() / 1000);

      if (collection === "secrets" && !rawName && req.method === "GET") {
        const live = [...secrets.values()].filter((s) => !s.deleted).sort((a, b) => a.name.localeCompare(b.name));
        const items = live.map((s) => {
          const { value: _v, ...item } = bundle(s, s.versions.at(-1)!, false) as Record<string, unknown>;
          return { ...item, id: `${base}/secrets/${s.name}` };
        });
        return sendJson(res, 200, page(items, "/secrets"));
      }
      if (collection === "secrets" && rawName) {
        if (req.method === "PUT" && !versionOrVerb) {
          const body = JSON.parse(req.body || "{}") as {
            value?: unknown;
            tags?: Record<string, string>;
            contentType?: string;
          };
          if (typeof body.value !== "string") return error(400, "BadParameter", "Property 'value' is required.");
          if (body.value.length > MAX_VALUE) {
            return error(400, "BadParameter", `Secret value is too large: the maximum is ${MAX_VALUE} characters.`);
          }
          if (secret?.deleted) {
            return error(
              409,
              "Conflict",
              `Secret ${rawName} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
              "ObjectIsDeletedButRecoverable",
            );
          }
          const entry = secret ?? { name: rawName, versions: [] };
          const version: Version = {
            id: randomBytes(16).toString("hex"),
            value: body.value,
            created: now,
            updated: now,
            enabled: true,
            tags: body.tags ?? {},
            contentType: body.contentType,
          };
          entry.versions.push(version);
          secrets.set(rawName.toLowerCase(), entry);
          return sendJson(res, 200, bundle(entry, version, true));
        }
        if (!secret || secret.deleted) return notFound(rawName);
        if (req.method === "GET" && versionOrVerb === "versions") {
          return sendJson(
            res,
            200,
            page(
              secret.versions.map((v) => bundle(secret, v, false)),
              `/secrets/${secret.name}/versions`,
            ),
          );
        }
        if (req.method === "GET") {
          const version = versionOrVerb ? secret.versions.find((v) => v.id === versionOrVerb) : secret.versions.at(-1);
          if (!version) return notFound(`${rawName}/${versionOrVerb}`);
          if (!version.enabled)
            return error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
          return sendJson(res, 200, bundle(secret, version, true));
        }
        if (req.method === "PATCH" && versionOrVerb) {
          const version = secret.versions.find((v) => v.id === versionOrVerb);
          if (!version) return notFound(`${rawName}/${versionOrVerb}`);
          const body = JSON.parse(req.body || "{}") as {
            tags?: Record<string, string>;
            attributes?: { enabled?: boolean };
          };
          if (body.tags) version.tags = body.tags;
          if (body.attributes?.enabled !== undefined) version.enabled = body.attributes.enabled;
          version.updated = now;
          return sendJson(res, 200, bundle(secret, version, false));
        }
        if (req.method === "DELETE" && !versionOrVerb) {
          secret.deleted = { deletedDate: now, scheduledPurgeDate: now + 90 * 86400 };
          return sendJson(res, 200, {
            ...bundle(secret, secret.versions.at(-1)!, false),
            recoveryId: `${base}/deletedsecrets/${secret.name}`,
            ...secret.deleted,
          });
        }
      }
      if (collection === "deletedsecrets" && rawName) {
        if (!secret?.deleted) return error(404, "SecretNotFound", `Deleted Secret not found: ${rawName}`);
        if (req.method === "GET") {
          return sendJson(res, 200, {
            ...bundle(secret, secret.versions.at(-1)!, false),
            recoveryId: `${base}/deletedsecrets/${secret.name}`,
            ...secret.deleted,
          });
        }
        if (req.method === "DELETE") {
          if (fake.purgeProtection) {
            return error(
              403,
              "Forbidden",
              `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
              "PurgeProtectionEnabled",
            );
          }
          secrets.delete(rawName.toLowerCase());
          res.writeHead(204);
          return res.end();
        }
        if (req.method === "POST" && versionOrVerb === "recover") {
          secret.deleted = undefined;
          return sendJson(res, 200, bundle(secret, secret.versions.at(-1)!, false));
        }
      }
      return error(404, "NotFound", `no route for ${req.method} ${url.pathname}`);
    },
    {
      key: await readFile(join(dir, "server.key"), "utf8"),
      cert: await readFile(join(dir, "server.crt"), "utf8"),
    },
  );

  return Object.assign(fake, {
    vault,
    identity,
    vaultUrl: vault.url,
    caFile,
    identityEnv: { IDENTITY_ENDPOINT: `${identity.url}/msi/token`, IDENTITY_HEADER: identityHeader },
    secrets,
    deny,
    throttleNext(n: number) {
      throttle = n;
    },
    tokensIssued: () => tokens.size,
    async close() {
      await vault.close();
      await identity.close();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

// --- internal ---

/** The Key Vault data action a request needs (as RBAC names it). */
function _action(method: string, collection?: string, name?: string, rest?: string): string {
  if (collection === "deletedsecrets")
    return method === "DELETE" ? "purge" : method === "POST" ? "recover" : "readDeleted";
  if (!name) return "readMetadata";
  if (method === "PUT") return "setSecret";
  if (method === "DELETE") return "delete";
  if (method === "PATCH") return "update";
  if (rest === "versions") return "readMetadata";
  return "getSecret";
}
