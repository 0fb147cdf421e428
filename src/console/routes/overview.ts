import type { FastifyPluginAsync } from "fastify";
import { createLedger, currentMonth, loadArticles } from "../../content/index.ts";
import { ENV_PARAM, requestEnv } from "../../server/access.ts";
import { envAllows } from "../../tokens/index.ts";
import { type ConsoleContext, loadRequestSite } from "../context.ts";

/** Runs looked at to find a site's last deploy. */
const DEPLOY_LOOKBACK = 50;

/** GET /console/sites (one row per site), GET /console/costs (spend per month, site and model, with budgets). */
export const overviewRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  // one ledger for the plugin: it remembers that the old ledger file was imported, so requests do not read it again
  const ledger = createLedger(ctx.stateDir, ctx.store);
  fastify.get<{ Querystring: { env?: string } }>(
    "/console/sites",
    {
      config: { access: { role: "viewer", action: "console.sites" } },
      schema: {
        summary: "Every site: last run, last deploy, article counts by status, budget used this month",
        tags: ["console"],
        querystring: { type: "object", additionalProperties: false, properties: { env: ENV_PARAM } },
      },
    },
    async (request) => {
      const month = currentMonth();
      const spent = await ledger.read({ month });
      const rows = [];
      for (const name of ctx.runtime.current().sites) {
        const { site } = await loadRequestSite(ctx, request, name, request.query.env);
        const runs = (await ctx.store.listRuns({ site: name, limit: DEPLOY_LOOKBACK })).filter((r) =>
          envAllows(request.principal!, r.env),
        );
        const deploy = runs.find((r) => r.status === "succeeded" && !r.dryRun && r.steps.includes("deploy"));
        const counts: Record<string, number> = { draft: 0, ready: 0, rejected: 0 };
        for (const { article } of (await loadArticles(site.paths.articles)).articles) counts[article.status]! += 1;
        rows.push({
          site: name,
          domain: site.config.domain ?? null,
          lastRun: runs[0] ? { id: runs[0].id, status: runs[0].status, started: runs[0].started } : null,
          lastDeploy: deploy ? { id: deploy.id, finished: deploy.finished ?? deploy.started } : null,
          articles: counts,
          budget: {
            month,
            spentUsd: _round(spent.filter((e) => e.site === name).reduce((sum, e) => sum + e.costUsd, 0)),
            maxMonthlyCost: site.config.budgets.maxMonthlyCost ?? null,
          },
        });
      }
      return { sites: rows };
    },
  );

  fastify.get<{ Querystring: { env?: string } }>(
    "/console/costs",
    {
      config: { access: { role: "viewer", action: "console.costs" } },
      schema: {
        summary: "Model spend per month, per site and per model, with the monthly budget of an environment",
        description:
          "The environment (default: the workspace's) must be one the token may use, like every console read. The ledger is one per workspace, so the spend is the workspace's; the budget is the environment's.",
        tags: ["console"],
        querystring: { type: "object", additionalProperties: false, properties: { env: ENV_PARAM } },
      },
    },
    async (request) => {
      const snapshot = ctx.runtime.current();
      const env = requestEnv(request, snapshot, request.query.env);
      const entries = await ledger.read();
      const byMonth = new Map<string, number>();
      const bySite = new Map<string, number>();
      const byModel = new Map<string, number>();
      const month = currentMonth();
      for (const e of entries) {
        const m = e.time.slice(0, 7);
        byMonth.set(m, (byMonth.get(m) ?? 0) + e.costUsd);
        if (m !== month) continue;
        bySite.set(e.site, (bySite.get(e.site) ?? 0) + e.costUsd);
        byModel.set(e.model, (byModel.get(e.model) ?? 0) + e.costUsd);
      }
      const budget = snapshot.resolved.get(env)?.workspace.budgets.maxMonthlyCost ?? null;
      const rows = (m: Map<string, number>) => [...m].map(([key, usd]) => ({ key, costUsd: _round(usd) }));
      return {
        month,
        env,
        budget,
        months: rows(byMonth).sort((a, b) => a.key.localeCompare(b.key)),
        sites: rows(bySite).sort((a, b) => b.costUsd - a.costUsd),
        models: rows(byModel).sort((a, b) => b.costUsd - a.costUsd),
      };
    },
  );
};

// --- internal ---

function _round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
