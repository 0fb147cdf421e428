import { escapeHtml } from "./html.ts";
import { type ArticleEntry, newest, rfc822, rfc3339, type SiteInfo } from "./model.ts";
import { absoluteUrl } from "./urls.ts";

/** An article as a feed item: its HTML with absolute URLs only (feed readers have no base URL to resolve against). */
export interface FeedItem {
  entry: ArticleEntry;
  /** Article HTML, every URL absolute. */
  html: string;
}

/*
 * Written here rather than with the `feed` package: feed 6.0.0 writes item titles as `type="html"` CDATA (markup in
 * a title runs in readers), passes URLs through `new URL()` (which turns "jav\tascript:" into "javascript:"), splits
 * only the first "]]>" of a CDATA section (a second one ends it early) and keeps control characters XML forbids.
 * Feed content comes from a model; every byte of escaping has to be ours to check.
 */

/** RSS 2.0 with `atom:link rel="self"`, RFC 822 dates, permalink guids and `content:encoded`. */
export function renderRss(site: SiteInfo, items: FeedItem[]): string {
  const selfUrl = absoluteUrl(site.baseUrl, `${site.blogPath}/feed.xml`);
  const blogUrl = absoluteUrl(site.baseUrl, `${site.blogPath}/`);
  const updated = newest(items.map((i) => i.entry.modified));
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">`,
    "<channel>",
    `<title>${xmlEscape(`${site.name} — Blog`)}</title>`,
    `<link>${xmlEscape(blogUrl)}</link>`,
    `<description>${xmlEscape(`Articles from ${site.name}`)}</description>`,
    `<language>${xmlEscape(site.language)}</language>`,
    `<atom:link href="${xmlEscape(selfUrl)}" rel="self" type="application/rss+xml"/>`,
    "<generator>siteloom</generator>",
  ];
  if (updated) out.push(`<lastBuildDate>${rfc822(updated)}</lastBuildDate>`);
  for (const { entry, html } of items) {
    const a = entry.article;
    out.push("<item>");
    out.push(`<title>${xmlEscape(a.title)}</title>`);
    out.push(`<link>${xmlEscape(entry.url)}</link>`);
    out.push(`<guid isPermaLink="true">${xmlEscape(entry.url)}</guid>`);
    out.push(`<pubDate>${rfc822(a.publishedAt)}</pubDate>`);
    if (a.author) out.push(`<dc:creator>${xmlEscape(a.author)}</dc:creator>`);
    if (entry.category) out.push(`<category>${xmlEscape(entry.category.name)}</category>`);
    for (const t of entry.tags) out.push(`<category>${xmlEscape(t.name)}</category>`);
    // Readers render <description> as HTML: the excerpt goes in as text (HTML-escaped, then XML-escaped), so markup
    // in it shows as characters instead of running.
    out.push(`<description>${xmlEscape(escapeHtml(a.excerpt))}</description>`);
    out.push(`<content:encoded>${xmlEscape(html)}</content:encoded>`);
    out.push("</item>");
  }
  out.push("</channel>", "</rss>", "");
  return out.join("\n");
}

/** Atom 1.0: ids are the canonical URLs, RFC 3339 dates, `link rel="self"`, categories with `term`. */
export function renderAtom(site: SiteInfo, items: FeedItem[]): string {
  const selfUrl = absoluteUrl(site.baseUrl, `${site.blogPath}/atom.xml`);
  const blogUrl = absoluteUrl(site.baseUrl, `${site.blogPath}/`);
  // A feed must have `updated`; with no articles, a fixed date keeps the file stable between runs.
  const updated = newest(items.map((i) => i.entry.modified)) ?? "1970-01-01T00:00:00Z";
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="${xmlEscape(site.language)}">`,
    `<id>${xmlEscape(blogUrl)}</id>`,
    `<title>${xmlEscape(`${site.name} — Blog`)}</title>`,
    `<updated>${rfc3339(updated)}</updated>`,
    `<link rel="self" type="application/atom+xml" href="${xmlEscape(selfUrl)}"/>`,
    `<link rel="alternate" type="text/html" href="${xmlEscape(blogUrl)}"/>`,
    `<author><name>${xmlEscape(site.organization.name)}</name><uri>${xmlEscape(site.baseUrl)}</uri></author>`,
    `<generator>siteloom</generator>`,
  ];
  for (const { entry, html } of items) {
    const a = entry.article;
    out.push("<entry>");
    out.push(`<id>${xmlEscape(entry.url)}</id>`);
    out.push(`<title>${xmlEscape(a.title)}</title>`);
    out.push(`<link rel="alternate" type="text/html" href="${xmlEscape(entry.url)}"/>`);
    out.push(`<published>${rfc3339(a.publishedAt)}</published>`);
    out.push(`<updated>${rfc3339(entry.modified)}</updated>`);
    if (a.author) out.push(`<author><name>${xmlEscape(a.author)}</name></author>`);
    if (entry.category) {
      out.push(
        `<category term="${xmlEscape(entry.category.slug)}" label="${xmlEscape(entry.category.name)}" scheme="${xmlEscape(absoluteUrl(site.baseUrl, `${site.blogPath}/category/`))}"/>`,
      );
    }
    for (const t of entry.tags) {
      out.push(
        `<category term="${xmlEscape(t.slug)}" label="${xmlEscape(t.name)}" scheme="${xmlEscape(absoluteUrl(site.baseUrl, `${site.blogPath}/tag/`))}"/>`,
      );
    }
    out.push(`<summary>${xmlEscape(a.excerpt)}</summary>`);
    out.push(`<content type="html">${xmlEscape(html)}</content>`);
    out.push("</entry>");
  }
  out.push("</feed>", "");
  return out.join("\n");
}

/** Escapes text for XML content and attributes, dropping characters XML 1.0 does not allow at all. */
export function xmlEscape(text: string): string {
  if (!XML_SPECIAL.test(text)) return text; // most URLs and dates: nothing to do, no new string
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/[&<>"']/g, (ch) => XML_ESCAPES[ch]!);
}

// --- internal ---

const XML_SPECIAL = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
