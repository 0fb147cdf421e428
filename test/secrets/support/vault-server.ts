import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the fake saw it (for checks on the wire format: method, path, token header, body). */
export interface VaultRequest {
  method: string;
  path: string;
  token: string | undefined;
  body: unknown;
}

interface Version {
  data: Record<string, unknown>;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

/**
 * A loopback HTTP server speaking the documented Vault KV v2 API (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2):
 * GET/POST `<mount>/data/<path>` (with `?version=` and `options.cas`), GET/DELETE/LIST `<mount>/metadata/<path>`,
 * and `auth/token/lookup-self`. Every request needs `X-Vault-Token`.
 */
export async function startVaultServer(token: string, mount = "secret") {
  const store = new Map<string, { current: number; versions: Map<number, Version> }>();
  const requests: VaultRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = await _body(req);
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      token: req.headers["x-vault-token"] as string,
      body,
    });
    const send = (status: number, json?: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(json === undefined ? "" : JSON.stringify(json));
    };
    if (req.headers["x-vault-token"] !== token) return send(403, { errors: ["permission denied"] });
    const path = url.pathname.replace(/^\/v1\//, "");
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
          return send(400, { errors: [`check-and-set parameter did not match the current version`] });
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
      if (key === "" && url.searchParams.get("list") !== "true") return send(404, { errors: [] });
      if (req.method === "LIST" || url.searchParams.get("list") === "true") {
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
    send(404, { errors: [`no handler for ${req.method} ${path}`] });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    requests,
    store,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// --- internal ---

async function _body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : undefined;
}
