import { SiteloomError } from "../errors.ts";
import {
  getAttr,
  type HtmlDocument,
  type HtmlElement,
  innerRange,
  outerRange,
  parseSelector,
  querySelector,
  querySelectorAll,
  textContent,
  walkElements,
} from "./html.ts";

/** A page of the site read for learning its layout. */
export interface LayoutSample {
  path: string;
  doc: HtmlDocument;
}

/** Overrides of the layout model (enrich.contentSelector, keep, remove). */
export interface LayoutOverrides {
  contentSelector?: string | undefined;
  /** Selectors of elements never treated as page-specific. */
  keep?: string[] | undefined;
  /** Selectors of elements left out of generated pages. */
  remove?: string[] | undefined;
}

/** What the layout model found in one page: where the article goes and what is left out. */
export interface LayoutRegion {
  /** Character range of the page text replaced by the article. */
  content: { start: number; end: number };
  /** Selector of the element holding the content (put it in enrich.contentSelector to pin it). */
  selector: string;
  /** Why this region. */
  reason: string;
  /** Parts of the page outside the region that belong to that page (a masthead, its own title): left out. */
  removed: { selector: string; range: { start: number; end: number }; why: string }[];
  /** Parts the pages share (header, navigation, footer, sidebars): kept as they are. */
  chrome: string[];
  /**
   * Links of the shared parts that lead somewhere else on each page (previous/next, pagination): the layout page's
   * state, not the article's. Ranges of their `href` and `rel` attributes, dropped on generated pages.
   */
  stateLinks: { start: number; end: number }[];
}

/** How a page looks as a layout: an article, a listing, a plain page or the home page; with the signals seen. */
export interface PageKind {
  article: number;
  listing: number;
  home: boolean;
  signals: string[];
}

/** Pages read when learning the layout (more only costs time: chrome is what a handful of pages share). */
export const MAX_LAYOUT_SAMPLES = 16;

/** Judges how article-like and listing-like a page is, from its path and its markup. */
export function classifyPage(path: string, doc: HtmlDocument): PageKind {
  const signals: string[] = [];
  let article = 0;
  let listing = 0;
  const home = /^(?:index\.html?)?$/i.test(path);
  const folder = path.replace(/(?:^|\/)index\.html?$/i, "");
  const articles = querySelectorAll(doc, "article").filter((a) => !_insideTag(doc, a, "aside"));
  if (ARTICLE_PATH.test(path) && !LISTING_PATH.test(folder)) {
    article += 2;
    signals.push("its path names a post or article");
  }
  if (articles.length === 1) {
    article += 2;
    signals.push("it holds one <article>");
  }
  if (articles.length >= 2) {
    listing += 3;
    signals.push(`it lists ${articles.length} <article> elements`);
  }
  if (
    LISTING_PATH.test(folder) ||
    TAXONOMY_PATH.test(folder) ||
    /(?:^|\/)(?:blog|news|posts|archive)\.html?$/i.test(path)
  ) {
    listing += 2;
    signals.push("its path names a blog, news or archive listing");
  }
  for (const script of querySelectorAll(doc, "script")) {
    if ((getAttr(script, "type") ?? "").toLowerCase() !== "application/ld+json") continue;
    if (/"@type"\s*:\s*"(?:BlogPosting|Article|NewsArticle|TechArticle)"/.test(textContent(script))) {
      article += 3;
      signals.push("its JSON-LD is a BlogPosting/Article");
      break;
    }
  }
  for (const meta of querySelectorAll(doc, "meta")) {
    if (getAttr(meta, "property") === "og:type" && getAttr(meta, "content") === "article") {
      article += 2;
      signals.push('its og:type is "article"');
      break;
    }
  }
  const dated = querySelectorAll(doc, "time").length > 0;
  const byline = [...walkElements(doc)].some(
    ([el]) =>
      getAttr(el, "rel") === "author" ||
      getAttr(el, "itemprop") === "author" ||
      /\b(?:byline|post-meta|entry-meta|author)\b/.test(getAttr(el, "class") ?? ""),
  );
  if ((dated || byline) && articles.length < 2) {
    article += 1;
    signals.push(dated ? "it shows a date" : "it has a byline");
  }
  if (home) signals.push("it is the home page");
  return { article: home ? article - 3 : article, listing, home, signals };
}

/**
 * Finds where the article goes in `page`, by comparing it with `peers` (other pages of the site): what every page
 * shares is the site's chrome; what differs is page content. From <body> down, the model follows the one child that
 * holds the page's own content while it is a wrapper every page shares (`.container > .row > .col-*`), so the article
 * keeps the theme's column; chrome met on the way (a navbar inside <main>, a sidebar) stays; a page-specific part
 * beside the content (a masthead with the page's own title) is left out. `contentSelector` pins the region.
 */
export function findLayoutRegion(
  page: LayoutSample,
  peers: LayoutSample[],
  overrides: LayoutOverrides = {},
): LayoutRegion {
  const region = _findRegion(page, peers, overrides);
  return { ...region, stateLinks: _stateLinks(page, peers, region) };
}

/** Whether a class name marks "you are here" (the current page's menu item). */
export function isActiveClass(name: string): boolean {
  return ACTIVE.test(name);
}

/** A navigation: <nav>, role="navigation", or a navbar/menu by its class (themes that use <div class="navbar">). */
export function isNavLike(el: HtmlElement): boolean {
  if (el.tagName === "nav" || getAttr(el, "role") === "navigation") return true;
  return (getAttr(el, "class") ?? "").split(/\s+/).some((c) => NAV_CLASSES.has(c.toLowerCase()));
}

function _findRegion(
  page: LayoutSample,
  peers: LayoutSample[],
  overrides: LayoutOverrides,
): Omit<LayoutRegion, "stateLinks"> {
  const keep = (overrides.keep ?? []).flatMap((s) => querySelectorAll(page.doc, s));
  const removed: LayoutRegion["removed"] = [];
  for (const s of overrides.remove ?? []) {
    for (const el of querySelectorAll(page.doc, s)) {
      const range = outerRange(el);
      if (range) removed.push({ selector: s, range, why: "enrich.remove" });
    }
  }
  if (overrides.contentSelector) {
    const el = querySelector(page.doc, overrides.contentSelector);
    const content = el ? innerRange(el) : undefined;
    if (!el || !content) {
      throw new SiteloomError(
        "ERR_ENRICH",
        `enrich: template ${page.path} has no element matching "${overrides.contentSelector}" with both tags written out; fix enrich.contentSelector`,
      );
    }
    return _finish({
      content,
      selector: overrides.contentSelector,
      reason: "enrich.contentSelector",
      removed,
      chrome: [],
    });
  }
  const body = querySelector(page.doc, "body");
  if (!body) throw new SiteloomError("ERR_ENRICH", `enrich: template ${page.path} has no <body>; pick another page`);
  if (peers.length === 0) return _fallback(page, removed);

  const chrome: string[] = [];
  let cur = body;
  let curPeers = peers.map((p) => querySelector(p.doc, "body")).filter((b): b is HtmlElement => b !== undefined);
  let reason = "what differs from the site's other pages";
  for (;;) {
    const kids = _elementChildren(cur).filter((k) => !IGNORED.has(k.tagName));
    const judged = kids.map((kid) => {
      const matches = curPeers.map((p) => _counterpart(kid, cur, p));
      const found = matches.filter((m): m is HtmlElement => m !== undefined);
      const text = _text(kid);
      const same = found.length > 0 && found.length === curPeers.length && found.every((m) => _text(m) === text);
      // <main> on most pages is the wrapper even where a template wraps it differently (a block theme's archive).
      const shared =
        found.length === curPeers.length || (LANDMARKS.has(kid.tagName) && found.length * 2 > curPeers.length);
      return { kid, matches, found, same: same || keep.includes(kid), shared };
    });
    for (const j of judged) if (j.same) chrome.push(selectorOf(j.kid));
    const differing = judged.filter((j) => !j.same);
    if (differing.length === 0) break;
    const best = differing.reduce((a, b) => (_score(b.kid) > _score(a.kid) ? b : a));
    const bestText = _text(best.kid).length;
    const allText = differing.reduce((n, j) => n + _text(j.kid).length, 0);
    // Several parts differ: follow the biggest only when every page has it (a wrapper such as <main> or the
    // section holding the column); the rest here is then this page's own (a masthead, a hero).
    const wrapper =
      WRAPPERS.has(best.kid.tagName) &&
      (differing.length === 1 ||
        ((best.shared || _isContentLike(best.kid)) &&
          (_isContentLike(best.kid) || bestText >= 0.5 * allText) &&
          bestText > 0));
    if (!wrapper) break;
    // The content sits in `best`: what else differs here belongs to this page only (a masthead, a hero).
    for (const j of differing) {
      if (j === best) continue;
      _leaveOut(j.kid, j.found, removed, chrome, keep);
    }
    if (!best.shared) {
      if (best.kid.tagName === "article" && _contentChild(best.kid)) {
        // The page's own <article> with a content wrapper (WordPress's .entry-content): the article goes there, so
        // it keeps the theme's column; the page's title and meta beside it are left out. No peer has this element.
        cur = best.kid;
        curPeers = [];
        reason = "the content wrapper of the page's own <article>";
        continue;
      }
      const column = best.kid.tagName === "article" ? _columnIn(best.kid) : undefined;
      const tags = best.kid.sourceCodeLocation;
      const inner = column && innerRange(column);
      if (inner && tags?.startTag && tags.endTag) {
        // The page's own <article> around the theme's column (`.container > .row > .col-*`): the column stays and
        // the generated article fills it; the <article> tags go (no <article> nested in another).
        const why = "the page's own <article> (its column stays)";
        for (const t of [tags.startTag, tags.endTag]) {
          removed.push({ selector: selectorOf(best.kid), range: { start: t.startOffset, end: t.endOffset }, why });
        }
        return _finish({
          content: inner,
          selector: selectorOf(column),
          reason: "the theme's column inside the page's own <article>",
          removed,
          chrome: [...new Set(chrome)],
        });
      }
      if (best.kid.tagName === "article") {
        // The page's own <article>: the generated article takes its place (no <article> nested in another).
        const range = outerRange(best.kid);
        if (range) {
          return _finish({
            content: range,
            selector: selectorOf(best.kid),
            reason: "the page's own <article> is replaced",
            removed,
            chrome: [...new Set(chrome)],
          });
        }
      }
      // Only some pages have this element: it is the content itself; fill it, keeping its own tag and classes.
      cur = best.kid;
      reason = "the page's own content element (not on every page)";
      break;
    }
    cur = best.kid;
    curPeers = best.found;
    reason = "the innermost wrapper every page's content shares";
  }
  // Chrome inside the region (a navbar inside <main>, a sidebar) stays: only the span of differing children goes.
  const kids = _elementChildren(cur).filter((k) => !IGNORED.has(k.tagName));
  const sameKids = new Set(
    kids.filter((k) => {
      if (keep.includes(k)) return true;
      const found = curPeers.map((p) => _counterpart(k, cur, p));
      return curPeers.length > 0 && found.every((m) => m !== undefined && _text(m) === _text(k));
    }),
  );
  const inner = innerRange(cur);
  if (!inner) return _fallback(page, removed);
  let content = inner;
  if (sameKids.size > 0 && cur !== body) {
    const runs: HtmlElement[][] = [];
    let run: HtmlElement[] = [];
    for (const k of kids) {
      if (sameKids.has(k)) {
        if (run.length > 0) runs.push(run);
        run = [];
      } else run.push(k);
    }
    if (run.length > 0) runs.push(run);
    const longest = runs.reduce<HtmlElement[] | undefined>(
      (a, b) => (!a || _runText(b) > _runText(a) ? b : a),
      undefined,
    );
    if (longest) {
      content = { start: outerRange(longest[0]!)!.start, end: outerRange(longest[longest.length - 1]!)!.end };
      for (const r of runs) if (r !== longest) for (const k of r) _leaveOut(k, [], removed, chrome, keep);
      for (const k of sameKids) chrome.push(selectorOf(k));
      reason += "; its shared parts stay";
    } else {
      content = { start: inner.end, end: inner.end };
    }
  } else if (cur === body) {
    return _fallback(page, removed);
  }
  return _finish({ content, selector: selectorOf(cur), reason, removed, chrome: [...new Set(chrome)] });
}

/** A selector naming `el` by its tag, id and classes under its ancestors (what enrich.contentSelector accepts). */
export function selectorOf(el: HtmlElement): string {
  const parts: string[] = [];
  for (let node: HtmlElement | undefined = el; node && node.tagName !== "body" && node.tagName !== "html"; ) {
    const id = getAttr(node, "id");
    const classes = (getAttr(node, "class") ?? "").split(/\s+/).filter((c) => /^[\w-]+$/.test(c) && !ACTIVE.test(c));
    parts.unshift(`${node.tagName}${id && /^[\w-]+$/.test(id) ? `#${id}` : ""}${classes.map((c) => `.${c}`).join("")}`);
    const parent = node.parentNode as HtmlElement | null;
    node = parent && "tagName" in parent ? parent : undefined;
  }
  return parts.join(" ") || "body";
}

// --- internal ---

const ARTICLE_PATH =
  /(?:^|\/)(?:posts?|articles?|blog|news|\d{4})\/|(?:^|\/)\d{4}-\d{2}-\d{2}-|(?:post|article)s?\.html?$/i;
/** A category or tag archive (WordPress's /category/<name>/, Hugo's /tags/<name>/). */
const TAXONOMY_PATH = /(?:^|\/)(?:category|categories|tags?)\/[^/]+(?:\/page\/\d+)?$/i;
const LISTING_PATH = /(?:^|\/)(?:blog|news|posts|articles|archives?|category|tags?)(?:\/page\/\d+)?$/i;
/** Elements a page has one of at most, matched by tag when their classes differ from page to page. */
const LANDMARKS = new Set(["main", "header", "footer"]);
/** Elements that are never page content or chrome of their own. */
const IGNORED = new Set(["script", "style", "link", "meta", "noscript", "template", "base", "br"]);
/** Block elements the model descends into. */
const WRAPPERS = new Set(["div", "main", "section", "article", "td", "tr", "tbody", "table", "center", "font"]);
const ACTIVE =
  /^(?:active|current|selected|is-active|current[-_](?:menu|page)[-_](?:item|parent|ancestor)|current_page_item)$/i;
const CONTENT_HINT = /(?:^|[-_\s])(?:content|main|post|entry|article|page-content|body|text|primary)(?:$|[-_\s])/i;
/** A layout column or sidebar by its class (Bootstrap `col-md-3`, `sidebar`). */
const COLUMN_CLASS = /(?:^|\s)(?:col(?:-[a-z]{2})?(?:-\d+)?|[\w-]*sidebar[\w-]*|aside)(?:\s|$)/i;
/** Classes that mark a navigation in themes that do not use <nav>. */
const NAV_CLASSES = new Set([
  "navbar",
  "nav",
  "navigation",
  "menu",
  "site-nav",
  "main-nav",
  "topnav",
  "main-navigation",
]);

function _elementChildren(el: HtmlElement): HtmlElement[] {
  return el.childNodes.filter((n): n is HtmlElement => "tagName" in n);
}

/** Key of an element among its siblings: tag, id and classes without page numbers or "active" markers. */
function _key(el: HtmlElement): string {
  const norm = (s: string) => s.replace(/\d+/g, "#");
  const classes = (getAttr(el, "class") ?? "")
    .split(/\s+/)
    .filter((c) => c && !ACTIVE.test(c))
    .map(norm)
    .sort();
  return `${el.tagName}#${norm(getAttr(el, "id") ?? "")}.${classes.join(".")}`;
}

/** The element of `peerParent` that stands where `el` stands in `parent` (same key, same occurrence). */
function _counterpart(el: HtmlElement, parent: HtmlElement, peerParent: HtmlElement): HtmlElement | undefined {
  const key = _key(el);
  const index = _elementChildren(parent)
    .filter((k) => _key(k) === key)
    .indexOf(el);
  const same = _elementChildren(peerParent).filter((k) => _key(k) === key)[index];
  if (same || !LANDMARKS.has(el.tagName)) return same;
  // A landmark whose classes change with the page's template (a block theme's <main>): the only one of its tag.
  const alone = (p: HtmlElement) => _elementChildren(p).filter((k) => k.tagName === el.tagName);
  const mine = alone(parent);
  const theirs = alone(peerParent);
  return mine.length === 1 && theirs.length === 1 ? theirs[0] : undefined;
}

const TEXTS = new WeakMap<HtmlElement, string>();
function _text(el: HtmlElement): string {
  let t = TEXTS.get(el);
  if (t === undefined) {
    t = textContent(el).replace(/\s+/g, " ").trim();
    TEXTS.set(el, t);
  }
  return t;
}

function _runText(run: HtmlElement[]): number {
  return run.reduce((n, k) => n + _text(k).length, 0);
}

function _isContentLike(el: HtmlElement): boolean {
  return (
    el.tagName === "main" ||
    el.tagName === "article" ||
    getAttr(el, "role") === "main" ||
    CONTENT_HINT.test(getAttr(el, "id") ?? "") ||
    CONTENT_HINT.test(getAttr(el, "class") ?? "")
  );
}

/**
 * The theme's column inside `el`: down a chain of lone <div> children (`.container > .row > .col-*`) that names a
 * layout container, row or column, the innermost; undefined when `el` holds its content directly.
 */
function _columnIn(el: HtmlElement): HtmlElement | undefined {
  let cur = el;
  let layout = false;
  for (;;) {
    const kids = _elementChildren(cur).filter((k) => !IGNORED.has(k.tagName));
    if (kids.length !== 1 || kids[0]!.tagName !== "div") break;
    cur = kids[0]!;
    const cls = getAttr(cur, "class") ?? "";
    layout ||= COLUMN_CLASS.test(cls) || /(?:^|\s)(?:container(?:-[\w-]+)?|row)(?:\s|$)/.test(cls);
  }
  return cur !== el && layout ? cur : undefined;
}

/** A content wrapper (`.entry-content`, `.post-body`) among an element's children. */
function _contentChild(el: HtmlElement): HtmlElement | undefined {
  return _elementChildren(el).find(
    (k) =>
      WRAPPERS.has(k.tagName) &&
      k.tagName !== "article" &&
      (CONTENT_HINT.test(getAttr(k, "class") ?? "") || CONTENT_HINT.test(getAttr(k, "id") ?? "")),
  );
}

function _score(el: HtmlElement): number {
  let s = Math.min(_text(el).length, 5000) / 50;
  if (el.tagName === "main" || getAttr(el, "role") === "main") s += 100;
  else if (el.tagName === "article") s += 60;
  else if (_isContentLike(el)) s += 40;
  // The navigation itself is never where the article goes (a wrapper holding it may be).
  if (isNavLike(el)) s -= 1000;
  return s;
}

function _hasLandmark(el: HtmlElement): boolean {
  if (isNavLike(el)) return true;
  for (const [d] of walkElements(el)) if (isNavLike(d)) return true;
  return false;
}

/**
 * Leaves a page-specific part out of generated pages; one that holds the navigation or the site header is never
 * removed whole: its shared children stay and only its differing ones go.
 */
function _leaveOut(
  el: HtmlElement,
  peers: HtmlElement[],
  removed: LayoutRegion["removed"],
  chrome: string[],
  keep: HtmlElement[],
): void {
  if (keep.includes(el)) {
    chrome.push(selectorOf(el));
    return;
  }
  if (!_hasLandmark(el)) {
    // A column beside the content (a per-page table of contents) keeps its box, so the content column stays where
    // the theme puts it; anything else goes whole.
    const column = el.tagName === "aside" || COLUMN_CLASS.test(getAttr(el, "class") ?? "");
    const range = column ? innerRange(el) : outerRange(el);
    if (range) {
      removed.push({
        selector: selectorOf(el),
        range,
        why: column ? "a column of this page only: emptied" : "differs from page to page, outside the content",
      });
    }
    return;
  }
  if (isNavLike(el) && peers.length === 0) {
    // A navigation no other page has (previous/next post, pagination): this page's own, left out whole.
    const range = outerRange(el);
    if (range) removed.push({ selector: selectorOf(el), range, why: "a navigation of this page only: left out" });
    return;
  }
  if (isNavLike(el)) {
    // A menu whose links are mostly those of the other pages is the site's (its state differs); one whose links are
    // this page's own (a table of contents) is emptied, keeping its box.
    const links = (x: HtmlElement) => new Set(querySelectorAll(x, "a").map((a) => _text(a)));
    const mine = links(el);
    const theirs = peers[0] ? links(peers[0]) : mine;
    const shared = [...mine].filter((t) => theirs.has(t)).length;
    const union = new Set([...mine, ...theirs]).size;
    // A column keeps its box (emptied) so the content stays where the theme puts it; previous/next links go whole.
    const column = el.tagName === "aside" || COLUMN_CLASS.test(getAttr(el, "class") ?? "");
    const range = column ? innerRange(el) : outerRange(el);
    if (union > 0 && shared / union < 0.5 && range) {
      removed.push({
        selector: selectorOf(el),
        range,
        why: column
          ? "a navigation of this page only (a table of contents): emptied"
          : "a navigation of this page only (previous/next, its own sections): left out",
      });
    } else chrome.push(selectorOf(el));
    return;
  }
  for (const kid of _elementChildren(el)) {
    if (IGNORED.has(kid.tagName)) continue;
    const found = peers.map((p) => _counterpart(kid, el, p));
    const same = found.length > 0 && found.every((m) => m !== undefined && _text(m) === _text(kid));
    if (same) chrome.push(selectorOf(kid));
    else
      _leaveOut(
        kid,
        found.filter((m): m is HtmlElement => m !== undefined),
        removed,
        chrome,
        keep,
      );
  }
}

/**
 * Links outside the content that stand where a link with the same text stands on other pages but lead elsewhere
 * (or nowhere there): "Previous"/"Next", pagination, a share link. They are the layout page's state.
 */
function _stateLinks(
  page: LayoutSample,
  peers: LayoutSample[],
  region: Omit<LayoutRegion, "stateLinks">,
): LayoutRegion["stateLinks"] {
  const body = querySelector(page.doc, "body");
  if (!body) return [];
  const others = peers.flatMap((p) => {
    const b = querySelector(p.doc, "body");
    return b ? [{ page: p, body: b }] : [];
  });
  const skip = [region.content, ...region.removed.map((r) => r.range)];
  const out: LayoutRegion["stateLinks"] = [];
  for (const [a, ancestors] of walkElements(body)) {
    if (a.tagName !== "a") continue;
    const href = getAttr(a, "href");
    const loc = a.sourceCodeLocation;
    if (href === undefined || href.startsWith("#") || !loc?.attrs?.href) continue;
    if (skip.some((r) => loc.startOffset >= r.start && loc.endOffset <= r.end)) continue;
    const target = _target(page, href);
    const differs = others.some((o) => {
      let parent = body;
      let there: HtmlElement | undefined = o.body;
      for (const node of [...ancestors, a]) {
        there = there && _counterpart(node, parent, there);
        parent = node;
      }
      if (!there || _text(there) !== _text(a)) return false;
      const theirs = getAttr(there, "href");
      return theirs === undefined || _target(o.page, theirs) !== target;
    });
    if (!differs) continue;
    out.push({ start: loc.attrs.href.startOffset, end: loc.attrs.href.endOffset });
    const rel = loc.attrs.rel;
    if (rel && /\b(?:prev|next)\b/i.test(getAttr(a, "rel") ?? ""))
      out.push({ start: rel.startOffset, end: rel.endOffset });
  }
  return out;
}

const BASES = new WeakMap<HtmlDocument, string | null>();

/** Where a link of a sample page leads, as a site path (its <base href> respected). */
function _target(page: LayoutSample, href: string): string {
  let base = BASES.get(page.doc);
  if (base === undefined) {
    base =
      querySelectorAll(page.doc, "base")
        .map((b) => getAttr(b, "href"))
        .find((h) => h !== undefined) ?? null;
    BASES.set(page.doc, base);
  }
  try {
    const pageUrl = new URL(page.path, "http://site.invalid/");
    const url = new URL(href.trim(), base === null ? pageUrl : new URL(base.trim(), pageUrl));
    return `${url.origin}${url.pathname.replace(/index\.html?$/i, "")}${url.search}`;
  } catch {
    return href;
  }
}

function _insideTag(doc: HtmlDocument, el: HtmlElement, tag: string): boolean {
  for (const [d, ancestors] of walkElements(doc)) if (d === el) return ancestors.some((a) => a.tagName === tag);
  return false;
}

/** With nothing to compare against: the first conventional content element. */
function _fallback(page: LayoutSample, removed: LayoutRegion["removed"]): Omit<LayoutRegion, "stateLinks"> {
  for (const s of FALLBACK_SELECTORS) {
    const el = querySelector(page.doc, parseSelector(s));
    const content = el ? innerRange(el) : undefined;
    if (el && content && !_hasLandmark(el)) {
      return _finish({ content, selector: s, reason: `the first "${s}" element`, removed, chrome: [] });
    }
  }
  throw new SiteloomError(
    "ERR_ENRICH",
    `enrich: ${page.path} is the only page to learn the layout from and has no content region (${FALLBACK_SELECTORS.join(", ")}) free of the navigation: a one-page theme? Set enrich.contentSelector to the element the article should fill, and enrich.remove for sections to leave out (see docs/enrichment.md, "One-page sites")`,
  );
}

const FALLBACK_SELECTORS = ["main", "article", "#content", ".content", "#main", ".main"];

/** Drops removals inside the content range (they go with it) and nested ones. */
function _finish(region: Omit<LayoutRegion, "stateLinks">): Omit<LayoutRegion, "stateLinks"> {
  const { content } = region;
  const outside = region.removed
    .filter((r) => r.range.end <= content.start || r.range.start >= content.end)
    .sort((a, b) => a.range.start - b.range.start);
  const kept: LayoutRegion["removed"] = [];
  for (const r of outside) {
    const last = kept[kept.length - 1];
    if (last && r.range.start < last.range.end) continue;
    // A removal may not cut through the content range (an ancestor of it).
    if (r.range.start <= content.start && r.range.end >= content.end) continue;
    kept.push(r);
  }
  return { ...region, removed: kept };
}
