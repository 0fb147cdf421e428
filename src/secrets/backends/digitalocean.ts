import { SiteloomError } from "../../errors.ts";
import { credentialsError, deniedError, requestJson, serviceError } from "../cloud.ts";
import { type BackendCreate, memoize } from "../define.ts";
import { envVarKey, envVarName } from "../env-names.ts";
import type { BackendFactory, SecretBackend, SecretInfo, StoredValue } from "../types.ts";
import type { DigitaloceanStoreSchema } from "./descriptors/digitalocean.ts";

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
 * write reads the app spec once, changes its variables and writes the whole spec back; the writes of one process
 * that wait meanwhile go into the same read and write. The API returns SECRET values encrypted, so this store is
 * write-mostly: values are read from the environment the app's containers get (variables named like the env
 * store's, `SITELOOM_SECRET_<SCOPE>__<NAME>`); elsewhere a read says the value is write-only. No versions.
 */
export const digitaloceanBackend: BackendFactory<DigitalOceanBackendOptions> = (options) => {
  const http = options.fetch ?? globalThis.fetch;
  const prefix = options.prefix ?? "SITELOOM_SECRET_";
  const base = (options.endpoint ?? "https://api.digitalocean.com").replace(/\/+$/, "");
  const runtime = options.runtimeEnv ?? process.env;
  const resource = `/v2/apps/${options.appId}`;
  // edits waiting for the next read-change-write of the spec, and whether one is running
  let pending: { change: (envs: EnvVar[]) => boolean; values: string[]; done: (e?: unknown, r?: boolean) => void }[] =
    [];
  let flushing = false;

  async function request(method: "GET" | "PUT", body?: unknown, values: string[] = []): Promise<App> {
    const at = { backend: "digitalocean", action: method === "GET" ? "apps:read" : "apps:update", resource };
    const answer = await requestJson({
      at,
      method,
      url: `${base}${resource}`,
      headers: { Authorization: `Bearer ${await options.token()}` },
      body,
      values,
      fetch: http,
      retryable: (status) => status === 429 || status >= 500,
      unreachable: (error) =>
        new SiteloomError(
          "ERR_SECRET_BACKEND",
          `digitalocean: cannot reach ${base}: ${error.message}; check the network and the store's endpoint`,
        ),
      check({ status, json, message }) {
        if (status >= 200 && status < 300 && (json as { app?: App } | undefined)?.app) return;
        if (status === 401) {
          throw credentialsError(
            "digitalocean",
            `the API refused the token (${message})`,
            "check the store's token reference (DIGITALOCEAN_TOKEN)",
          );
        }
        if (status === 403) throw deniedError(at, "give the token the app:read and app:update scopes");
        if (status === 404) throw serviceError(at, `no app ${options.appId} for this token; check the store's appId`);
        throw serviceError(at, `${status} ${message}`, values);
      },
    });
    return (answer.json as { app: App }).app;
  }

  /**
   * Queues a change of the spec's env vars; the changes waiting when a write starts are applied together: one read
   * of the spec and one write back (each write starts a deployment of the app, so 100 copied secrets are one, not
   * 100). DigitalOcean has no conditional update: a change by someone else between that read and write is lost,
   * a window of one round trip (a second read just before the write would only move it, not close it).
   */
  function edit(change: (envs: EnvVar[]) => boolean, values: string[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      pending.push({ change, values, done: (error, result) => (error ? reject(error) : resolve(result ?? false)) });
      // the writes issued together (a copy, Promise.all) join this one: the read waits for the next turn
      if (!flushing) {
        flushing = true;
        setImmediate(() => void flush());
      }
    });
  }

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        const app = await request("GET");
        const envs = (app.spec.envs ?? []).map((e) => ({ ...e }));
        const changed = batch.map((b) => b.change(envs));
        if (changed.some(Boolean)) {
          await request(
            "PUT",
            { spec: { ...app.spec, envs } },
            batch.flatMap((b) => b.values),
          );
        }
        for (const [i, b] of batch.entries()) b.done(undefined, changed[i]);
      } catch (error) {
        for (const b of batch) b.done(error);
      }
    }
    flushing = false;
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
    capabilities: { write: true, list: true, history: false, actors: false, writeOnly: true },
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
