import type { FastifyPluginAsync } from "fastify";
import { SiteloomError } from "../../errors.ts";
import { STEP_NAMES } from "../../pipeline/index.ts";
import type { RunStatus, StateStore } from "../../store/index.ts";
import { envAllows } from "../../tokens/index.ts";
import { ENV_PARAM, principalOf, requestEnv, requireSite, SITE_PARAM } from "../access.ts";
import type { RunStarter } from "../ports.ts";
import type { ConfigRuntime } from "../runtime.ts";

export interface RunRoutesOptions {
  runtime: ConfigRuntime;
  store: Pick<StateStore, "listRuns">;
  /** Starts runs; without one POST /runs answers 501. */
  runs?: RunStarter | undefined;
}

/** GET /runs (the state store's run records), POST /runs (start a pipeline run). */
export const runRoutes: FastifyPluginAsync<RunRoutesOptions> = async (fastify, options) => {
  fastify.get<{ Querystring: { site?: string; status?: RunStatus; limit?: number; before?: string } }>(
    "/runs",
    {
      config: { access: { role: "viewer", action: "runs.list" } },
      schema: {
        summary: "Pipeline runs, newest first (only the environments the token may use)",
        tags: ["runs"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            site: SITE_PARAM,
            status: { type: "string", enum: ["running", "succeeded", "failed", "interrupted"] },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
            before: { type: "string", pattern: "^[0-9a-z-]{1,64}$", description: "Next page: runs older than this id" },
          },
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const q = request.query;
      const runs = await options.store.listRuns({
        ...(q.site ? { site: q.site } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before ? { before: q.before } : {}),
        limit: q.limit ?? 50,
      });
      return { runs: runs.filter((run) => envAllows(principal, run.env)) };
    },
  );

  fastify.post<{ Body: { sites?: string[]; env?: string; steps?: string[]; dryRun?: boolean } }>(
    "/runs",
    {
      config: { access: { role: "editor", action: "runs.start" } },
      schema: {
        summary: "Start a pipeline run with the configuration in force (202 with the run id)",
        description: "The run keeps the configuration snapshot it started with; later changes apply to the next run.",
        tags: ["runs"],
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            sites: { type: "array", items: SITE_PARAM, maxItems: 500, uniqueItems: true, description: "Default: all" },
            env: ENV_PARAM,
            steps: { type: "array", items: { type: "string", enum: [...STEP_NAMES] }, uniqueItems: true },
            dryRun: { type: "boolean", default: false },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const snapshot = options.runtime.current();
      const env = requestEnv(request, snapshot, request.body.env);
      const sites = request.body.sites ?? [...snapshot.sites];
      for (const site of sites) requireSite(snapshot, site);
      request.auditInfo.key = sites.join(",") || "*";
      if (!options.runs) {
        throw new SiteloomError(
          "ERR_NOT_IMPLEMENTED",
          "starting runs over the API is not available in this build (the pipeline is not wired to the server yet); run `siteloom run` instead",
        );
      }
      const run = await options.runs.start({
        sites,
        env,
        steps: request.body.steps,
        dryRun: request.body.dryRun ?? false,
        actor: principal.name,
      });
      return reply.status(202).send(run);
    },
  );
};
