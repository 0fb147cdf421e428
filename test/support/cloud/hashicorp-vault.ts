import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type LocalService, type SeenRequest, sendJson, startLocalService } from "./http.ts";

interface Version {
  data: Record<string, unknown>;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface VaultFake extends LocalService {
  /** A token whose policy allows everything (the root token of a dev server). */
  token: string;
  /** A token whose policy grants only `read` and `list` on the mount (permission errors). */
  readOnlyToken: string;
  /** Same as `url`: what `address:` in siteloom.yaml takes. */
  address: string;
  /** Secrets by path inside the mount. */
  store: Map<string, { current: number; versions: Map<number, Version> }>;
  /** The next `n` requests are refused with 429, as a rate-limit quota does (with Retry-After: 0). */
  throttleNext(n: number): void;
}

/**
 * A loopback server speaking the documented Vault KV v2 API (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2)
 * on the shared harness: GET/POST `<mount>/data/<path>` (with `?version=` and `options.cas`), GET/DELETE/LIST
 * `<mount>/metadata/<path>`, and `auth/token/lookup-self`. Every request needs `X-Vault-Token`; as Vault does, an
 * unknown token and a policy without the capability are both `403 {"errors":["permission denied"]}`, and a
 * rate-limit quota is `429 {"errors":["request path ...: rate limit quota exceeded"]}`.
 */
export async function startVaultServer(
  token = `hvs.${randomBytes(12).toString("base64url")}`,
  mount = "secret",
): Promise<VaultFake> {
  const readOnlyToken = `hvs.${randomBytes(12).toString("base64url")}`;
  const store = new Map<string, { current: number; versions: Map<number, Version> }>();
  let throttle = 0;
  const service = await startLocalService((req, res) => _handle(req, res));

  function _handle(req: SeenRequest, res: ServerResponse) {
    const url = new URL(req.path, "http://x");
    const path = url.pathname.replace(/^\/v1\//, "");
    const body = req.body ? JSON.parse(req.body) : undefined;
    const send = (status: number, json?: unknown, headers?: Record<string, string>) =>
      sendJson(res, status, json, headers);
    if (throttle > 0) {
      throttle -= 1;
      return send(429, { errors: [`request path "${path}": rate limit quota exceeded`] }, { "retry-after": "0" });
    }
    const presented = req.headers["x-vault-token"];
    const isList = req.method === "LIST" || url.searchParams.get("list") === "true";
    const allowed = presented === token || (presented === readOnlyToken && (req.method === "GET" || isList));
    if (!allowed) return send(403, { errors: ["permission denied"] });
    if (path === "auth/token/lookup-self") return send(200, { data: { id: "x", policies: ["default"] } });
    const dataPrefix = `${mount}/data/`;
    const metaPrefix = `${mount}/metadata/`;
    if (path.startsWith(dataPrefix)) {
      const key = path.slice(dataPrefix.length);
      const entry = store.get(key);
      if (req.method === "GET") {
        const n = url.searchParams.get("version") ? Number(url.searchParams.get("version")) : entry?.current;
        const v = n === undefined ? undefined : entry?.versions.get(n);
        if (!entry || !v) return send(404, { errors: [] });
        return send(200, {
          data: {
            data: v.data,
            metadata: { version: n, created_time: v.created_time, deletion_time: "", destroyed: false },
          },
        });
      }
      if (req.method === "POST" || req.method === "PUT") {
        const b = body as { data: Record<string, unknown>; options?: { cas?: number } };
        const current = entry?.current ?? 0;
        if (b.options?.cas !== undefined && b.options.cas !== current) {
          return send(400, { errors: ["check-and-set parameter did not match the current version"] });
        }
        const next = entry ?? { current: 0, versions: new Map<number, Version>() };
        next.current += 1;
        next.versions.set(next.current, {
          data: b.data,
          created_time: new Date().toISOString(),
          deletion_time: "",
          destroyed: false,
        });
        store.set(key, next);
        return send(200, { data: { version: next.current, created_time: new Date().toISOString() } });
      }
    }
    if (path.startsWith(metaPrefix)) {
      const key = path.slice(metaPrefix.length);
      if (key === "" && !isList) return send(404, { errors: [] });
      if (isList) {
        const prefix = key.endsWith("/") ? key : `${key}/`;
        const keys = new Set<string>();
        for (const k of store.keys()) {
          if (!k.startsWith(prefix)) continue;
          const rest = k.slice(prefix.length);
          const slash = rest.indexOf("/");
          keys.add(slash >= 0 ? rest.slice(0, slash + 1) : rest);
        }
        if (keys.size === 0) return send(404, { errors: [] });
        return send(200, { data: { keys: [...keys].sort() } });
      }
      const entry = store.get(key);
      if (req.method === "GET") {
        if (!entry) return send(404, { errors: [] });
        const versions: Record<string, Omit<Version, "data">> = {};
        for (const [n, v] of entry.versions)
          versions[n] = { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed };
        return send(200, { data: { current_version: entry.current, versions, created_time: "", updated_time: "" } });
      }
      if (req.method === "DELETE") {
        store.delete(key);
        return send(204);
      }
    }
    return send(404, { errors: [`no handler for ${req.method} ${path}`] });
  }

  return {
    ...service,
    token,
    readOnlyToken,
    address: service.url,
    store,
    throttleNext(n: number) {
      throttle = n;
    },
  };
}
