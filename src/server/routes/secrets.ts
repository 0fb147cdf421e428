import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { registerSecretValue } from "../../secret.ts";
import { SCOPE_PATTERN } from "../../secret-names.ts";
import { type OpenStoreOptions, openSecretStore, type SecretStore } from "../../secrets/index.ts";
import { ENV_PARAM, principalOf, requestEnv } from "../access.ts";
import type { ConfigRuntime } from "../runtime.ts";

export interface SecretRoutesOptions {
  runtime: ConfigRuntime;
  root: string;
  stateDir: string;
  /** Variables for the secret stores (identity, passphrase, env backend). */
  vars: Record<string, string | undefined>;
  /** Extra options for opening stores (tests lower the scrypt work factor). */
  storeOptions?: Partial<OpenStoreOptions> | undefined;
}

const KEY_PARAMS = {
  type: "object",
  required: ["scope", "name"],
  additionalProperties: false,
  properties: {
    scope: {
      type: "string",
      pattern: SCOPE_PATTERN.source,
      description: "Site or global",
    },
    name: { type: "string", pattern: "^[A-Z0-9_]{1,128}$", description: "Secret name, e.g. FTP_PASSWORD" },
  },
} as const;
const ENV_QUERY = { type: "object", additionalProperties: false, properties: { env: ENV_PARAM } } as const;
const VALUE_BODY = {
  type: "object",
  required: ["value"],
  additionalProperties: false,
  properties: { value: { type: "string", minLength: 1, maxLength: 65_536, description: "The new value (write-only)" } },
} as const;

type KeyRequest = FastifyRequest<{ Params: { scope: string; name: string }; Querystring: { env?: string } }>;

/**
 * Secret metadata, writes and rotation through the configured store of the environment. Values go in and never
 * come out; the store publishes each access (actor = token name) to the audit log as the CLI's accesses are.
 */
export const secretRoutes: FastifyPluginAsync<SecretRoutesOptions> = async (fastify, options) => {
  const open = (request: FastifyRequest, env: string): Promise<SecretStore> => {
    const snapshot = options.runtime.current();
    const config = snapshot.resolved.get(env)!.workspace;
    const vars = { ...options.vars, SITELOOM_ACTOR: principalOf(request).name };
    return openSecretStore(
      { root: options.root, stateDir: options.stateDir, env, config },
      { ...options.storeOptions, env, vars },
    );
  };
  const keyOf = (request: KeyRequest) => {
    const env = requestEnv(request, options.runtime.current(), request.query.env);
    const ref = `secret://${request.params.scope}/${request.params.name}`;
    request.auditInfo.key = ref;
    return { env, ref };
  };

  fastify.get<{ Querystring: { env?: string; scope?: string } }>(
    "/secrets",
    {
      config: { access: { role: "admin", action: "secrets.list" } },
      schema: {
        summary: "Names and metadata of the secrets of an environment (never values)",
        tags: ["secrets"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { env: ENV_PARAM, scope: KEY_PARAMS.properties.scope },
        },
      },
    },
    async (request) => {
      const env = requestEnv(request, options.runtime.current(), request.query.env);
      request.auditInfo.key = request.query.scope ?? "*";
      const store = await open(request, env);
      const secrets = await store.list(request.query.scope);
      return { env, store: store.name, secrets };
    },
  );

  /** PUT (set) and POST …/rotate differ only in the store call: the value is registered for redaction first. */
  const valueRoute = (
    method: "PUT" | "POST",
    url: string,
    action: string,
    summary: string,
    write: (store: SecretStore, ref: string, value: string) => Promise<number>,
  ) =>
    fastify.route<{ Params: { scope: string; name: string }; Querystring: { env?: string }; Body: { value: string } }>({
      method,
      url,
      config: { access: { role: "admin", action } },
      schema: { summary, tags: ["secrets"], params: KEY_PARAMS, querystring: ENV_QUERY, body: VALUE_BODY },
      handler: async (request) => {
        registerSecretValue(request.body.value);
        const { env, ref } = keyOf(request);
        const version = await write(await open(request, env), ref, request.body.value);
        request.auditInfo.version = version;
        return { env, ref, version };
      },
    });
  valueRoute(
    "PUT",
    "/secrets/:scope/:name",
    "secrets.set",
    "Set a secret (creates it or adds a version)",
    (store, ref, value) => store.set(ref, value),
  );
  valueRoute(
    "POST",
    "/secrets/:scope/:name/rotate",
    "secrets.rotate",
    "Rotate an existing secret to a new value (404 when it does not exist)",
    (store, ref, value) => store.rotate(ref, value),
  );

  fastify.get<{ Params: { scope: string; name: string }; Querystring: { env?: string } }>(
    "/secrets/:scope/:name/history",
    {
      config: { access: { role: "admin", action: "secrets.history" } },
      schema: {
        summary: "Versions of a secret: number, time, actor (no values)",
        tags: ["secrets"],
        params: KEY_PARAMS,
        querystring: ENV_QUERY,
      },
    },
    async (request) => {
      const { env, ref } = keyOf(request);
      const versions = await (await open(request, env)).history(ref);
      return { env, ref, versions };
    },
  );
};
