import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { type LocalService, sendJson, startLocalService } from "./http.ts";

interface EnvVar {
  key: string;
  value?: string;
  scope?: string;
  type?: string;
}

export interface DigitalOceanAppsFake extends LocalService {
  token: string;
  appId: string;
  /** The app spec as stored (SECRET values encrypted, as the API returns them). */
  spec(): { name: string; envs?: EnvVar[] };
  /** The environment a freshly deployed container of the app would get (SECRET values decrypted). */
  runtimeEnv: Record<string, string | undefined>;
  throttleNext(n: number): void;
  /** Methods refused with 403 from now on, as for a token without the app:update (PUT) or app:read (GET) scope. */
  deny: Set<string>;
  counts(): Record<string, number>;
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A loopback DigitalOcean API serving `/v2/apps/{id}` as documented: GET returns the app with its spec, in which
 * app-level env vars of `type: SECRET` come back encrypted (`EV[1:...]`); PUT takes a whole spec, keeps encrypted
 * values it issued and encrypts new SECRET values; bearer token auth, `{id, message}` errors, 403 for a token
 * without the scope, 429 with `ratelimit-*` headers. `runtimeEnv` is what the app's containers would see after the update is deployed.
 */
export async function startDigitalOceanApps(): Promise<DigitalOceanAppsFake> {
  const token = `dop_v1_${randomBytes(32).toString("hex")}`;
  const appId = randomUUID();
  const key = randomBytes(32);
  let spec: { name: string; envs?: EnvVar[]; services?: unknown[] } = {
    name: "siteloom-app",
    services: [{ name: "web", image: { registry_type: "DOCR", repository: "siteloom" } }],
    envs: [{ key: "NODE_ENV", value: "production", scope: "RUN_TIME", type: "GENERAL" }],
  };
  let updatedAt = new Date().toISOString();
  let throttle = 0;
  const deny = new Set<string>();
  const counts: Record<string, number> = {};
  const encrypt = (plain: string) => {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return `EV[1:${iv.toString("base64")}:${Buffer.concat([body, c.getAuthTag()]).toString("base64")}]`;
  };
  const decrypt = (value: string) => {
    const m = /^EV\[1:([^:]+):([^\]]+)\]$/.exec(value);
    if (!m) return undefined;
    const raw = Buffer.from(m[2]!, "base64");
    const d = createDecipheriv("aes-256-gcm", key, Buffer.from(m[1]!, "base64"));
    d.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  };
  const app = () => ({
    app: {
      id: appId,
      owner_uuid: randomUUID(),
      spec,
      default_ingress: "https://siteloom-app.ondigitalocean.app",
      created_at: "2026-01-01T00:00:00Z",
      updated_at: updatedAt,
      region: { slug: "ams" },
    },
  });

  const service = await startLocalService((req, res) => {
    const fail = (status: number, id: string, message: string, headers: Record<string, string> = {}) =>
      sendJson(res, status, { id, message, request_id: randomUUID() }, headers);
    counts[req.method] = (counts[req.method] ?? 0) + 1;
    if (req.headers.authorization !== `Bearer ${token}`) return fail(401, "unauthorized", "Unable to authenticate you");
    if (throttle > 0) {
      throttle -= 1;
      const reset = String(Math.floor(Date.now() / 1000) + 1);
      return fail(429, "too_many_requests", "API Rate limit exceeded.", {
        "ratelimit-limit": "5000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": reset,
        "retry-after": "0",
      });
    }
    const match = /^\/v2\/apps\/([^/?]+)$/.exec(req.path.replace(/\?.*$/, ""));
    if (!match) return fail(404, "not_found", "The resource you were accessing could not be found.");
    if (match[1] !== appId) return fail(404, "not_found", "app not found");
    if (deny.has(req.method)) {
      return fail(403, "forbidden", "You are not authorized to perform this operation");
    }
    if (req.method === "GET") return sendJson(res, 200, app());
    if (req.method === "PUT") {
      const body = JSON.parse(req.body || "{}") as { spec?: typeof spec };
      if (!body.spec?.name) return fail(400, "invalid_argument", "spec.name is required");
      const envs: EnvVar[] = [];
      for (const env of body.spec.envs ?? []) {
        if (!KEY_PATTERN.test(env.key)) {
          return fail(400, "invalid_argument", `env var key "${env.key}" must match ${KEY_PATTERN.source}`);
        }
        if (env.type === "SECRET" && env.value?.startsWith("EV[")) {
          if (decrypt(env.value) === undefined)
            return fail(400, "invalid_argument", `env var ${env.key}: invalid encrypted value`);
          envs.push(env);
        } else if (env.type === "SECRET") envs.push({ ...env, value: encrypt(env.value ?? "") });
        else envs.push(env);
      }
      spec = { ...body.spec, envs };
      updatedAt = new Date(Math.max(Date.now(), Date.parse(updatedAt) + 1)).toISOString();
      return sendJson(res, 200, app());
    }
    return fail(405, "method_not_allowed", `${req.method} is not allowed here`);
  });

  const runtimeEnv = new Proxy({} as Record<string, string | undefined>, {
    get: (_t, name) => {
      const env = spec.envs?.find((e) => e.key === name);
      if (!env) return undefined;
      return env.type === "SECRET" ? decrypt(env.value ?? "") : env.value;
    },
    ownKeys: () => (spec.envs ?? []).map((e) => e.key),
    getOwnPropertyDescriptor: (_t, name) =>
      spec.envs?.some((e) => e.key === name) ? { enumerable: true, configurable: true } : undefined,
  });

  return {
    ...service,
    token,
    appId,
    spec: () => spec,
    runtimeEnv,
    throttleNext(n) {
      throttle = n;
    },
    deny,
    counts: () => ({ ...counts }),
  };
}
