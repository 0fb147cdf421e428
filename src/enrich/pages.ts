import { escapeHtml } from "./html.ts";
import { type ArticleEntry, humanDate, isoWithOffset, type SiteInfo, type Taxonomy } from "./model.ts";
import type { Crumb } from "./seo.ts";

/** A listing page (blog index, a category or a tag), one page of its pagination. */
export interface ListingPage {
  /** Site folder of this page ("blog/", "blog/page/2/"). */
  path: string;
  heading: string;
  title: string;
  description: string;
  crumbs: Crumb[];
  entries: ArticleEntry[];
  /** Site folder of the page with newer articles ("blog/page/3/", or the front page), when there is one. */
  newer?: string | undefined;
  /** Site folder of the page with older articles, when there is one. */
  older?: string | undefined;
  /** Archive page number (counted from the oldest); undefined on the front page. */
  number?: number | undefined;
  /** Categories listed under the articles (blog index only). */
  categories?: { taxonomy: Taxonomy; count: number }[];
  /** Draft previews exist: the blog index says so and links to their (noindex) listing. */
  drafts?: { count: number; path: string } | undefined;
}

/** One page of a listing as `paginate` lays it out. */
export interface ListingSlice {
  path: string;
  entries: ArticleEntry[];
  number?: number | undefined;
  newer?: string | undefined;
  older?: string | undefined;
}

/**
 * Stable pagination: archive pages are numbered from the oldest article, so `page/N/` always holds the same
 * articles and a new article changes only the front page (and, once the front page overflows, adds the next archive
 * page). The front page shows the newest articles plus the overflow: `perPage` to `2 × perPage − 1` of them.
 * `items` are newest first; so is every page.
 */
export function paginate(base: string, items: ArticleEntry[], perPage: number): ListingSlice[] {
  const archived = Math.max(0, Math.floor(items.length / perPage) - 1);
  const front = items.length - archived * perPage;
  const slices: ListingSlice[] = [
    { path: base, entries: items.slice(0, front), older: archived > 0 ? listingPath(base, archived) : undefined },
  ];
  for (let n = archived; n >= 1; n--) {
    // Page n holds the n-th group of perPage articles, counted from the oldest.
    const end = items.length - (n - 1) * perPage;
    slices.push({
      path: listingPath(base, n),
      entries: items.slice(end - perPage, end),
      number: n,
      newer: n === archived ? base : listingPath(base, n + 1),
      older: n > 1 ? listingPath(base, n - 1) : undefined,
    });
  }
  return slices;
}

/** Body of an article page; site links are root-relative ("/blog/"), made relative per page later. */
export function renderArticleBody(
  site: SiteInfo,
  entry: ArticleEntry,
  bodyHtml: string,
  crumbs: Crumb[],
  neighbours: { prev?: ArticleEntry | undefined; next?: ArticleEntry | undefined },
  related: ArticleEntry[],
): string {
  const a = entry.article;
  const out: string[] = [];
  out.push(renderCrumbs(crumbs));
  out.push(`<article class="sl-article">`);
  if (entry.draft) out.push(DRAFT_NOTICE);
  const meta = [
    `<time datetime="${escapeHtml(isoWithOffset(a.publishedAt))}">${escapeHtml(humanDate(a.publishedAt, a.language))}</time>`,
    `${a.readingTimeMinutes} min read`,
  ];
  if (a.author) meta.push(`by ${escapeHtml(a.author)}`);
  out.push(`<header>\n<h1>${escapeHtml(a.title)}</h1>\n<p class="sl-meta">${meta.join(" · ")}</p>\n</header>`);
  if (a.image) {
    const size = a.image.width && a.image.height ? ` width="${a.image.width}" height="${a.image.height}"` : "";
    out.push(
      `<figure class="sl-image"><img src="${escapeHtml(_rooted(a.image.url))}" alt="${escapeHtml(a.image.alt)}"${size}></figure>`,
    );
  }
  out.push(bodyHtml);
  if (a.faq.length > 0) {
    out.push(`<section class="sl-faq">\n<h2>Frequently asked questions</h2>`);
    for (const item of a.faq) out.push(`<h3>${escapeHtml(item.question)}</h3>\n<p>${escapeHtml(item.answer)}</p>`);
    out.push("</section>");
  }
  const taxonomy: string[] = [];
  if (entry.category) {
    taxonomy.push(
      `Category: <a href="/${site.blogPath}/category/${entry.category.slug}/">${escapeHtml(entry.category.name)}</a>`,
    );
  }
  if (entry.tags.length > 0) {
    const links = entry.tags.map(
      (t) => `<a href="/${site.blogPath}/tag/${t.slug}/" rel="tag">${escapeHtml(t.name)}</a>`,
    );
    taxonomy.push(`Tags: ${links.join(", ")}`);
  }
  if (taxonomy.length > 0) out.push(`<p class="sl-tags">${taxonomy.join(". ")}</p>`);
  out.push("</article>");
  if (neighbours.prev || neighbours.next) {
    out.push(`<nav class="sl-prevnext-nav" aria-label="More articles">\n<ul class="sl-prevnext">`);
    if (neighbours.prev) {
      out.push(
        `<li>Previous article: <a href="/${neighbours.prev.dir}/" rel="prev">${escapeHtml(neighbours.prev.article.title)}</a></li>`,
      );
    }
    if (neighbours.next) {
      out.push(
        `<li>Next article: <a href="/${neighbours.next.dir}/" rel="next">${escapeHtml(neighbours.next.article.title)}</a></li>`,
      );
    }
    out.push("</ul>\n</nav>");
  }
  if (related.length > 0) {
    out.push(`<aside class="sl-related">\n<h2>Related articles</h2>\n<ul>`);
    for (const r of related) out.push(`<li><a href="/${r.dir}/">${escapeHtml(r.article.title)}</a></li>`);
    out.push("</ul>\n</aside>");
  }
  return `\n${out.join("\n")}\n`;
}

/** Body of a listing page: heading, excerpts with dates, pagination, feed links. */
export function renderListingBody(site: SiteInfo, page: ListingPage): string {
  const out: string[] = [renderCrumbs(page.crumbs), `<h1>${escapeHtml(page.heading)}</h1>`];
  if (page.entries.length === 0) out.push("<p>No articles yet.</p>");
  else {
    out.push(`<ol class="sl-posts">`);
    for (const e of page.entries) {
      const a = e.article;
      out.push(
        `<li><article>\n<h2><a href="/${e.dir}/">${escapeHtml(a.title)}</a>${e.draft ? DRAFT_LABEL : ""}</h2>\n` +
          `<p class="sl-meta"><time datetime="${escapeHtml(isoWithOffset(a.publishedAt))}">${escapeHtml(humanDate(a.publishedAt, a.language))}</time> · ${a.readingTimeMinutes} min read</p>\n` +
          `<p>${escapeHtml(a.excerpt)}</p>\n</article></li>`,
      );
    }
    out.push("</ol>");
  }
  if (page.newer || page.older) {
    out.push(`<nav class="sl-pager-nav" aria-label="Pagination">\n<ul class="sl-pager">`);
    if (page.newer) out.push(`<li><a href="/${page.newer}" rel="prev">Newer articles</a></li>`);
    if (page.number !== undefined) out.push(`<li>Page ${page.number}</li>`);
    if (page.older) out.push(`<li><a href="/${page.older}" rel="next">Older articles</a></li>`);
    out.push("</ul>\n</nav>");
  }
  if (page.drafts) {
    // Only a listing of previews is linked (nofollow), never a draft itself: published pages do not point at drafts.
    out.push(
      `<p class="sl-drafts-link">${page.drafts.count} draft preview(s), not published: <a href="/${page.drafts.path}" rel="nofollow">draft previews</a></p>`,
    );
  }
  if (page.categories && page.categories.length > 0) {
    out.push(`<h2>Categories</h2>\n<ul class="sl-categories">`);
    for (const c of page.categories) {
      out.push(
        `<li><a href="/${site.blogPath}/category/${c.taxonomy.slug}/">${escapeHtml(c.taxonomy.name)}</a> (${c.count})</li>`,
      );
    }
    out.push("</ul>");
  }
  out.push(
    `<p class="sl-feeds">Follow the blog: <a href="/${site.blogPath}/feed.xml">RSS feed</a>, <a href="/${site.blogPath}/atom.xml">Atom feed</a></p>`,
  );
  return `\n${out.join("\n")}\n`;
}

/** Breadcrumb navigation; the last crumb is the current page and is not a link. */
export function renderCrumbs(crumbs: Crumb[]): string {
  const items = crumbs.map((c, i) =>
    i === crumbs.length - 1
      ? `<li aria-current="page">${escapeHtml(c.name)}</li>`
      : `<li><a href="/${c.path}">${escapeHtml(c.name)}</a></li>`,
  );
  return `<nav class="sl-crumbs" aria-label="Breadcrumb">\n<ol>\n${items.join("\n")}\n</ol>\n</nav>`;
}

/** Site folder of archive page `n` of a listing whose front page is `base` ("blog/" → "blog/page/2/"). */
export function listingPath(base: string, n: number): string {
  return `${base}page/${n}/`;
}

/**
 * Related articles: shared tags weigh most, then category, then keywords; on ties the article closest in publication
 * date wins (then the newer one), so a new article enters the related blocks of its contemporaries only, not of every
 * article sharing a tag.
 */
export function findRelated(entries: ArticleEntry[], limit = 3): Map<ArticleEntry, ArticleEntry[]> {
  // Terms are computed once per article: this runs over every pair that shares one.
  const terms = new Map<ArticleEntry, [string, number][]>();
  const byTerm = new Map<string, number[]>();
  const published = entries.map((e) => Date.parse(e.published));
  entries.forEach((e, i) => {
    const list: [string, number][] = [
      ...e.tags.map((t): [string, number] => [`t:${t.slug}`, 3]),
      ...(e.category ? [[`c:${e.category.slug}`, 2] as [string, number]] : []),
      ...e.article.keywords.map((k): [string, number] => [`k:${k.toLowerCase()}`, 1]),
    ];
    terms.set(e, list);
    for (const [term] of list) {
      const peers = byTerm.get(term);
      if (peers) peers.push(i);
      else byTerm.set(term, [i]);
    }
  });
  const result = new Map<ArticleEntry, ArticleEntry[]>();
  // One score array reused for every article, with the list of indexes it touched: far cheaper than a Map each.
  const scores = new Float64Array(entries.length);
  const touched: number[] = [];
  entries.forEach((e, i) => {
    for (const [term, weight] of terms.get(e)!) {
      const peers = byTerm.get(term)!;
      // Very common terms say little and would make this quadratic; skip them.
      if (peers.length > 200) continue;
      for (const j of peers) {
        if (j === i) continue;
        if (scores[j] === 0) touched.push(j);
        scores[j] = scores[j]! + weight;
      }
    }
    // Top `limit` in one pass over the candidates, without sorting them all.
    const better = (j: number, k: number): boolean => {
      if (scores[j] !== scores[k]) return scores[j]! > scores[k]!;
      const dj = Math.abs(published[j]! - published[i]!);
      const dk = Math.abs(published[k]! - published[i]!);
      if (dj !== dk) return dj < dk;
      return published[j] !== published[k] ? published[j]! > published[k]! : j < k;
    };
    const top: number[] = [];
    for (const j of touched) {
      if (top.length === limit && !better(j, top[limit - 1]!)) continue;
      let at = Math.min(top.length, limit - 1);
      while (at > 0 && better(j, top[at - 1]!)) at--;
      top.splice(at, 0, j);
      if (top.length > limit) top.pop();
    }
    for (const j of touched) scores[j] = 0;
    touched.length = 0;
    const ranked = top.map((j) => entries[j]!);
    result.set(e, ranked);
  });
  return result;
}

// --- internal ---

/** Shown at the top of a draft preview; role="note" lets screen readers announce it as an aside to the content. */
const DRAFT_NOTICE =
  `<div class="sl-draft" role="note" aria-label="Draft">\n` +
  "<p><strong>Draft — sample content.</strong> This article has not been reviewed and is not published yet; " +
  "search engines are asked not to index this page.</p>\n</div>";

/** After a draft's title in listings. */
const DRAFT_LABEL = ` <small class="sl-draft-label">(Draft — sample content)</small>`;

function _rooted(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("/")) return url;
  return `/${url}`;
}
