import { SiteloomError } from "../../errors.ts";
import { parseRetryAfter, RetryableError, runWithRetry } from "../../retry.ts";
import { credentialsError, deniedError, scrub, serviceError } from "../cloud.ts";
import { type BackendCreate, memoize } from "../define.ts";
import { envVarKey, envVarName } from "../env-names.ts";
import type { BackendFactory, SecretBackend, SecretInfo, StoredValue } from "../types.ts";
import type { DigitaloceanStoreSchema } from "./descriptors/digitalocean.ts";

/** Longest wait between attempts, a Retry-After included. */
const RETRY_MAX_MS = 5000;

export interface DigitalOceanBackendOptions {
  /** App Platform app id. */
  appId: string;
  /** Returns the API token (a reference in config, never the token itself). */
  token: () => Promise<string>;
  /** Prefix of the env vars, as the env store reads them in the app. @default "SITELOOM_SECRET_" */
  prefix?: string | undefined;
  /** API base URL. @default "https://api.digitalocean.com" */
  endpoint?: string | undefined;
  /** The environment reads come from: the app's own containers see the decrypted values. @default process.env */
  runtimeEnv?: Record<string, string | undefined> | undefined;
  /** HTTP client. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
}

interface EnvVar {
  key: string;
  value?: string;
  scope?: string;
  type?: string;
}
interface App {
  id: string;
  updated_at: string;
  spec: { name: string; envs?: EnvVar[] } & Record<string, unknown>;
}

/**
 * DigitalOcean App Platform app-level environment variables of `type: SECRET`, through the DigitalOcean API. A
 * write reads the app spec, changes one variable and writes the whole spec back; the spec is read again just before
 * the write and a change by someone else in between starts the edit over, so concurrent edits are not overwritten
 * (writes from one process are also queued). The API returns SECRET values encrypted, so this store is
 * write-mostly: values are read from the environment the app's containers get (variables named like the env
 * store's, `SITELOOM_SECRET_<SCOPE>__<NAME>`); elsewhere a read says the value is write-only. No versions.
 */
export const digitaloceanBackend: BackendFactory<DigitalOceanBackendOptions> = (options) => {
  const http = options.fetch ?? globalThis.fetch;
  const prefix = options.prefix ?? "SITELOOM_SECRET_";
  const base = (options.endpoint ?? "https://api.digitalocean.com").replace(/\/+$/, "");
  const runtime = options.runtimeEnv ?? process.env;
  const resource = `/v2/apps/${options.appId}`;
  let queue: Promise<unknown> = Promise.resolve();

  async function request(method: "GET" | "PUT", body?: unknown, values: string[] = []): Promise<App> {
    const action = method === "GET" ? "apps:read" : "apps:update";
    const token = await options.token();
    return runWithRetry(
      async () => {
        let response: Response;
        try {
          response = await http(`${base}${resource}`, {
            method,
            headers: {
              Authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
        } catch (error) {
          throw new SiteloomError(
            "ERR_SECRET_BACKEND",
            `digitalocean: cannot reach ${base}: ${(error as Error).message}; check the network and the store's endpoint`,
          );
        }
        const text = await response.text();
        if (response.ok) return (JSON.parse(text) as { app: App }).app;
        const message = scrub(String((_json(text) as { message?: string }).message ?? text), values);
        if (response.status === 429 || response.status >= 500) {
          const afterMs = parseRetryAfter(response.headers.get("retry-after"));
          throw new RetryableError(`${response.status} ${message}`, {
            afterMs: afterMs === undefined ? undefined : Math.min(afterMs, RETRY_MAX_MS),
            status: response.status,
          });
        }
        const at = { backend: "digitalocean", action, resource };
        if (response.status === 401) {
          throw credentialsError(
            "digitalocean",
            `the API refused the token (${message})`,
            "check the store's token reference (DIGITALOCEAN_TOKEN)",
          );
        }
        if (response.status === 403) throw deniedError(at, "give the token the app:read and app:update scopes");
        if (response.status === 404) {
          throw serviceError(at, `no app ${options.appId} for this token; check the store's appId`);
        }
        throw serviceError(at, `${response.status} ${message}`, values);
      },
      { baseMs: 100, maxMs: RETRY_MAX_MS },
    ).catch((error) => {
      if (error instanceof RetryableError) {
        throw serviceError(
          { backend: "digitalocean", action, resource },
          `rate limited after several attempts (${error.message}); try again later`,
        );
      }
      throw error;
    });
  }

  /** Read, change, check nobody changed the spec meanwhile, write; queued so one process never races itself. */
  function edit(change: (envs: EnvVar[]) => boolean, values: string[]): Promise<boolean> {
    const run = async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const app = await request("GET");
        const envs = (app.spec.envs ?? []).map((e) => ({ ...e }));
        if (!change(envs)) return false;
        const now = await request("GET");
        if (now.updated_at !== app.updated_at) continue;
        await request("PUT", { spec: { ...app.spec, envs } }, values);
        return true;
      }
      throw new SiteloomError(
        "ERR_SECRET_BACKEND",
        `digitalocean: app ${options.appId} kept changing while siteloom edited its spec (concurrent edits); try again`,
      );
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  }

  const variable = (key: string) => {
    const [scope = "", name = ""] = key.split("/");
    return envVarName(prefix, scope, name);
  };

  async function write(key: string, value: string, mustExist: boolean): Promise<number> {
    const name = variable(key);
    let missing = false;
    await edit(
      (envs) => {
        const existing = envs.find((e) => e.key === name);
        if (!existing && mustExist) {
          missing = true;
          return false;
        }
        if (existing) Object.assign(existing, { value, type: "SECRET", scope: existing.scope ?? "RUN_TIME" });
        else envs.push({ key: name, value, scope: "RUN_TIME", type: "SECRET" });
        return true;
      },
      [value],
    );
    if (missing) throw new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
    return 1;
  }

  async function listed(): Promise<{ key: string; variable: string; updatedAt: string }[]> {
    const app = await request("GET");
    const out = [];
    for (const env of app.spec.envs ?? []) {
      const key = envVarKey(prefix, env.key);
      if (key) out.push({ key: `${key.scope}/${key.name}`, variable: env.key, updatedAt: app.updated_at });
    }
    return out;
  }

  return {
    type: "digitalocean",
    capabilities: { write: true, list: true, history: false, actors: false },
    describe: () => `DigitalOcean App Platform app ${options.appId} (SECRET env vars ${prefix}<SCOPE>__<NAME>)`,
    async get(key, version): Promise<StoredValue | undefined> {
      if (version !== undefined && version !== 1) return undefined;
      const name = variable(key);
      const value = runtime[name];
      if (value !== undefined && value !== "") return { value, version: 1 };
      if (!(await listed()).some((e) => e.variable === name)) return undefined;
      throw new SiteloomError(
        "ERR_SECRET_BACKEND",
        `digitalocean: secret://${key} is set in app ${options.appId}, but the API returns it encrypted: it is readable only inside the app (as ${name}, env store); copy from the store you keep it in`,
      );
    },
    async list(scope) {
      const out: SecretInfo[] = [];
      for (const e of await listed()) {
        const [s, name] = e.key.split("/") as [string, string];
        if (scope && s !== scope) continue;
        out.push({ scope: s, name, version: 1, createdAt: undefined, updatedAt: e.updatedAt, source: e.variable });
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key) {
      const found = (await listed()).find((e) => e.key === key);
      return found ? [{ version: 1, createdAt: found.updatedAt, actor: "digitalocean" }] : [];
    },
    set: (key, value) => write(key, value, false),
    rotate: (key, value) => write(key, value, true),
    async rollback(key) {
      throw new SiteloomError(
        "ERR_SECRET_BACKEND",
        `digitalocean: App Platform keeps no versions of secret://${key}; set the old value again (siteloom secrets copy from the store that keeps history)`,
      );
    },
    async delete(key) {
      const name = variable(key);
      const removed = await edit((envs) => {
        const i = envs.findIndex((e) => e.key === name);
        if (i < 0) return false;
        envs.splice(i, 1);
        return true;
      }, []);
      return (
        removed &&
        `removed ${name} from the spec of app ${options.appId}; not recoverable (App Platform keeps no removed variable); running containers keep the value until the app's next deployment`
      );
    },
    async test() {
      const app = await request("GET");
      const n = (app.spec.envs ?? []).filter((e) => envVarKey(prefix, e.key)).length;
      return `DigitalOcean app ${app.spec.name} (${app.id}): token accepted, ${n} siteloom secret(s)`;
    },
  } satisfies SecretBackend;
};

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/digitalocean.ts holds the options). */
export const create: BackendCreate<typeof DigitaloceanStoreSchema> = (config, ctx) =>
  digitaloceanBackend({
    appId: config.appId,
    prefix: config.prefix,
    endpoint: config.endpoint,
    runtimeEnv: ctx.vars,
    token: memoize(async () => {
      if (config.token) return ctx.resolveCredential(config.token, `secrets.stores.${ctx.store}.token`);
      if (ctx.vars.DIGITALOCEAN_TOKEN) return ctx.vars.DIGITALOCEAN_TOKEN;
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        `no DigitalOcean token for store "${ctx.store}": set DIGITALOCEAN_TOKEN, or token: \${DIGITALOCEAN_TOKEN} on the store`,
      );
    }),
  });

// --- internal ---

function _json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
