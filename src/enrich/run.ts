import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { forEachLimit } from "../concurrency.ts";
import { ARTICLE_SCHEMA_VERSION, type Article, ArticleSchema } from "../content/index.ts";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import {
  canSpliceBytes,
  type DecodedPage,
  decodePage,
  type PageEncoding,
  spliceBytes,
  toUtf8Page,
} from "./encoding.ts";
import { type FeedItem, renderAtom, renderRss } from "./feeds.ts";
import { isTempPath, type TreeFile, walkTree } from "./files.ts";
import { parseHtml } from "./html.ts";
import {
  classifyPage,
  findLayoutRegion,
  type LayoutRegion,
  type LayoutSample,
  MAX_LAYOUT_SAMPLES,
  type PageKind,
} from "./layout.ts";
import { localizeUrls, renderMarkdown } from "./markdown.ts";
import { type ArticleEntry, isoWithOffset, newest, type SiteInfo, type Taxonomy, taxonomySlug } from "./model.ts";
import { findRelated, type ListingPage, paginate, renderArticleBody, renderListingBody } from "./pages.ts";
import { mergeRobots } from "./robots.ts";
import { type Alternate, type Crumb, GENERATED_MARKER, type HeadInfo, renderHead } from "./seo.ts";
import { buildSitemaps, type ExistingSitemap, parseSitemap, type SitemapUrl } from "./sitemap.ts";
import { createOutputStaging, settleOutput, stagingDirFor } from "./staging.ts";
import {
  CONTENT_SELECTORS,
  findNavInsertionFast,
  findNavList,
  hasServerSideCode,
  type NavLinkOptions,
  navLinkEdit,
  prepareTemplate,
  renderFromTemplate,
  resolveBase,
  TEMPLATE_CANDIDATES,
  type Template,
} from "./template.ts";
import type { EnrichReport, LayoutExplanation, RunEnrichOptions, SkippedItem } from "./types.ts";
import { absoluteUrl, dirOf, IMAGE_SCHEMES, safeUrl } from "./urls.ts";

/**
 * Builds sites/<name>/output/ from export/ and articles/: the live site byte for byte, plus article pages in the
 * site's own layout, listings, feeds, sitemap and robots.txt. Only files whose bytes must change are written, so
 * everything else keeps its mtime; output files that no longer belong (removed articles) are deleted.
 */
export async function runEnrich(options: RunEnrichOptions): Promise<EnrichReport> {
  const started = performance.now();
  const { site } = options;
  const cfg = site.config.enrich;
  const dryRun = options.dryRun ?? false;
  const skipped: SkippedItem[] = [];
  const warnings: string[] = [];
  const log = options.logger;
  const cpuStart = process.cpuUsage();
  const mark = (phase: string) => {
    const cpu = process.cpuUsage(cpuStart);
    log?.debug(
      {
        phase,
        ms: Math.round(performance.now() - started),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        sysMs: Math.round(cpu.system / 1000),
      },
      "enrich phase",
    );
  };

  const exportFiles = await walkTree(site.paths.export);
  if (exportFiles.length === 0) {
    throw new SiteloomError(
      "ERR_ENRICH",
      `enrich: ${site.paths.export} is empty or missing; run \`siteloom export ${site.name}\` first`,
      { site: site.name },
    );
  }
  const exportIndex = new Map(exportFiles.map((f) => [f.path, f]));
  const info = _siteInfo(site);
  // A run killed mid-commit is finished first (a dry run writes nothing, so it only says so).
  if (!dryRun) await settleOutput(site.paths.output);
  else if (existsSync(stagingDirFor(site.paths.output)))
    warnings.push(
      `${site.paths.output}: a killed run left changes staged; the next real run (or \`siteloom deploy\`) finishes or discards them first`,
    );
  const blogDir = `${info.blogPath}/`;
  const cache = await _loadCache(options.cacheFile);

  mark("start");
  // --- articles ---
  const previewDrafts = cfg.drafts === "preview";
  const { entries, drafts, invalid, draftSlugs } = await _loadArticles(
    site.paths.articles,
    info,
    skipped,
    warnings,
    previewDrafts,
    cache,
  );
  if (previewDrafts && drafts > 0) {
    warnings.push(
      `${drafts} draft article(s) rendered as previews marked "Draft — sample content" (noindex, not in the sitemap or feeds): enrich.drafts is preview`,
    );
  }

  mark("articles");
  // --- template ---
  const layouts = await _loadLayouts(site, exportIndex, blogDir, skipped);
  const navOptions = cfg.navLink.enabled
    ? { label: cfg.navLink.label, selector: cfg.navLink.selector, blogDir }
    : undefined;
  const prepare = (l: ChosenLayout): Template =>
    prepareTemplate(l.sample.path, l.page, {
      doc: l.sample.doc,
      region: l.region,
      nav: navOptions,
      siteUrl: info.baseUrl,
    });
  const template = prepare(layouts.article);
  const listingTemplate = layouts.listing === layouts.article ? template : prepare(layouts.listing);
  if (cfg.navLink.enabled && !template.nav && !_navFound(layouts.article, navOptions!)) {
    warnings.push(
      cfg.navLink.selector
        ? `enrich.navLink.selector "${cfg.navLink.selector}" matches nothing in ${template.path}: no Blog link on generated pages`
        : `found no navigation (nav ul, nav, role=navigation) outside the content region of ${template.path}: no Blog link on generated pages; set enrich.navLink.selector`,
    );
  }

  const desired = new Map<string, Desired>();
  const generatedUrls: SitemapUrl[] = [];

  mark("template");
  // --- article pages ---
  // A published page never links to a draft: its neighbours and related articles are published ones. A draft preview
  // may link anywhere.
  const published = entries.filter((e) => !e.draft);
  const related = findRelated(published);
  const relatedOfDrafts = published.length < entries.length ? findRelated(entries) : related;
  const publishedIndex = new Map(published.map((e, i) => [e, i]));
  mark("related");
  const translations = _translations(entries, info);
  const bodies = new Map<ArticleEntry, string>();
  /** Draft slugs a published body linked to: their links became plain text (part of the page's memo key). */
  const unlinked = new Map<ArticleEntry, string[]>();
  for (const e of entries) {
    const key = e.hash;
    let cached = cache.prev.bodies[key];
    if (!cached) {
      const rendered = renderMarkdown(e.article.bodyMarkdown, { siteHost: info.host, title: e.article.title });
      cached = { html: rendered.html, removed: rendered.removed };
    }
    cache.next.bodies[key] = cached;
    for (const r of cached.removed) warnings.push(`${e.path}: removed ${r}`);
    if (e.draft || draftSlugs.size === 0) bodies.set(e, cached.html);
    else {
      const body = _unlinkDrafts(cached.html, info.blogPath, draftSlugs);
      bodies.set(e, body.html);
      if (body.unlinked.length > 0) unlinked.set(e, body.unlinked);
    }
  }
  mark("bodies");
  // Everything a generated page depends on besides its own content: layout, site settings.
  const layoutKey = _digest([
    createHash("sha256").update(template.page.bytes).digest("hex"),
    createHash("sha256").update(listingTemplate.page.bytes).digest("hex"),
    layouts.article.region,
    layouts.listing.region,
    info,
    cfg.contentSelector ?? "",
    cfg.navLink,
    RENDER_VERSION,
  ]);
  const link = (x: ArticleEntry | undefined) => (x ? [x.dir, x.article.title] : null);
  entries.forEach((e, i) => {
    const crumbs: Crumb[] = [
      { name: "Home", path: "" },
      { name: "Blog", path: blogDir },
      ...(e.category ? [{ name: e.category.name, path: `${blogDir}category/${e.category.slug}/` }] : []),
      { name: e.article.title, path: `${e.dir}/` },
    ];
    // Lists are newest first: the previous article is the next older one.
    const list = e.draft ? entries : published;
    const at = e.draft ? i : publishedIndex.get(e)!;
    const prev = list[at + 1];
    const next = list[at - 1];
    const rel = (e.draft ? relatedOfDrafts : related).get(e) ?? [];
    const alternates = translations.get(e);
    const memoKey = _digest([
      layoutKey,
      e.hash,
      link(prev),
      link(next),
      rel.map(link),
      alternates?.map((t) => [t.language, t.url]),
      unlinked.get(e),
    ]);
    const render = (): Buffer => {
      const body = renderArticleBody(info, e, bodies.get(e)!, crumbs, { prev, next }, rel);
      const head = renderHead(info, {
        title: `${e.article.title} | ${info.name}`,
        description: e.article.metaDescription,
        url: e.url,
        language: e.article.language,
        type: "article",
        crumbs,
        article: e,
        draft: e.draft,
        ...(alternates ? { alternates } : {}),
      });
      return renderFromTemplate(template, { dir: e.dir, language: e.article.language, head, body });
    };
    desired.set(e.path, { kind: "lazy", render, memoKey });
    // A draft preview is reachable from the drafts listing but never offered to search engines.
    if (!e.draft) generatedUrls.push({ loc: e.url, lastmod: isoWithOffset(e.modified) });
  });

  mark("article pages");
  // --- listings: blog index, categories, tags (published articles only), draft previews ---
  const listings: {
    base: string;
    heading: string;
    titleBase: string;
    description: string;
    crumbs: Crumb[];
    items: ArticleEntry[];
    withCategories?: boolean;
    drafts?: boolean;
  }[] = [];
  const blogCrumbs: Crumb[] = [
    { name: "Home", path: "" },
    { name: "Blog", path: blogDir },
  ];
  listings.push({
    base: blogDir,
    heading: "Blog",
    titleBase: `Blog | ${info.name}`,
    description: `Articles and news from ${info.name}.`,
    crumbs: blogCrumbs,
    items: published,
    withCategories: true,
  });
  const categories = _groupBy(published, (e) => (e.category ? [e.category] : []));
  const tags = _groupBy(published, (e) => e.tags);
  for (const { taxonomy, items } of categories) {
    listings.push({
      base: `${blogDir}category/${taxonomy.slug}/`,
      heading: `Category: ${taxonomy.name}`,
      titleBase: `${taxonomy.name} | Blog | ${info.name}`,
      description: `Articles about ${taxonomy.name} from ${info.name}.`,
      crumbs: [...blogCrumbs, { name: taxonomy.name, path: `${blogDir}category/${taxonomy.slug}/` }],
      items,
    });
  }
  for (const { taxonomy, items } of tags) {
    listings.push({
      base: `${blogDir}tag/${taxonomy.slug}/`,
      heading: `Articles tagged “${taxonomy.name}”`,
      titleBase: `Tagged “${taxonomy.name}” | Blog | ${info.name}`,
      description: `Articles tagged “${taxonomy.name}” from ${info.name}.`,
      crumbs: [...blogCrumbs, { name: `Tag: ${taxonomy.name}`, path: `${blogDir}tag/${taxonomy.slug}/` }],
      items,
    });
  }
  const draftEntries = entries.filter((e) => e.draft);
  const draftsDir = `${blogDir}${DRAFTS_FOLDER}/`;
  if (draftEntries.length > 0) {
    listings.push({
      base: draftsDir,
      heading: "Draft previews",
      titleBase: `Draft previews | Blog | ${info.name}`,
      description: `Draft articles of ${info.name}, not published yet.`,
      crumbs: [...blogCrumbs, { name: "Draft previews", path: draftsDir }],
      items: draftEntries,
      drafts: true,
    });
  }
  for (const l of listings) {
    for (const slice of paginate(l.base, l.items, info.perPage)) {
      const { path, number } = slice;
      const crumbs = number === undefined ? l.crumbs : [...l.crumbs, { name: `Page ${number}`, path }];
      const page: ListingPage = {
        ...slice,
        heading: number === undefined ? l.heading : `${l.heading} (page ${number})`,
        title: number === undefined ? l.titleBase : `Page ${number} | ${l.titleBase}`,
        description: number === undefined ? l.description : `${l.description} Page ${number}.`,
        crumbs,
        ...(l.withCategories && number === undefined
          ? { categories: categories.map((c) => ({ taxonomy: c.taxonomy, count: c.items.length })) }
          : {}),
        ...(l.withCategories && number === undefined && draftEntries.length > 0
          ? { drafts: { count: draftEntries.length, path: draftsDir } }
          : {}),
      };
      const url = absoluteUrl(info.baseUrl, path);
      const headInfo: HeadInfo = {
        title: page.title,
        description: page.description,
        url,
        language: info.language,
        type: "website",
        crumbs,
        pageType: "CollectionPage",
        ...(l.drafts ? { draft: true } : {}),
      };
      const dir = path.replace(/\/$/, "");
      // Keyed by what the page shows, so an archive page that still lists the same articles is not even rendered.
      const memoKey = _digest([
        layoutKey,
        headInfo,
        page.heading,
        page.newer,
        page.older,
        page.categories?.map((c) => [c.taxonomy, c.count]),
        page.drafts,
        page.entries.map((e) => [e.hash, e.dir]),
      ]);
      const render = (): Buffer =>
        renderFromTemplate(listingTemplate, {
          dir,
          language: info.language,
          head: renderHead(info, headInfo),
          body: renderListingBody(info, page),
        });
      desired.set(`${path}index.html`, { kind: "lazy", render, memoKey });
      if (l.drafts) continue;
      const lastmod = newest(page.entries.map((e) => e.modified));
      generatedUrls.push({ loc: url, ...(lastmod ? { lastmod: isoWithOffset(lastmod) } : {}) });
    }
  }

  mark("listings");
  // --- feeds ---
  // Feed readers have no robots meta to honour: drafts stay out of the feeds.
  const feedItems: FeedItem[] = published.slice(0, info.feedItems).map((e) => {
    const image = e.article.image
      ? `<p><img src="${_attr(absoluteUrl(info.baseUrl, e.article.image.url))}" alt="${_attr(e.article.image.alt)}"></p>\n`
      : "";
    return { entry: e, html: image + localizeUrls(bodies.get(e)!, (p) => absoluteUrl(info.baseUrl, p)) };
  });
  desired.set(`${blogDir}feed.xml`, { kind: "bytes", data: Buffer.from(renderRss(info, feedItems)) });
  desired.set(`${blogDir}atom.xml`, { kind: "bytes", data: Buffer.from(renderAtom(info, feedItems)) });

  // --- sitemap ---
  const existingSitemap = await _readExistingSitemap(site.paths.export, exportIndex, info.baseUrl);
  const sitemapFiles = buildSitemaps({
    existing: existingSitemap.sitemap,
    generated: generatedUrls,
    baseUrl: info.baseUrl,
    ownPrefix: absoluteUrl(info.baseUrl, blogDir),
    limit: cfg.sitemapLimit,
  });
  for (const f of sitemapFiles) desired.set(f.path, { kind: "bytes", data: Buffer.from(f.content) });

  // --- robots.txt ---
  const robotsSrc = exportIndex.get("robots.txt");
  const robotsBytes = robotsSrc ? await readFile(join(site.paths.export, "robots.txt")) : undefined;
  const robots = mergeRobots(robotsBytes, absoluteUrl(info.baseUrl, "sitemap.xml"));
  if (!(robotsSrc && robotsBytes && robots.equals(robotsBytes)))
    desired.set("robots.txt", { kind: "bytes", data: robots });

  mark("sitemap+robots");
  const outputFiles = await walkTree(site.paths.output);
  const outputIndex = new Map(outputFiles.map((f) => [f.path, f]));
  // --- the live site's own files ---
  for (const f of exportFiles) {
    if (desired.has(f.path)) continue;
    if (existingSitemap.ownFiles.has(f.path)) continue;
    if (f.path.startsWith(blogDir) && (await _isGenerated(site.paths.export, f))) continue; // a removed article
    if (isTempPath(f.path)) continue;
    if (cfg.navLink.enabled && /\.(?:html?|shtml|php)$/i.test(f.path)) {
      const edited = await _navEdit(
        site.paths.export,
        outputIndex.get(f.path),
        f,
        cfg,
        blogDir,
        info.baseUrl,
        cache,
        skipped,
      );
      desired.set(f.path, edited);
      continue;
    }
    desired.set(f.path, { kind: "copy", file: f });
  }
  for (const f of exportFiles) {
    if (
      f.path.startsWith(blogDir) &&
      desired.has(f.path) &&
      desired.get(f.path)!.kind === "bytes" &&
      !/\.xml$/.test(f.path)
    ) {
      if (!(await _isGenerated(site.paths.export, f)))
        warnings.push(
          `${f.path}: the live site's own page is replaced by a generated one (change enrich.blogPath to avoid this)`,
        );
    }
  }

  mark("plan");
  // --- apply ---
  const written: string[] = [];
  const removed: string[] = [];
  let unchanged = 0;
  // Most files are settled by what stat said (copies carry their source's size and mtime; generated pages match the
  // memo of their inputs): decided in one synchronous pass, so only real work goes through the I/O queue.
  const work: [string, Desired][] = [];
  /** Copies of the site's files, linked once every page is built. */
  const links: [string, Desired][] = [];
  for (const [path, want] of desired) {
    const have = outputIndex.get(path);
    if (want.kind === "keep") unchanged++;
    else if (want.kind === "copy" || want.kind === "nav-unchanged") {
      if (have && have.size === want.file.size && Math.abs(have.mtimeMs - want.file.mtimeMs) < 1) unchanged++;
      else if (dryRun) written.push(path);
      else links.push([path, want]);
    } else if (want.kind === "lazy") {
      // Same inputs as when this output file was written, and the file is as it was left: nothing to render.
      const memo = cache.prev.pages[path];
      if (memo && have && memo.key === want.memoKey && memo.outSize === have.size && memo.outMtimeMs === have.mtimeMs) {
        cache.next.pages[path] = memo;
        unchanged++;
      } else work.push([path, want]);
    } else work.push([path, want]);
  }
  mark("settled");
  // Every page is built before the first byte is written: a page that cannot be built stops the run with output/
  // as it was, never half-written.
  const rendered = new Map<string, Buffer>();
  for (const [path, want] of work) {
    if (want.kind !== "lazy") continue;
    try {
      rendered.set(path, want.render());
    } catch (error) {
      throw new SiteloomError(
        "ERR_ENRICH",
        `enrich: could not build ${path} from the layout ${template.path} (content region ${layouts.article.region.selector}): ${(error as Error).message}; nothing was written (see \`siteloom enrich ${site.name} --explain\`, and set enrich.contentSelector or enrich.template)`,
        { site: site.name, cause: error },
      );
    }
  }
  mark("rendered");
  // Changes go to a staging folder and reach output/ in one commit (see staging.ts): a run killed at any moment
  // leaves output/ old or new, never half of each.
  const staging = dryRun ? undefined : createOutputStaging(site.paths.output);
  try {
    for (const [path, want] of links) {
      if (staging!.link(join(site.paths.export, path), path)) written.push(path);
      else work.push([path, want]);
    }
    await forEachLimit(work, IO_CONCURRENCY, async ([path, want]) => {
      const have = outputIndex.get(path);
      if (want.kind === "keep") return;
      if (want.kind === "copy" || want.kind === "nav-unchanged") {
        written.push(path);
        await staging!.copy(join(site.paths.export, path), path, want.file.mtimeMs);
        return;
      }
      const data = want.kind === "lazy" ? rendered.get(path)! : want.data;
      let now: { size: number; mtimeMs: number } | undefined = have;
      if (have && have.size === data.length && (await readFile(join(site.paths.output, path))).equals(data))
        unchanged++;
      else {
        written.push(path);
        if (!staging) return;
        now = staging.write(path, data);
      }
      if (!staging || !now) return;
      if (want.kind === "lazy")
        cache.next.pages[path] = { key: want.memoKey, outSize: now.size, outMtimeMs: now.mtimeMs };
      if (want.kind === "bytes" && want.navKey) {
        cache.next.nav[want.navKey.path] = { ...want.navKey.entry, outSize: now.size, outMtimeMs: now.mtimeMs };
      }
    });
    written.sort();
    for (const f of outputFiles) {
      if (desired.has(f.path)) continue;
      removed.push(f.path);
      staging?.remove(f.path);
    }
    mark("staged");
    await staging?.commit(mark);
  } catch (error) {
    await staging?.abort();
    throw error;
  }
  mark("applied");
  if (!dryRun) await _saveCache(options.cacheFile, cache);

  const report: EnrichReport = {
    site: site.name,
    dryRun,
    template: template.path,
    listingTemplate: listingTemplate.path,
    contentSelector: cfg.contentSelector ?? layouts.article.region.selector,
    layout: { article: _explain(layouts.article), listing: _explain(layouts.listing) },
    encoding: layouts.article.source.mislabelled
      ? `${layouts.article.source.name} (declared utf-8)`
      : layouts.article.source.name,
    articles: { published: entries.filter((e) => !e.draft).length, drafts, invalid },
    written,
    unchanged,
    removed: removed.filter((p) => !isTempPath(p)),
    skipped,
    warnings,
    durationMs: Math.round(performance.now() - started),
  };
  log?.info({ site: site.name, written: written.length, unchanged, removed: removed.length }, "enrich done");
  return report;
}

// --- internal ---

/**
 * Bumped when generated HTML changes shape, so cached bodies are not reused across versions. The article schema's
 * version and field names are part of it: a cached body also means "these bytes passed the schema".
 */
const RENDER_VERSION = `4/${ARTICLE_SCHEMA_VERSION}/${Object.keys(ArticleSchema.shape).join(",")}`;
/** The href of a page's `<base>` element (pages declare it in their head). */
const BASE_HREF = /<base\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)/i;
/** Paths that suggest a page worth reading when learning the layout (posts, articles, listings). */
const LAYOUT_HINT = /(?:post|article|blog|news|archive)/i;
/** Folder of the draft previews' listing inside the blog (a reserved slug). */
const DRAFTS_FOLDER = "drafts";
/** Files read, written or copied at once. */
const IO_CONCURRENCY = 16;

type Desired =
  | { kind: "copy"; file: TreeFile }
  | { kind: "nav-unchanged"; file: TreeFile }
  | { kind: "bytes"; data: Buffer; navKey?: { path: string; entry: NavCacheEntry } }
  | { kind: "lazy"; render: () => Buffer; memoKey: string }
  /** Already right in output/ (checked against the cache by stat). */
  | { kind: "keep" };

interface NavCacheEntry {
  size: number;
  mtimeMs: number;
  config: string;
  outSize?: number;
  outMtimeMs?: number;
}

/** What one run leaves for the next; `prev` is read, `next` is filled with what is still in use and saved. */
interface Cache {
  prev: CacheData;
  next: CacheData;
}

interface CacheData {
  /** Rendered article bodies by article hash (a body here also means: these bytes passed the article schema). */
  bodies: Record<string, { html: string; removed: string[] }>;
  nav: Record<string, NavCacheEntry>;
  /** Generated pages: the inputs they were rendered from, and the output file's size and mtime then. */
  pages: Record<string, PageMemo>;
  /**
   * Article files as last read: size and mtime, hash, and the article without its Markdown (its body is in
   * `bodies`), so unchanged files are not read, parsed and hashed again.
   */
  articles: Record<string, { size: number; mtimeMs: number; hash: string; article: Article }>;
}

interface PageMemo {
  key: string;
  outSize: number;
  outMtimeMs: number;
}

async function _loadCache(file: string | undefined): Promise<Cache> {
  const empty = (): CacheData => ({ bodies: {}, nav: {}, pages: {}, articles: {} });
  if (!file) return { prev: empty(), next: empty() };
  try {
    const data = JSON.parse(await readFile(file, "utf8")) as Partial<CacheData> & { version?: string };
    if (data.version !== RENDER_VERSION) return { prev: empty(), next: empty() };
    return { prev: { ...empty(), ...data }, next: empty() };
  } catch {
    return { prev: empty(), next: empty() }; // a missing or damaged cache only costs time
  }
}

async function _saveCache(file: string | undefined, cache: Cache): Promise<void> {
  if (!file) return;
  await writeFileAtomic(file, JSON.stringify({ version: RENDER_VERSION, ...cache.next }), { syncDir: false });
}

function _siteInfo(site: RunEnrichOptions["site"]): SiteInfo {
  const cfg = site.config;
  let base = cfg.url ?? (cfg.domain ? `https://${cfg.domain}/` : undefined);
  if (!base) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `enrich: site "${site.name}" has neither url nor domain; set domain: example.com in sites/${site.name}/site.yaml`,
      { site: site.name },
    );
  }
  if (!base.endsWith("/")) base += "/";
  const url = new URL(base);
  const name = cfg.name ?? url.hostname.replace(/^www\./, "");
  const blogPath = cfg.enrich.blogPath.replace(/^\/+|\/+$/g, "");
  if (!blogPath || blogPath.split("/").some((p) => p === ".." || p === ".")) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `enrich.blogPath "${cfg.enrich.blogPath}" must be a folder inside the site, such as blog`,
    );
  }
  return {
    baseUrl: url.href,
    host: url.host,
    name,
    language: cfg.content.language,
    organization: {
      name: cfg.enrich.organization.name ?? name,
      ...(cfg.enrich.organization.logo ? { logo: cfg.enrich.organization.logo } : {}),
    },
    blogPath,
    languages: cfg.enrich.languages,
    perPage: cfg.enrich.perPage,
    feedItems: cfg.enrich.feedItems,
  };
}

async function _loadArticles(
  dir: string,
  info: SiteInfo,
  skipped: SkippedItem[],
  warnings: string[],
  previewDrafts: boolean,
  cache: Cache,
): Promise<{ entries: ArticleEntry[]; drafts: number; invalid: number; draftSlugs: Set<string> }> {
  const files = (await walkTree(dir)).filter((f) => !f.path.includes("/") && f.path.endsWith(".json"));
  const entries: ArticleEntry[] = [];
  const slugs = new Map<string, { file: string; draft: boolean }>();
  let drafts = 0;
  let invalid = 0;
  const draftSlugs = new Set<string>();
  const candidates: { f: TreeFile; hash: string; article: Article; draft: boolean }[] = [];
  for (const f of files) {
    // Same size and mtime as last time, and its body is cached: the file need not be read again.
    const known = cache.prev.articles[f.path];
    let hash: string;
    let article: Article;
    if (known && known.size === f.size && known.mtimeMs === f.mtimeMs && Object.hasOwn(cache.prev.bodies, known.hash)) {
      ({ hash, article } = known);
    } else {
      // Synchronous on purpose: a thousand small reads cost far less as plain calls than as promises.
      const bytes = readFileSync(join(dir, f.path));
      hash = createHash("sha256").update(RENDER_VERSION).update(info.host).update(bytes).digest("hex");
      try {
        const json: unknown = JSON.parse(bytes.toString("utf8"));
        // The same bytes passed the schema in an earlier run (their body is cached): checking again costs ~80 µs each.
        if (Object.hasOwn(cache.prev.bodies, hash)) article = json as Article;
        else {
          const parsed = ArticleSchema.safeParse(json);
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            skipped.push({
              path: `articles/${f.path}`,
              reason: `invalid article: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
            });
            invalid++;
            continue;
          }
          article = parsed.data;
        }
      } catch (error) {
        skipped.push({ path: `articles/${f.path}`, reason: `not valid JSON: ${(error as Error).message}` });
        invalid++;
        continue;
      }
    }
    if (article.status === "rejected") {
      skipped.push({ path: `articles/${f.path}`, reason: "rejected in review" });
      continue;
    }
    const draft = article.status !== "ready";
    if (draft) {
      drafts++;
      draftSlugs.add(article.slug);
      if (!previewDrafts) {
        skipped.push({ path: `articles/${f.path}`, reason: "draft (status is not ready)" });
        continue;
      }
    }
    candidates.push({ f, hash, article, draft });
    // The Markdown is only needed to render a body that is not cached, and then the file is read again.
    cache.next.articles[f.path] = { size: f.size, mtimeMs: f.mtimeMs, hash, article: { ...article, bodyMarkdown: "" } };
  }
  // Ready articles claim their slugs first: a draft preview never displaces a published article.
  candidates.sort((x, y) => Number(x.draft) - Number(y.draft));
  for (const { f, hash, article: loaded, draft } of candidates) {
    const holder = slugs.get(loaded.slug);
    if (holder) {
      if (holder.draft === draft) {
        // "First file name wins" would publish one of the two silently: the user has to choose.
        throw new SiteloomError(
          "ERR_ENRICH",
          `enrich: articles/${holder.file} and articles/${f.path} have the same slug "${loaded.slug}"; change the slug of one of them (or remove one)`,
        );
      }
      skipped.push({
        path: `articles/${f.path}`,
        reason: `duplicate slug "${loaded.slug}": the published articles/${holder.file} holds it`,
      });
      invalid++;
      continue;
    }
    slugs.set(loaded.slug, { file: f.path, draft });
    const article = _withSafeImage(loaded, `articles/${f.path}`, warnings);
    const entryDir = `${info.blogPath}/${article.slug}`;
    const reserved = ["page", "category", "tag", DRAFTS_FOLDER];
    if (reserved.includes(article.slug)) {
      skipped.push({ path: `articles/${f.path}`, reason: `slug "${article.slug}" is reserved for listing pages` });
      invalid++;
      continue;
    }
    const tags: Taxonomy[] = [];
    const seen = new Set<string>();
    for (const t of article.tags) {
      const slug = taxonomySlug(t);
      if (!seen.has(slug)) {
        seen.add(slug);
        tags.push({ name: t, slug });
      }
    }
    entries.push({
      article,
      hash,
      dir: entryDir,
      path: `${entryDir}/index.html`,
      url: absoluteUrl(info.baseUrl, `${entryDir}/`),
      published: article.publishedAt,
      modified: article.updatedAt ?? article.publishedAt,
      ...(article.category ? { category: { name: article.category, slug: taxonomySlug(article.category) } } : {}),
      tags,
      draft,
    });
  }
  // Newest first; the slug breaks ties so the order never depends on the file system.
  entries.sort(
    (a, b) => Date.parse(b.published) - Date.parse(a.published) || (a.article.slug < b.article.slug ? -1 : 1),
  );
  // A slug a published article holds is not a draft's, whatever a duplicate says.
  for (const e of entries) if (!e.draft) draftSlugs.delete(e.article.slug);
  return { entries, drafts, invalid, draftSlugs };
}

interface ChosenLayout {
  sample: LayoutSample;
  /** The layout page as UTF-8. */
  page: DecodedPage;
  /** The encoding the site wrote it in. */
  source: PageEncoding;
  kind: PageKind;
  why: string;
  region: LayoutRegion;
}

/**
 * Reads a handful of the site's pages and picks the layouts: for articles, a page that already is an article, else
 * a plain content page, the home page last; for listings, a listing-like page, else the article layout. The regions
 * are found by comparing each layout page with the others (`findLayoutRegion`). `enrich.template` and
 * `enrich.listingTemplate` pin the pages.
 */
async function _loadLayouts(
  site: RunEnrichOptions["site"],
  exportIndex: Map<string, TreeFile>,
  blogDir: string,
  skipped: SkippedItem[],
): Promise<{ article: ChosenLayout; listing: ChosenLayout }> {
  const cfg = site.config.enrich;
  const pinned = [cfg.template, cfg.listingTemplate]
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/^\/+/, ""));
  for (const p of pinned) {
    if (!exportIndex.has(p)) {
      throw new SiteloomError(
        "ERR_ENRICH",
        `enrich: template ${p} is not in ${site.paths.export}; fix enrich.template / enrich.listingTemplate in sites/${site.name}/site.yaml`,
        { site: site.name },
      );
    }
  }
  const html = [...exportIndex.values()].filter(
    (f) => pinned.includes(f.path) || (/\.html?$/i.test(f.path) && !f.path.startsWith(blogDir)),
  );
  const rank = (path: string): number => {
    const known = TEMPLATE_CANDIDATES.indexOf(path);
    if (pinned.includes(path)) return -1;
    if (known >= 0) return known;
    return 100 + path.split("/").length * 10 + (LAYOUT_HINT.test(path) ? 0 : 5);
  };
  const ordered = html.map((f) => f.path).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const samples: { sample: LayoutSample; page: DecodedPage; source: PageEncoding }[] = [];
  for (const path of ordered) {
    if (samples.length >= MAX_LAYOUT_SAMPLES) break;
    const bytes = await readFile(join(site.paths.export, path));
    const page = decodePage(bytes);
    if (page.text.includes(GENERATED_MARKER)) continue;
    if (cfg.skipServerSide && hasServerSideCode(page.text)) {
      if (pinned.includes(path)) {
        throw new SiteloomError(
          "ERR_ENRICH",
          `enrich: template ${path} contains server-side code (PHP/SSI); pick a static page with enrich.template or set enrich.skipServerSide: false`,
          { site: site.name },
        );
      }
      skipped.push({ path, reason: "not used as template: contains server-side code" });
      continue;
    }
    // New pages are UTF-8 whatever the layout page was written in: its text, its charset declaration changed.
    const utf8 = toUtf8Page(page);
    samples.push({ sample: { path, doc: parseHtml(utf8.text) }, page: utf8, source: page.encoding });
  }
  if (samples.length === 0) {
    throw new SiteloomError(
      "ERR_ENRICH",
      `enrich: no static HTML page in export/ to take the layout from; set enrich.template in sites/${site.name}/site.yaml`,
      { site: site.name },
    );
  }
  const kinds = new Map(samples.map((s) => [s, classifyPage(s.sample.path, s.sample.doc)]));
  const pick = (pin: string | undefined, score: (k: PageKind) => number, what: string) => {
    if (pin) {
      const s = samples.find((x) => x.sample.path === pin.replace(/^\/+/, ""))!;
      return { s, why: `set by enrich.${what === "listing" ? "listingTemplate" : "template"}` };
    }
    let best: (typeof samples)[number] | undefined;
    for (const s of samples) if (!best || score(kinds.get(s)!) > score(kinds.get(best)!)) best = s;
    return { s: best!, why: "" };
  };
  const build = (chosen: { s: (typeof samples)[number]; why: string }, fallbackWhy: string): ChosenLayout => {
    const kind = kinds.get(chosen.s)!;
    const peers = samples.filter((x) => x !== chosen.s).map((x) => x.sample);
    const region = findLayoutRegion(chosen.s.sample, peers, {
      contentSelector: cfg.contentSelector,
      keep: cfg.keep,
      remove: cfg.remove,
    });
    const why = chosen.why || (kind.signals.length > 0 ? kind.signals.join(", ") : fallbackWhy);
    return { sample: chosen.s.sample, page: chosen.s.page, source: chosen.s.source, kind, why, region };
  };
  // Article layout: article-like first; then a plain content page (not the home page, not a listing).
  const articlePick = pick(
    cfg.template,
    (k) => (k.article > 0 ? 100 + k.article : 0) - (k.listing > 0 ? 50 : 0) - (k.home ? 20 : 0),
    "article",
  );
  const article = build(articlePick, "a plain content page");
  // The home page lists articles too, but its hero and site-title h1 are the home page's own: another listing first.
  const listingScore = (k: PageKind) => k.listing - (k.article > 2 ? 1 : 0) - (k.home ? 2 : 0);
  const listingPick = cfg.listingTemplate
    ? pick(cfg.listingTemplate, listingScore, "listing")
    : (() => {
        const p = pick(undefined, listingScore, "listing");
        return kinds.get(p.s)!.listing > 0 && p.s !== articlePick.s ? p : undefined;
      })();
  const listing = listingPick ? build(listingPick, "a listing page") : article;
  return { article, listing };
}

/** The layout as `--explain` shows it. */
function _explain(l: ChosenLayout): LayoutExplanation {
  return {
    page: l.sample.path,
    why: l.why,
    region: l.region.selector,
    regionWhy: l.region.reason,
    chrome: l.region.chrome,
    pageSpecific: l.region.removed.map((r) => `${r.selector} (${r.why})`),
  };
}

/** Whether the navigation selector matches anything in the layout page. */
function _navFound(l: ChosenLayout, nav: NavLinkOptions): boolean {
  return findNavList(l.sample.doc, nav) !== undefined;
}

async function _readExistingSitemap(
  exportDir: string,
  exportIndex: Map<string, TreeFile>,
  baseUrl: string,
): Promise<{ sitemap: ExistingSitemap; ownFiles: Set<string> }> {
  const ownFiles = new Set<string>();
  if (!exportIndex.has("sitemap.xml")) return { sitemap: parseSitemap(undefined), ownFiles };
  const sitemap = parseSitemap(await readFile(join(exportDir, "sitemap.xml"), "utf8"));
  if (sitemap.kind !== "index") return { sitemap, ownFiles };
  // An index siteloom wrote last time (sitemap-N.xml files only): read those files back as the site's URL list.
  const ours = sitemap.sitemaps.map((s) => (s.loc.startsWith(baseUrl) ? s.loc.slice(baseUrl.length) : ""));
  if (ours.length > 0 && ours.every((p) => /^sitemap-\d+\.xml$/.test(p))) {
    const urls: SitemapUrl[] = [];
    for (const p of ours) {
      ownFiles.add(p);
      if (exportIndex.has(p)) urls.push(...parseSitemap(await readFile(join(exportDir, p), "utf8")).urls);
    }
    return { sitemap: { kind: "urlset", urls, sitemaps: [] }, ownFiles };
  }
  for (const s of sitemap.sitemaps) {
    const p = s.loc.startsWith(baseUrl) ? s.loc.slice(baseUrl.length) : "";
    if (/^sitemap-blog(?:-\d+)?\.xml$/.test(p)) ownFiles.add(p);
  }
  return { sitemap, ownFiles };
}

async function _isGenerated(exportDir: string, f: TreeFile): Promise<boolean> {
  if (/\.xml$/.test(f.path)) return /(?:^|\/)(?:feed|atom)\.xml$/.test(f.path);
  if (!/\.html?$/.test(f.path)) return false;
  const head = (await readFile(join(exportDir, f.path))).subarray(0, 64 * 1024).toString("latin1");
  return head.includes(GENERATED_MARKER);
}

/** The live site's page with the "Blog" link added to its navigation, or a copy when it needs no edit. */
async function _navEdit(
  exportDir: string,
  out: TreeFile | undefined,
  f: TreeFile,
  cfg: RunEnrichOptions["site"]["config"]["enrich"],
  blogDir: string,
  siteUrl: string,
  cache: Cache,
  skipped: SkippedItem[],
): Promise<Desired> {
  const configKey = _navConfigKey(cfg, blogDir);
  const prev = cache.prev.nav[f.path];
  if (prev && prev.size === f.size && prev.mtimeMs === f.mtimeMs && prev.config === configKey) {
    if (prev.outSize === undefined) {
      cache.next.nav[f.path] = prev;
      return { kind: "nav-unchanged", file: f };
    }
    // Edited last time: if the output is still what was written then, it is still right.
    if (out && out.size === prev.outSize && out.mtimeMs === prev.outMtimeMs) {
      cache.next.nav[f.path] = prev;
      return { kind: "keep" };
    }
  }
  const entry: NavCacheEntry = { size: f.size, mtimeMs: f.mtimeMs, config: configKey };
  // Synchronous: pages are small, and a promise per page left the CPU idle waiting on the thread pool.
  const page = decodePage(readFileSync(join(exportDir, f.path)));
  if (cfg.skipServerSide && hasServerSideCode(page.text)) {
    skipped.push({ path: f.path, reason: "server-side code (PHP/SSI): navigation left as it is" });
    cache.next.nav[f.path] = entry;
    return { kind: "nav-unchanged", file: f };
  }
  // Under a <base href>, the link is relative to the base, not to the page's folder.
  const baseHref = BASE_HREF.exec(page.text.slice(0, 8192))?.[1];
  const base = baseHref === undefined ? undefined : resolveBase(baseHref, f.path, siteUrl);
  if (base && "absolute" in base) {
    skipped.push({ path: f.path, reason: "its <base href> points outside the site: navigation left as it is" });
    cache.next.nav[f.path] = entry;
    return { kind: "nav-unchanged", file: f };
  }
  const dir = base ? base.dir : dirOf(f.path);
  const ins = findNavInsertionFast(page.text, dir, {
    label: cfg.navLink.label,
    selector: cfg.navLink.selector,
    blogDir,
  });
  if (!ins) {
    cache.next.nav[f.path] = entry;
    return { kind: "nav-unchanged", file: f };
  }
  if (!canSpliceBytes(page)) {
    skipped.push({
      path: f.path,
      reason: `its ${page.encoding.name} bytes do not decode and encode back the same: navigation left as it is`,
    });
    cache.next.nav[f.path] = entry;
    return { kind: "nav-unchanged", file: f };
  }
  const data = spliceBytes(page, [navLinkEdit(ins, dir, { label: cfg.navLink.label, blogDir })]);
  return { kind: "bytes", data, navKey: { path: f.path, entry } };
}

/**
 * What a navigation edit depends on besides the page, as a short digest: it is stored with every page's cache entry,
 * so the settings' full text would make most of the cache (4 MB of 6 on a site of 10,000 pages).
 */
function _navConfigKey(cfg: RunEnrichOptions["site"]["config"]["enrich"], blogDir: string): string {
  const text = JSON.stringify([
    cfg.navLink.label,
    cfg.navLink.selector ?? "",
    blogDir,
    cfg.skipServerSide,
    RENDER_VERSION,
  ]);
  let key = NAV_CONFIG_KEYS.get(text);
  if (key === undefined) {
    key = _digest(text).slice(0, 16);
    NAV_CONFIG_KEYS.set(text, key);
  }
  return key;
}

const NAV_CONFIG_KEYS = new Map<string, string>();

function _groupBy(
  entries: ArticleEntry[],
  keys: (e: ArticleEntry) => Taxonomy[],
): { taxonomy: Taxonomy; items: ArticleEntry[] }[] {
  const groups = new Map<string, { taxonomy: Taxonomy; items: ArticleEntry[] }>();
  for (const e of entries) {
    for (const t of keys(e)) {
      const g = groups.get(t.slug) ?? { taxonomy: t, items: [] };
      g.items.push(e);
      groups.set(t.slug, g);
    }
  }
  return [...groups.values()].sort((a, b) => a.taxonomy.name.localeCompare(b.taxonomy.name));
}

/**
 * A published article never links to a draft, also not from its text (generated articles link to each other): links
 * to a draft's page become their plain text. Bodies are sanitised HTML, so `<a href="...">` is written one way only.
 */
function _unlinkDrafts(html: string, blogPath: string, drafts: Set<string>): { html: string; unlinked: string[] } {
  const unlinked: string[] = [];
  const prefix = `href="/${blogPath}/`;
  if (!html.includes(prefix)) return { html, unlinked };
  const out = html.replace(/<a\b[^>]*?\bhref="\/([^"]*)"[^>]*>([\s\S]*?)<\/a>/g, (link, path: string, text: string) => {
    const slug = path.startsWith(`${blogPath}/`) ? path.slice(blogPath.length + 1).split(/[/?#]/)[0]! : "";
    if (!drafts.has(slug)) return link;
    unlinked.push(slug);
    return text;
  });
  return { html: out, unlinked };
}

/** sha256 of a JSON-able value: the memo key of a generated file's inputs. */
function _digest(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

/**
 * Published translations of each article (articles sharing a `translationKey`), itself included, when the site
 * configures languages; hreflang pairs them both ways.
 */
function _translations(entries: ArticleEntry[], info: SiteInfo): Map<ArticleEntry, Alternate[]> {
  const out = new Map<ArticleEntry, Alternate[]>();
  if (info.languages.length === 0) return out;
  const groups = new Map<string, ArticleEntry[]>();
  for (const e of entries) {
    const key = e.article.translationKey;
    if (!key || e.draft) continue;
    const group = groups.get(key) ?? [];
    group.push(e);
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const byLanguage = new Map<string, ArticleEntry>();
    // One page per language: the newest wins when two claim the same language (entries are newest first).
    for (const e of group) if (!byLanguage.has(e.article.language)) byLanguage.set(e.article.language, e);
    if (byLanguage.size < 2) continue;
    const alternates = [...byLanguage.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([language, e]) => ({ language, url: e.url }));
    for (const e of byLanguage.values()) out.set(e, alternates);
  }
  return out;
}

/** The article with its image URL checked: http(s) or a site path, else the image is left out (and reported). */
function _withSafeImage(article: Article, file: string, warnings: string[]): Article {
  if (!article.image) return article;
  const url = safeUrl(article.image.url, IMAGE_SCHEMES);
  if (url === undefined) {
    warnings.push(
      `${file}: image left out: its url ${JSON.stringify(article.image.url)} is neither http(s) nor a site path`,
    );
    const { image: _dropped, ...rest } = article;
    return rest;
  }
  return url === article.image.url ? article : { ...article, image: { ...article.image, url } };
}

function _attr(text: string): string {
  return text.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);
}

export { CONTENT_SELECTORS, type Template };
