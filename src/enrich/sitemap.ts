import { xmlEscape } from "./feeds.ts";

/** One `<url>` of a sitemap. */
export interface SitemapUrl {
  loc: string;
  lastmod?: string;
  changefreq?: string;
  priority?: string;
  /** Extension elements of the site's own entry, as written (`<image:image>`, `<xhtml:link>`, `<video:video>` …). */
  extra?: string;
}

/** The existing sitemap of the site, as found in export/. */
export interface ExistingSitemap {
  kind: "urlset" | "index" | "none";
  urls: SitemapUrl[];
  /** For an index: the sitemaps it lists. */
  sitemaps: { loc: string; lastmod?: string }[];
  /** Namespace declarations of the site's `<urlset>` other than the default one (`xmlns:image="…"`). */
  namespaces?: Record<string, string>;
}

/** One file to write. */
export interface SitemapFile {
  /** Site-relative path ("sitemap.xml", "sitemap-2.xml"). */
  path: string;
  content: string;
}

/** Reads a sitemap or sitemap index leniently (sites write them by hand; a broken one is treated as absent). */
export function parseSitemap(xml: string | undefined): ExistingSitemap {
  if (!xml) return { kind: "none", urls: [], sitemaps: [] };
  if (/<sitemapindex\b/.test(xml)) {
    const sitemaps = [...xml.matchAll(/<sitemap\b[^>]*>([\s\S]*?)<\/sitemap>/g)].map((m) => {
      const lastmod = _tag(m[1]!, "lastmod");
      return { loc: _tag(m[1]!, "loc") ?? "", ...(lastmod ? { lastmod } : {}) };
    });
    return { kind: "index", urls: [], sitemaps: sitemaps.filter((s) => s.loc) };
  }
  const urls = [...xml.matchAll(/<url\b[^>]*>([\s\S]*?)<\/url>/g)]
    .map((m) => {
      const u: SitemapUrl = { loc: _tag(m[1]!, "loc") ?? "" };
      const lastmod = _tag(m[1]!, "lastmod");
      const changefreq = _tag(m[1]!, "changefreq");
      const priority = _tag(m[1]!, "priority");
      if (lastmod) u.lastmod = lastmod;
      if (changefreq) u.changefreq = changefreq;
      if (priority) u.priority = priority;
      // Extension elements (prefixed names) are kept as the site wrote them.
      if (/<[\w-]+:/.test(m[1]!)) {
        const extra = m[1]!.replace(STANDARD_TAGS, "").trim();
        if (extra) u.extra = extra;
      }
      return u;
    })
    .filter((u) => u.loc);
  const namespaces: Record<string, string> = {};
  const open = /<urlset\b[^>]*>/.exec(xml)?.[0] ?? "";
  for (const ns of open.matchAll(/\bxmlns:([\w.-]+)\s*=\s*(["'])(.*?)\2/g)) namespaces[ns[1]!] = ns[3]!;
  return { kind: "urlset", urls, sitemaps: [], namespaces };
}

/**
 * Merges the site's URLs with the generated ones (existing entries kept, ours replacing any older entry for the same
 * URL) and splits them into files of at most `limit` URLs; above the limit `sitemap.xml` becomes a sitemap index
 * with one `lastmod` per file. `ownPrefix`: URLs under it are ours and dropped from the existing list first (an
 * export of the live site contains what siteloom deployed last time, including articles removed since).
 */
export function buildSitemaps(options: {
  existing: ExistingSitemap;
  generated: SitemapUrl[];
  baseUrl: string;
  ownPrefix: string;
  limit: number;
}): SitemapFile[] {
  const { existing, generated, baseUrl, ownPrefix, limit } = options;
  const ours = new Set(generated.map((u) => u.loc));
  const merged: SitemapUrl[] = [];
  for (const u of existing.urls) {
    if (ours.has(u.loc) || u.loc.startsWith(ownPrefix)) continue;
    merged.push(u);
  }
  merged.push(...generated);
  if (existing.kind === "index") {
    // The site manages its own index: keep its entries (minus ours) and add the blog's sitemaps to it.
    const files = _chunk(generated, limit).map((chunk, i) => ({
      path: `sitemap-blog${i === 0 ? "" : `-${i + 1}`}.xml`,
      urls: chunk,
    }));
    const ownLocs = new Set(files.map((f) => new URL(f.path, baseUrl).href));
    const entries = existing.sitemaps.filter(
      (s) => !ownLocs.has(s.loc) && !/\/sitemap-blog(?:-\d+)?\.xml$/.test(s.loc),
    );
    for (const f of files) entries.push({ loc: new URL(f.path, baseUrl).href, ..._lastmodOf(f.urls) });
    return [
      ...files.map((f) => ({ path: f.path, content: renderUrlset(f.urls) })),
      { path: "sitemap.xml", content: renderIndex(entries) },
    ];
  }
  const ns = existing.namespaces;
  if (merged.length <= limit) return [{ path: "sitemap.xml", content: renderUrlset(merged, ns) }];
  const files = _chunk(merged, limit).map((chunk, i) => ({ path: `sitemap-${i + 1}.xml`, urls: chunk }));
  const index = files.map((f) => ({ loc: new URL(f.path, baseUrl).href, ..._lastmodOf(f.urls) }));
  return [
    ...files.map((f) => ({ path: f.path, content: renderUrlset(f.urls, ns) })),
    { path: "sitemap.xml", content: renderIndex(index) },
  ];
}

/** A `<urlset>`; `namespaces` are the site's own extension namespaces (kept so its entries' extensions stay valid). */
export function renderUrlset(urls: SitemapUrl[], namespaces: Record<string, string> = {}): string {
  const declarations = Object.entries(namespaces)
    .map(([prefix, uri]) => ` xmlns:${prefix}="${xmlEscape(uri)}"`)
    .join("");
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"${declarations}>`,
  ];
  for (const u of urls) {
    let line = `<url><loc>${xmlEscape(u.loc)}</loc>`;
    if (u.lastmod) line += `<lastmod>${xmlEscape(u.lastmod)}</lastmod>`;
    if (u.changefreq) line += `<changefreq>${xmlEscape(u.changefreq)}</changefreq>`;
    if (u.priority) line += `<priority>${xmlEscape(u.priority)}</priority>`;
    if (u.extra) line += u.extra;
    out.push(`${line}</url>`);
  }
  out.push("</urlset>", "");
  return out.join("\n");
}

export function renderIndex(entries: { loc: string; lastmod?: string }[]): string {
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`,
  ];
  for (const e of entries) {
    out.push(
      `<sitemap><loc>${xmlEscape(e.loc)}</loc>${e.lastmod ? `<lastmod>${xmlEscape(e.lastmod)}</lastmod>` : ""}</sitemap>`,
    );
  }
  out.push("</sitemapindex>", "");
  return out.join("\n");
}

// --- internal ---

const TAG_RES = new Map<string, RegExp>();
const STANDARD_TAGS = /<(loc|lastmod|changefreq|priority)\b[^>]*>[\s\S]*?<\/\1>/g;

function _tag(block: string, name: string): string | undefined {
  // Most blocks lack most optional tags: a substring test is far cheaper than a regex that fails.
  if (!block.includes(`<${name}`)) return undefined;
  let re = TAG_RES.get(name);
  if (!re) {
    re = new RegExp(`<${name}\\b[^>]*>([\\s\\S]*?)</${name}>`);
    TAG_RES.set(name, re);
  }
  const m = re.exec(block);
  if (!m) return undefined;
  const value = m[1]!.trim();
  if (!value.includes("&") && !value.startsWith("<![CDATA[")) return value;
  return value
    .replace(/^<!\[CDATA\[([\s\S]*)\]\]>$/, "$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

function _chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

function _lastmodOf(urls: SitemapUrl[]): { lastmod?: string } {
  let best: string | undefined;
  for (const u of urls)
    if (u.lastmod && (best === undefined || Date.parse(u.lastmod) > Date.parse(best))) best = u.lastmod;
  return best ? { lastmod: best } : {};
}
