import type { FastifyPluginAsync } from "fastify";
import { SiteloomError } from "../../errors.ts";
import { principalOf } from "../access.ts";
import type { AuditSink } from "../ports.ts";

export interface AuditRoutesOptions {
  audit: AuditSink;
}

interface AuditQuery {
  since?: string;
  until?: string;
  actor?: string;
  key?: string;
  action?: string;
  limit?: number;
}

/** GET /audit: admins read every entry; other roles read the entries of their own token only. */
export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (fastify, { audit }) => {
  fastify.get<{ Querystring: AuditQuery }>(
    "/audit",
    {
      config: { access: { role: "viewer", action: "audit.read" } },
      schema: {
        summary: "Audit entries, oldest first, filtered by time, actor, key and action",
        description: "Viewers and editors see their own entries only (actor = their token name).",
        tags: ["audit"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            since: { type: "string", format: "date-time", description: "Inclusive ISO time" },
            until: { type: "string", format: "date-time", description: "Exclusive ISO time" },
            actor: { type: "string", maxLength: 128 },
            key: { type: "string", maxLength: 512, description: "Substring of the key (reference, path, token)" },
            action: { type: "string", maxLength: 64, description: "Action prefix: secrets, config.patch, ..." },
            limit: { type: "integer", minimum: 1, maximum: 10_000, default: 200, description: "Newest N kept" },
          },
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const q = request.query;
      let actor = q.actor;
      if (principal.role !== "admin") {
        if (actor !== undefined && actor !== principal.name) {
          throw new SiteloomError("ERR_FORBIDDEN", `role ${principal.role} may read only its own audit entries`);
        }
        actor = principal.name;
      }
      request.auditInfo.key = [q.action, q.key].filter(Boolean).join(" ") || "*";
      const entries = await audit.query({
        since: q.since,
        until: q.until,
        actor,
        key: q.key,
        action: q.action,
        limit: q.limit ?? 200,
      });
      return { entries };
    },
  );
};
