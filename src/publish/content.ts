import { createHash } from "node:crypto";
import type { Article } from "../content/index.ts";
import { localizeUrls, renderMarkdown } from "../enrich/index.ts";

/** What the content builder needs to know about the site and the WordPress side. */
export interface PostContext {
  /** The static site's base URL ("https://shop.example.com/"), for links to pages that are not on WordPress. */
  siteBaseUrl: string | undefined;
  /** Host of the static site (links to it are internal). */
  siteHost: string;
  /** Blog folder of the static site ("blog"): `/blog/<slug>/` is an article. */
  blogPath: string;
  /** Links to pages not on WordPress: absolute links to the static site, or plain text. */
  otherLinks: "absolute" | "text";
  /** The WordPress permalink of an article (by slug), when it has a post. */
  permalink(slug: string): string | undefined;
  /** The media library URL of an uploaded site file (by site path, "/img/a.png"). */
  mediaUrl(sitePath: string): string | undefined;
}

/** The article rendered for WordPress: the sanitised body and what it refers to. */
export interface RenderedPost {
  /** Post content (sanitised HTML, FAQ appended; site links rewritten). */
  content: string;
  /** Site-relative image paths used in the body (to upload). */
  images: string[];
  /** Slugs of other articles the body links to. */
  linkedSlugs: string[];
  /** Links that point at articles without a post yet (a second pass fixes them). */
  unresolved: string[];
  /** What the sanitiser removed (for warnings). */
  removed: string[];
}

/**
 * Renders an article's Markdown with enrich's renderer (allowlist sanitising: no scripts, event handlers or
 * `javascript:` URLs), appends the FAQ, and rewrites site-relative links and images for WordPress.
 */
export function renderPost(article: Article, ctx: PostContext): RenderedPost {
  const body = renderMarkdown(article.bodyMarkdown, { siteHost: ctx.siteHost, title: article.title });
  const removed = [...body.removed];
  let html = body.html;
  if (article.faq.length > 0) {
    const items = article.faq.map((item) => {
      const answer = renderMarkdown(item.answer, { siteHost: ctx.siteHost, minHeading: 4 });
      removed.push(...answer.removed);
      return `<h3>${escapeHtml(item.question)}</h3>\n${answer.html}`;
    });
    html += `\n<h2 class="siteloom-faq">FAQ</h2>\n${items.join("\n")}`;
  }
  const images = new Set<string>();
  const linkedSlugs = new Set<string>();
  const unresolved = new Set<string>();
  const articlePrefix = `/${ctx.blogPath}/`;
  const articleSlug = (path: string): string | undefined => {
    const clean = path.split(/[?#]/)[0] ?? "";
    if (!clean.startsWith(articlePrefix)) return undefined;
    const m = /^([a-z0-9]+(?:-[a-z0-9]+)*)\/?(?:index\.html?)?$/.exec(clean.slice(articlePrefix.length));
    return m?.[1];
  };
  // images first (src), then links (href): both are root-relative after rendering
  html = html.replace(/\bsrc="(\/(?!\/)[^"]*)"/g, (_m, path: string) => {
    images.add(path);
    return `src="${escapeAttr(ctx.mediaUrl(path) ?? _absolute(ctx, path) ?? path)}"`;
  });
  const TEXT_MARK = "\u0000siteloom-text\u0000";
  html = localizeUrls(html, (path) => {
    const slug = articleSlug(path);
    if (slug !== undefined) {
      linkedSlugs.add(slug);
      const link = ctx.permalink(slug);
      if (link) return escapeAttr(link + (path.includes("#") ? path.slice(path.indexOf("#")) : ""));
      unresolved.add(slug);
    }
    if (ctx.otherLinks === "text" || !ctx.siteBaseUrl) return TEXT_MARK;
    return escapeAttr(_absolute(ctx, path) ?? path);
  });
  // links that may not point anywhere become their text
  html = html.replace(/<a\b[^>]*\bhref="\u0000siteloom-text\u0000"[^>]*>([\s\S]*?)<\/a>/g, "$1");
  return { content: html, images: [...images], linkedSlugs: [...linkedSlugs], unresolved: [...unresolved], removed };
}

/** SHA-256 hex of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Escapes text for HTML (WordPress shows titles and excerpts as HTML). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// --- internal ---

function escapeAttr(text: string): string {
  return text.replace(/&(?!amp;|lt;|gt;|quot;|#)/g, "&amp;").replace(/"/g, "&quot;");
}

function _absolute(ctx: PostContext, path: string): string | undefined {
  if (!ctx.siteBaseUrl) return undefined;
  return new URL(`./${path.replace(/^\/+/, "")}`, ctx.siteBaseUrl).href;
}
