import type { FastifyPluginAsync } from "fastify";
import { maskConfigText } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import { principalOf } from "../access.ts";
import { checkConfigWrite } from "../config-guard.ts";
import type { ConfigRuntime, ConfigVersionRepository } from "../runtime.ts";

export interface VersionRoutesOptions {
  runtime: ConfigRuntime;
  versions: ConfigVersionRepository;
}

const VERSION_PARAMS = {
  type: "object",
  required: ["v"],
  additionalProperties: false,
  properties: { v: { type: "integer", minimum: 1, maximum: 2_147_483_647, description: "Version number" } },
} as const;

/** GET /config/versions, GET /config/versions/:v, POST /config/rollback/:v. */
export const versionRoutes: FastifyPluginAsync<VersionRoutesOptions> = async (fastify, { runtime, versions }) => {
  fastify.get<{ Querystring: { limit?: number; before?: number } }>(
    "/config/versions",
    {
      config: { access: { role: "viewer", action: "config.versions" } },
      schema: {
        summary: "Configuration versions, newest first (who, when, source, message)",
        tags: ["versions"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
            before: { type: "integer", minimum: 1, description: "Only versions older than this one (paging)" },
          },
        },
      },
    },
    async (request) => {
      const list = await versions.list({ limit: request.query.limit ?? 50, before: request.query.before });
      return { current: runtime.current().version, versions: list };
    },
  );

  fastify.get<{ Params: { v: number } }>(
    "/config/versions/:v",
    {
      config: { access: { role: "viewer", action: "config.version" } },
      schema: {
        summary: "One version: metadata, unified diff against the previous version, and the full file snapshot",
        description: "Credential values written as literals are shown as **** in both diff and files.",
        tags: ["versions"],
        params: VERSION_PARAMS,
      },
    },
    async (request) => {
      request.auditInfo.key = `version ${request.params.v}`;
      const record = await versions.get(request.params.v);
      if (!record) throw _noVersion(request.params.v);
      const files = Object.fromEntries(
        Object.entries(record.files).map(([name, text]) => [name, maskConfigText(text)]),
      );
      return { ...record, files };
    },
  );

  fastify.post<{ Params: { v: number } }>(
    "/config/rollback/:v",
    {
      config: { access: { role: "admin", action: "config.rollback" } },
      schema: {
        summary: "Make a new version whose files equal those of version v (the history is kept)",
        description:
          "Files that did not exist in version v (sites added later) are left as they are. The restored configuration is validated like any change.",
        tags: ["versions"],
        params: VERSION_PARAMS,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      request.auditInfo.key = `version ${request.params.v}`;
      const target = await versions.get(request.params.v);
      if (!target) throw _noVersion(request.params.v);
      // a rollback is a write like any other: it may not restore older stores or recipients behind the CLI's back
      checkConfigWrite(principal, runtime.current().files, target.files);
      const { snapshot, changed } = await runtime.rollback(request.params.v, principal.name);
      // a version only when one was made: alerts and metrics count changes, not rollbacks to what is in force
      if (changed) request.auditInfo.version = snapshot.version;
      return { version: snapshot.version, rolledBackTo: request.params.v, changed };
    },
  );
};

// --- internal ---

function _noVersion(v: number): SiteloomError {
  return new SiteloomError("ERR_NOT_FOUND", `no configuration version ${v}; see GET /config/versions`);
}
