import type { FastifyPluginAsync } from "fastify";
import { auditTrailOf } from "../../audit/index.ts";
import { maskCredentials } from "../../config/index.ts";
import { ENV_PARAM, requestEnv, requireSite, SITE_PARAM } from "../../server/access.ts";
import { loadWorkspace, type Origin } from "../../workspace/index.ts";
import type { ConsoleContext } from "../context.ts";

/**
 * GET /console/config (the resolved configuration as rows: path, masked value, where it was set) and
 * GET /console/audit/verify (whether the audit chain is intact).
 */
export const inspectRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  fastify.get<{ Querystring: { site?: string; env?: string } }>(
    "/console/config",
    {
      config: { access: { role: "viewer", action: "config.read" } },
      schema: {
        summary: "Resolved configuration with provenance (layer, file:line) per value; credentials masked",
        tags: ["console"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { site: SITE_PARAM, env: ENV_PARAM },
        },
      },
    },
    async (request) => {
      const snapshot = ctx.runtime.current();
      const env = requestEnv(request, snapshot, request.query.env);
      const site = request.query.site;
      if (site) requireSite(snapshot, site);
      request.auditInfo.key = site ? `sites/${site}` : "workspace";
      const workspace = await loadWorkspace({ workspace: ctx.root, env, vars: ctx.vars });
      const scope = site ? await workspace.site(site) : undefined;
      const config = maskCredentials(scope ? scope.config : workspace.config);
      const origins = scope ? scope.origins : workspace.origins;
      const rows: { path: string; value: unknown; origin: string }[] = [];
      _flatten(config, "", (path, value) => rows.push({ path, value, origin: _origin(origins.get(path)) }));
      return { version: snapshot.version, env, site: site ?? null, rows };
    },
  );

  fastify.get(
    "/console/audit/verify",
    {
      config: { access: { role: "viewer", action: "audit.verify" } },
      schema: { summary: "Verify the audit log's hash chain", tags: ["console"] },
    },
    async () => auditTrailOf(ctx.store, ctx).verify(),
  );
};

// --- internal ---

function _flatten(value: unknown, path: string, visit: (path: string, value: unknown) => void): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) _flatten(child, path ? `${path}.${key}` : key, visit);
    return;
  }
  visit(path, value);
}

function _origin(origin: Origin | undefined): string {
  if (!origin?.source) return origin?.layer ?? "default";
  return `${origin.layer}: ${origin.source}${origin.line ? `:${origin.line}` : ""}`;
}
