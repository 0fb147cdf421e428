import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { runEnrich } from "../../enrich/index.ts";
import { SiteloomError } from "../../errors.ts";
import { requestEnv, requireSite, SITE_PARAM } from "../../server/access.ts";
import { type ConsoleContext, loadRequestSite } from "../context.ts";

/** Where the console keeps each site's preview build (drafts rendered as enrich would render them). */
const PREVIEW_DIR = "console-preview";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".xml": "application/xml",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

const ROOT_RELATIVE = /(\b(?:href|src)=["'])\/(?!\/)/gi;

/**
 * Preview pages are generated text in a foreign layout: no script runs (CSP sandbox without allow-scripts, and the
 * console frames them in a sandboxed iframe), nothing loads from elsewhere, and nothing may frame them but the console.
 */
const PREVIEW_CSP =
  "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; sandbox; frame-ancestors 'self'";

/**
 * GET /console/preview/:site/* — the site with its drafts rendered by enrich (`enrich.drafts: preview`) into
 * `.siteloom/console-preview/<site>/`, rebuilt incrementally when a page is asked for; other files are served from
 * that build. The live output/ folder is never touched.
 */
export const previewRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  // per site: the last build started, and the one build queued behind it that every request arriving meanwhile joins
  const builds = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>();
  const build = (site: string, start: () => Promise<void>): Promise<void> => {
    const state = builds.get(site);
    if (!state) {
      const first = { running: start(), next: undefined };
      builds.set(site, first);
      return first.running;
    }
    // the build running may have started before this request's change (an approval): wait for the next one, shared
    // by every request that arrives until it starts, so any number of requests costs at most two builds
    state.next ??= state.running
      .catch(() => undefined)
      .then(() => {
        state.running = state.next!;
        state.next = undefined;
        return start();
      });
    return state.next;
  };
  fastify.get<{ Params: { site: string; "*": string } }>(
    "/console/preview/:site/*",
    {
      config: { access: { role: "viewer", action: "console.preview" } },
      schema: {
        summary: "A page of the site with drafts rendered in its layout, as enrich would write it",
        tags: ["console"],
        params: { type: "object", properties: { site: SITE_PARAM, "*": { type: "string", maxLength: 1024 } } },
      },
    },
    async (request, reply) => {
      const { site } = request.params;
      const dir = join(ctx.stateDir, PREVIEW_DIR, site);
      let path = request.params["*"];
      if (path === "" || path.endsWith("/")) path += "index.html";
      const file = resolve(dir, path);
      if (!file.startsWith(dir + sep)) throw new SiteloomError("ERR_NOT_FOUND", "no such preview file");
      const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
      if (type.startsWith("text/html")) {
        // each request is checked on its own before it joins a build another request started
        const snapshot = ctx.runtime.current();
        requestEnv(request, snapshot, undefined);
        requireSite(snapshot, site);
        await build(site, () => _build(ctx, request, site, dir));
      }
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw new SiteloomError("ERR_NOT_FOUND", `no page ${path} in the preview of ${site}`);
      reply
        .header("content-type", type)
        .header("content-security-policy", PREVIEW_CSP)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store");
      const body = await readFile(file);
      // root-relative links of the site ("/style.css") must reach the preview build, not the console's origin root
      if (type.startsWith("text/html")) {
        return reply.send(body.toString("utf8").replace(ROOT_RELATIVE, `$1/console/preview/${site}/`));
      }
      return reply.send(body);
    },
  );
};

// --- internal ---

async function _build(
  ctx: ConsoleContext,
  request: Parameters<typeof loadRequestSite>[1],
  name: string,
  dir: string,
): Promise<void> {
  const { site } = await loadRequestSite(ctx, request, name);
  await runEnrich({
    site: {
      ...site,
      config: { ...site.config, enrich: { ...site.config.enrich, drafts: "preview" } },
      paths: { ...site.paths, output: dir },
    },
    cacheFile: `${dir}.cache.json`,
  });
}
