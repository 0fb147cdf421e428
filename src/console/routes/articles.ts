import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import {
  ARTICLE_STATUSES,
  type ArticleStatus,
  formatArticleForEdit,
  loadArticles,
  loadReviewArticle,
  pullSharedArticles,
  type ReviewTarget,
  reviewArticles,
  SLUG_PATTERN,
  saveArticleEdit,
  summarizeArticle,
} from "../../content/index.ts";
import { ENV_PARAM, principalOf, SITE_PARAM } from "../../server/access.ts";
import { type ConsoleContext, loadRequestSite } from "../context.ts";

const SLUG = { type: "string", pattern: SLUG_PATTERN, maxLength: 200 } as const;
const PARAMS = {
  type: "object",
  required: ["site", "slug"],
  properties: { site: SITE_PARAM, slug: SLUG },
} as const;
const ENV_QUERY = { type: "object", additionalProperties: false, properties: { env: ENV_PARAM } } as const;

type One = { Params: { site: string; slug: string }; Querystring: { env?: string } };

/**
 * Editorial review over the API (the console's Review screen uses these): list, read, approve, reject, edit. The
 * rules live in content/review.ts, shared with `siteloom articles`.
 */
export const articleRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  const target = async (request: FastifyRequest, site: string, env?: string): Promise<ReviewTarget> => {
    const loaded = await loadRequestSite(ctx, request, site, env);
    // with PostgreSQL the articles live in the store: this instance's folder follows it, and changes go there too
    await pullSharedArticles(ctx.store, site, loaded.site.paths.articles);
    return {
      site,
      dir: loaded.site.paths.articles,
      env: loaded.workspace.env,
      actor: principalOf(request).name,
      source: request.ip,
      store: ctx.store,
    };
  };

  fastify.get<{ Querystring: { site?: string; status?: ArticleStatus; env?: string } }>(
    "/articles",
    {
      config: { access: { role: "viewer", action: "articles.list" } },
      schema: {
        summary: "Articles of every site (or one), newest first, with status, words, links and cost",
        tags: ["articles"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { site: SITE_PARAM, status: { type: "string", enum: [...ARTICLE_STATUSES] }, env: ENV_PARAM },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const sites = q.site ? [q.site] : [...ctx.runtime.current().sites];
      const rows = [];
      for (const site of sites) {
        const t = await target(request, site, q.env);
        for (const { article } of (await loadArticles(t.dir)).articles) {
          if (!q.status || article.status === q.status) rows.push(summarizeArticle(site, article));
        }
      }
      rows.sort((a, b) => b.publishedAt.localeCompare(a.publishedAt));
      return { articles: rows };
    },
  );

  fastify.get<One>(
    "/articles/:site/:slug",
    {
      config: { access: { role: "viewer", action: "articles.read" } },
      schema: {
        summary: "One article: its summary, the whole article and the text `PUT` takes (front matter + Markdown)",
        tags: ["articles"],
        params: PARAMS,
        querystring: ENV_QUERY,
      },
    },
    async (request) => {
      const { site, slug } = request.params;
      request.auditInfo.key = `${site}/${slug}`;
      const loaded = await loadRequestSite(ctx, request, site, request.query.env);
      const article = await loadReviewArticle(await target(request, site, request.query.env), slug);
      const blog = loaded.site.config.enrich.blogPath.replace(/^\/+|\/+$/g, "");
      return {
        summary: summarizeArticle(site, article),
        article,
        text: formatArticleForEdit(article),
        // where the console frames the page as enrich renders it (GET /console/preview/...)
        preview: `/console/preview/${site}/${blog ? `${blog}/` : ""}${slug}/`,
      };
    },
  );

  for (const action of ["approve", "reject"] as const) {
    fastify.post<One & { Body: { reason?: string } }>(
      `/articles/:site/:slug/${action}`,
      {
        config: { access: { role: "editor", action: `articles.${action}` } },
        schema: {
          summary: action === "approve" ? "Approve: the article becomes ready" : "Reject, with an optional reason",
          tags: ["articles"],
          params: PARAMS,
          querystring: ENV_QUERY,
          body: {
            type: "object",
            additionalProperties: false,
            properties: { reason: { type: "string", maxLength: 500 } },
          },
        },
      },
      async (request) => {
        const { site, slug } = request.params;
        request.auditInfo.key = `${site}/${slug}`;
        const t = await target(request, site, request.query.env);
        const [change] = await reviewArticles({ ...t, action, slugs: [slug], reason: request.body?.reason });
        return change;
      },
    );
  }

  fastify.put<One & { Body: { text: string } }>(
    "/articles/:site/:slug",
    {
      config: { access: { role: "editor", action: "articles.edit" } },
      schema: {
        summary: "Replace the editable fields and Markdown; 422 with every problem (and nothing saved) when invalid",
        tags: ["articles"],
        params: PARAMS,
        querystring: ENV_QUERY,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["text"],
          properties: { text: { type: "string", maxLength: 200_000 } },
        },
      },
    },
    async (request) => {
      const { site, slug } = request.params;
      request.auditInfo.key = `${site}/${slug}`;
      const article = await saveArticleEdit(await target(request, site, request.query.env), slug, request.body.text);
      return { summary: summarizeArticle(site, article) };
    },
  );
};
