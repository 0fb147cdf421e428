import { posix } from "node:path";
import { SiteloomError } from "../errors.ts";
import { type DecodedPage, spliceBytes, type TextEdit } from "./encoding.ts";
import {
  endInsertionPoint,
  escapeHtml,
  getAttr,
  type HtmlDocument,
  type HtmlElement,
  innerRange,
  outerRange,
  parseHtml,
  parseSelector,
  querySelector,
  querySelectorAll,
  walkElements,
} from "./html.ts";
import { isActiveClass, isNavLike, type LayoutRegion } from "./layout.ts";
import { localizeUrls } from "./markdown.ts";
import { absoluteUrl, dirOf, isRelativeUrl, rebaseCssUrls, rebaseSrcset, rebaseUrl, relativeTo } from "./urls.ts";

/** Content regions tried in order when `enrich.contentSelector` is not set. */
export const CONTENT_SELECTORS = ["main", "article", "#content", ".content", "#main", ".main"];

/** Pages tried in order as the layout when `enrich.template` is not set (a plain content page beats the home page). */
export const TEMPLATE_CANDIDATES = [
  "about.html",
  "about/index.html",
  "about.htm",
  "about-us.html",
  "about-us/index.html",
  "contact.html",
  "contact/index.html",
  "services.html",
  "index.html",
  "index.htm",
];

/** Options of the navigation "Blog" link. */
export interface NavLinkOptions {
  label: string;
  /** Selector of the navigation list; default `nav ul`, then `nav`, then an element with role="navigation". */
  selector?: string | undefined;
  /** Site folder of the blog ("blog/"). */
  blogDir: string;
}

/** A layout page ready to be filled: where its content region, head and language are, and its URLs to move. */
export interface Template {
  path: string;
  dir: string;
  page: DecodedPage;
  content: { start: number; end: number };
  headInsertAt: number;
  lang: { start: number; end: number } | { insertAt: number };
  /** Edits every generated page shares (old SEO tags out, nav state cleared). */
  fixedEdits: TextEdit[];
  /** Attributes outside the content region holding relative URLs: a URL, a srcset, or CSS (`style`). */
  urlAttrs: {
    start: number;
    end: number;
    name: string;
    value: string;
    kind: "url" | "srcset" | "css";
    /** A link to a section generated pages do not have, given here as the layout page's URL with its fragment. */
    moved?: boolean;
  }[];
  /** `<style>` blocks outside the content region whose CSS holds relative URLs: the range of their text. */
  styleBlocks: { start: number; end: number; css: string }[];
  /**
   * The template's `<base href>`, when it has one: relative URLs of a page resolve against it, not the page's folder.
   * `dir` is the site folder it names; `absolute` when it points outside the site (links are then written absolute).
   */
  base?: { dir: string } | { absolute: string } | undefined;
  /** The region lies inside the layout page's own `<article>`: ours is then a `<div>`, not an article in an article. */
  inArticle: boolean;
  /** Where the "Blog" link goes (navLink enabled and the nav does not link to the blog yet). */
  nav?: (NavInsertion & { label: string; blogDir: string; current: CurrentMarks }) | undefined;
  /**
   * The navigation's own link to the blog (navLink enabled and the live site has one, e.g. from an earlier deploy):
   * marked current on every generated page as an inserted link is, so enrich gives the same pages from its own
   * deployed output as from the original site. Its classes are fixed edits; this is where `aria-current` goes.
   */
  blogLink?: { ariaAt: number; blogDir: string; aClass: string } | undefined;
}

/** Active-state classes the layout page's current menu item had, on its `<li>` and its `<a>`. */
export interface CurrentMarks {
  li?: string[];
  a?: string[];
}

/** Where and how a "Blog" link goes into a navigation list. */
export interface NavInsertion {
  insertAt: number;
  /** "li" when the nav is a list, "a" when links sit directly in the nav. */
  wrap: "li" | "a";
  liClass?: string | undefined;
  aClass?: string | undefined;
  /** The end tag starts a line: keep the inserted item on a line of its own. */
  newline?: boolean;
}

/** What fills a template for one generated page. */
export interface PageContent {
  /** Site folder of the page ("blog/my-post"). */
  dir: string;
  language: string;
  /** Block inserted before `</head>` (absolute URLs). */
  head: string;
  /** Content region HTML with root-relative site URLs ("/blog/"). */
  body: string;
}

/** Whether a page holds server-side code (PHP, SSI) that a static rewrite would break or expose. */
export function hasServerSideCode(text: string): boolean {
  return /<\?(?:php|=)|<!--#\s*(?:include|echo|exec|config|set|if|elif|else|endif|fsize|flastmod|printenv)\b/i.test(
    text,
  );
}

/**
 * Prepares the layout page: `region` (from the layout model, `findLayoutRegion`) says where the article goes and
 * which page-specific parts are left out; `doc` is the page's parse that the region's offsets refer to.
 */
export function prepareTemplate(
  path: string,
  page: DecodedPage,
  options: { doc: HtmlDocument; region: LayoutRegion; nav?: NavLinkOptions | undefined; siteUrl: string },
): Template {
  const { doc, region } = options;
  const content = region.content;
  const head = querySelector(doc, "head");
  // A page whose <head> is implied (not written): the block goes before <body>, where the parser puts it in the head.
  const headInsertAt =
    (head ? endInsertionPoint(head) : undefined) ??
    querySelector(doc, "body")?.sourceCodeLocation?.startTag?.startOffset;
  if (!head || headInsertAt === undefined) {
    throw new SiteloomError(
      "ERR_ENRICH",
      `enrich: template ${path} has no <head>; pick another page with enrich.template`,
    );
  }
  const fixedEdits: TextEdit[] = region.removed.map((r) => ({
    start: r.range.start,
    end: _eatLineEnd(page.text, r.range.end),
    text: "",
  }));
  const replaced = [content, ...region.removed.map((r) => r.range)];
  // The layout page's previous/next links lead from that page, not from ours: kept as text, their href dropped.
  for (const r of region.stateLinks) {
    fixedEdits.push({ start: /\s/.test(page.text[r.start - 1] ?? "") ? r.start - 1 : r.start, end: r.end, text: "" });
    replaced.push(r);
  }
  for (const [el] of walkElements(head)) {
    if (_isSeoElement(el)) {
      const r = outerRange(el);
      if (r) {
        fixedEdits.push({ start: r.start, end: _eatLineEnd(page.text, r.end), text: "" });
        // Its URLs (a relative canonical) go with it: nothing else may edit inside it.
        replaced.push(r);
      }
    }
  }
  const inReplaced = (loc: { startOffset: number; endOffset: number }) =>
    replaced.some((r) => loc.startOffset >= r.start && loc.endOffset <= r.end);
  const navDir = (base: Template["base"]) => (base && "dir" in base ? base.dir : dirOf(path));
  const baseHref = querySelectorAll(doc, "base")
    .map((b) => getAttr(b, "href"))
    .find((h) => h !== undefined);
  const base = baseHref === undefined ? undefined : resolveBase(baseHref, path, options.siteUrl);
  const ownLink = options.nav ? _blogLinkIn(doc, navDir(base), options.nav) : undefined;
  const blogA = ownLink?.sourceCodeLocation?.startTag && !inReplaced(ownLink.sourceCodeLocation) ? ownLink : undefined;
  const blogLi =
    blogA && "tagName" in blogA.parentNode! && blogA.parentNode.tagName === "li" ? blogA.parentNode : undefined;
  // The template's own "you are here" markers would be wrong on every generated page: aria-current, and the
  // active-state classes of its menu items (kept to mark the Blog link instead).
  const current: CurrentMarks = {};
  for (const [el, ancestors] of walkElements(doc)) {
    if (el.tagName !== "a" && el.tagName !== "li") continue;
    const loc = el.sourceCodeLocation?.attrs?.["aria-current"];
    if (loc && !inReplaced(loc)) {
      const start = page.text[loc.startOffset - 1] === " " ? loc.startOffset - 1 : loc.startOffset;
      fixedEdits.push({ start, end: loc.endOffset, text: "" });
    }
    if (el === blogA || el === blogLi) continue; // its classes are set below
    const classLoc = el.sourceCodeLocation?.attrs?.class;
    const classes = (getAttr(el, "class") ?? "").split(/\s+/).filter(Boolean);
    const active = classes.filter(isActiveClass);
    if (!classLoc || active.length === 0 || inReplaced(classLoc) || !ancestors.some(isNavLike)) continue;
    const kept = classes.filter((c) => !isActiveClass(c));
    fixedEdits.push({
      start: classLoc.startOffset,
      end: classLoc.endOffset,
      text: `class="${escapeHtml(kept.join(" "))}"`,
    });
    const tag = el.tagName as "a" | "li";
    current[tag] ??= active;
  }
  const html = querySelector(doc, "html");
  const langLoc = html?.sourceCodeLocation?.attrs?.lang;
  const htmlStart = html?.sourceCodeLocation?.startTag;
  let lang: Template["lang"];
  if (langLoc) lang = { start: langLoc.startOffset, end: langLoc.endOffset };
  else if (htmlStart) lang = { insertAt: htmlStart.startOffset + "<html".length };
  else throw new SiteloomError("ERR_ENRICH", `enrich: template ${path} has no <html> start tag; pick another page`);

  // The site's own Blog link gets the classes an inserted one would have: its own without active ones, then the
  // layout page's active ones. A class attribute the <a> lacks goes in with aria-current, after its other attributes.
  let blogLink: Template["blogLink"];
  if (blogA && options.nav) {
    const aClass = _currentClassEdit(blogA, current.a, page.text, fixedEdits);
    if (blogLi) {
      const li = _currentClassEdit(blogLi, current.li, page.text, fixedEdits);
      if (li) fixedEdits.push({ start: _tagEnd(blogLi, page.text), end: _tagEnd(blogLi, page.text), text: li });
    }
    blogLink = { ariaAt: _tagEnd(blogA, page.text), blogDir: options.nav.blogDir, aClass: aClass ?? "" };
  }

  const dir = dirOf(path);
  const urlAttrs: Template["urlAttrs"] = [];
  const styleBlocks: Template["styleBlocks"] = [];
  if (!base) {
    // Ids that generated pages lose with the replaced parts (a one-page theme's sections, the page's own content): a
    // chrome link to one of them ("#team") leads to that section of the layout page instead.
    const gone = new Set<string>();
    for (const [el] of walkElements(doc)) {
      const id = getAttr(el, "id");
      const loc = el.sourceCodeLocation;
      if (id && loc && inReplaced(loc)) gone.add(id);
    }
    for (const [el] of walkElements(doc)) {
      if (el.tagName === "style") {
        for (const child of el.childNodes) {
          const loc = child.sourceCodeLocation;
          if (child.nodeName !== "#text" || !loc || inReplaced(loc)) continue;
          // The source text, not the node's value: the parser turns CRLF into LF, and only URLs may change.
          const css = page.text.slice(loc.startOffset, loc.endOffset);
          if (rebaseCssUrls(css, dir, "x/y") !== css)
            styleBlocks.push({ start: loc.startOffset, end: loc.endOffset, css });
        }
      }
      const locs = el.sourceCodeLocation?.attrs;
      if (!locs) continue;
      for (const attr of el.attrs) {
        const kind =
          attr.name === "srcset" || attr.name === "imagesrcset"
            ? "srcset"
            : attr.name === "style"
              ? "css"
              : URL_ATTRS.has(attr.name) && (attr.name !== "data" || el.tagName === "object")
                ? "url"
                : undefined;
        if (!kind) continue;
        const loc = locs[attr.name];
        if (!loc || inReplaced(loc)) continue;
        const fragment = /^#(.+)$/s.exec(attr.value.trim())?.[1];
        if (kind === "url" && el.tagName === "a" && fragment !== undefined && gone.has(_decodeFragment(fragment))) {
          const value = `${posix.basename(path)}#${fragment}`;
          urlAttrs.push({ start: loc.startOffset, end: loc.endOffset, name: attr.name, value, kind, moved: true });
          continue;
        }
        if (kind === "url" && !isRelativeUrl(attr.value)) continue;
        if (kind === "css" && rebaseCssUrls(attr.value, dir, "x/y") === attr.value) continue;
        urlAttrs.push({ start: loc.startOffset, end: loc.endOffset, name: attr.name, value: attr.value, kind });
      }
    }
  }
  let insertion = options.nav && !ownLink ? findNavInsertion(doc, page.text, navDir(base), options.nav) : undefined;
  // A navigation inside a replaced part is not on generated pages: there is nothing to add the link to.
  if (insertion && replaced.some((r) => insertion!.insertAt > r.start && insertion!.insertAt < r.end)) {
    insertion = undefined;
  }
  const nav =
    insertion && options.nav
      ? { ...insertion, label: options.nav.label, blogDir: options.nav.blogDir, current }
      : undefined;
  const inArticle = querySelectorAll(doc, "article").some((a) => {
    const r = innerRange(a);
    return r !== undefined && r.start <= content.start && r.end >= content.end;
  });
  return {
    path,
    dir,
    page,
    content,
    headInsertAt,
    lang,
    fixedEdits,
    urlAttrs,
    styleBlocks,
    base,
    nav,
    blogLink,
    inArticle,
  };
}

/**
 * What a `<base href>` of the page at site path `pagePath` means for links we write: the site folder it names, or
 * (pointing elsewhere) that links must be absolute. `siteUrl` is the site's public base URL, ending with "/".
 */
export function resolveBase(href: string, pagePath: string, siteUrl: string): { dir: string } | { absolute: string } {
  let target: URL;
  try {
    target = new URL(href.trim(), new URL(pagePath, siteUrl));
  } catch {
    return { absolute: siteUrl };
  }
  const site = new URL(siteUrl);
  const path = target.pathname.replace(/[^/]*$/, "");
  if (target.origin === site.origin && path.startsWith(site.pathname)) {
    return { dir: decodeURI(path.slice(site.pathname.length)).replace(/\/+$/, "") };
  }
  return { absolute: siteUrl };
}

/** Fills the template for one page; only the regions that differ from the template are new bytes. */
export function renderFromTemplate(tpl: Template, content: PageContent): Buffer {
  const edits: TextEdit[] = [...tpl.fixedEdits];
  for (const u of tpl.urlAttrs) {
    const rebase = u.kind === "srcset" ? rebaseSrcset : u.kind === "css" ? rebaseCssUrls : rebaseUrl;
    const next = rebase(u.value, tpl.dir, content.dir);
    if (next !== u.value || u.moved)
      edits.push({ start: u.start, end: u.end, text: `${u.name}="${escapeHtml(next)}"` });
  }
  for (const b of tpl.styleBlocks) {
    // Raw text: CSS inside <style> is not entity-decoded, so it goes back as it is, only its URLs moved.
    const next = rebaseCssUrls(b.css, tpl.dir, content.dir);
    if (next !== b.css) edits.push({ start: b.start, end: b.end, text: next });
  }
  edits.push({ start: tpl.headInsertAt, end: tpl.headInsertAt, text: content.head });
  const langAttr = `lang="${escapeHtml(content.language)}"`;
  if ("insertAt" in tpl.lang) edits.push({ start: tpl.lang.insertAt, end: tpl.lang.insertAt, text: ` ${langAttr}` });
  else edits.push({ start: tpl.lang.start, end: tpl.lang.end, text: langAttr });
  // Under a <base href>, relative URLs resolve against the base, whatever folder the page is in.
  const linkDir = tpl.base && "dir" in tpl.base ? tpl.base.dir : content.dir;
  const body =
    tpl.base && "absolute" in tpl.base
      ? localizeUrls(content.body, (p) => absoluteUrl((tpl.base as { absolute: string }).absolute, p))
      : localizeForDir(content.body, linkDir);
  edits.push({ start: tpl.content.start, end: tpl.content.end, text: tpl.inArticle ? _articleAsDiv(body) : body });
  if (tpl.nav) {
    // Every generated page is in the blog: its link is the current one (the blog index is the page itself).
    const current = { ...tpl.nav.current, aria: _ariaCurrent(content.dir, tpl.nav.blogDir) };
    edits.push(navLinkEdit(tpl.nav, linkDir, { ...tpl.nav, current }));
  } else if (tpl.blogLink) {
    const aria = _ariaCurrent(content.dir, tpl.blogLink.blogDir);
    const at = tpl.blogLink.ariaAt;
    edits.push({ start: at, end: at, text: `${tpl.blogLink.aClass} aria-current="${aria}"` });
  }
  return spliceBytes(tpl.page, edits);
}

/** Makes root-relative site URLs ("/blog/x/") relative to a page in `dir`, so pages work under any base path. */
export function localizeForDir(html: string, dir: string): string {
  return localizeUrls(html, (rootPath) => {
    const m = /^\/([^?#]*)(.*)$/s.exec(rootPath)!;
    return relativeTo(dir, m[1]!) + m[2];
  });
}

/**
 * Finds where a "Blog" link goes in a page's navigation; undefined when there is no navigation or it already links
 * to the blog (e.g. the live site already has it from an earlier deploy).
 */
export function findNavInsertion(
  doc: HtmlDocument,
  text: string,
  pageDir: string,
  nav: NavLinkOptions,
): NavInsertion | undefined {
  const container = findNavList(doc, nav);
  if (!container || _blogLinkIn(container, pageDir, nav)) return undefined;
  const insertAt = endInsertionPoint(container);
  if (insertAt === undefined) return undefined;
  const isList = container.tagName === "ul" || container.tagName === "ol";
  const lis = isList ? container.childNodes.filter((n): n is HtmlElement => "tagName" in n && n.tagName === "li") : [];
  const lastLi = lis[lis.length - 1];
  const lastA = lastLi
    ? querySelector(lastLi, "a")
    : [...walkElements(container)]
        .map(([el]) => el)
        .filter((el) => el.tagName === "a")
        .pop();
  return {
    insertAt,
    newline: /\n[ \t]*$/.test(text.slice(Math.max(0, insertAt - 40), insertAt)),
    wrap: isList ? "li" : "a",
    liClass: lastLi ? getAttr(lastLi, "class") : undefined,
    aClass: lastA ? _withoutActive(getAttr(lastA, "class")) : undefined,
  };
}

/**
 * The element the "Blog" link goes into: the configured selector's match; by default `nav ul`, then `nav`, then in
 * the first element with role="navigation" (Sphinx's sidebar, themes without `<nav>`) its first list or itself.
 */
export function findNavList(doc: HtmlDocument, nav: NavLinkOptions): HtmlElement | undefined {
  for (const s of _navSelectors(nav)) {
    const found = querySelector(doc, parseSelector(s));
    if (found) return found;
  }
  if (nav.selector) return undefined;
  for (const [el] of walkElements(doc)) {
    if (getAttr(el, "role") !== "navigation") continue;
    for (const [list] of walkElements(el)) if (list.tagName === "ul" || list.tagName === "ol") return list;
    return el;
  }
  return undefined;
}

/**
 * `findNavInsertion` for a page's source text, parsing only as much as needed: the navigation sits near the top of
 * a page, and an element that closes before a cut point is parsed the same with or without the rest of the page
 * (HTML is parsed front to back). The prefix answer is used only when the first selector matches an element whose
 * end tag lies inside it; otherwise the whole page is parsed.
 */
export function findNavInsertionFast(text: string, pageDir: string, nav: NavLinkOptions): NavInsertion | undefined {
  const close = /<\/nav\s*>/i.exec(text);
  const cut = close ? close.index + close[0].length : Math.min(text.length, NAV_PREFIX_CHARS);
  if (cut < text.length) {
    // Pages of one site share their chrome: from <body> to the navigation's end the text is mostly the same, so
    // that part is parsed once per folder. Only when the head before <body> parses as plain tags (no open comment,
    // script or attribute value hides the "<body"), so the part parses the same on its own.
    const body = _bodyStart(text, cut);
    if (body !== undefined) {
      const part = text.slice(body, cut);
      const key = `${pageDir}\0${nav.selector ?? ""}\0${nav.blogDir}\0${part}`;
      let found = NAV_MEMO.get(key);
      if (found === undefined) {
        const doc = parseHtml(part);
        const first = querySelector(doc, parseSelector(_navSelectors(nav)[0]!));
        found = first?.sourceCodeLocation?.endTag ? (findNavInsertion(doc, part, pageDir, nav) ?? null) : false;
        if (NAV_MEMO.size >= NAV_MEMO_MAX) NAV_MEMO.clear();
        NAV_MEMO.set(key, found);
      }
      if (found === null) return undefined;
      if (found) return { ...found, insertAt: found.insertAt + body };
    } else {
      const doc = parseHtml(text.slice(0, cut));
      const first = querySelector(doc, parseSelector(_navSelectors(nav)[0]!));
      if (first?.sourceCodeLocation?.endTag) return findNavInsertion(doc, text, pageDir, nav);
    }
  }
  return findNavInsertion(parseHtml(text), text, pageDir, nav);
}

/** The edit inserting the "Blog" link for a page in `pageDir`. */
export function navLinkEdit(
  ins: NavInsertion,
  pageDir: string,
  nav: { label: string; blogDir: string; current?: CurrentMarks & { aria: "page" | "true" } },
): TextEdit {
  const href = relativeTo(pageDir, nav.blogDir);
  const classes = (own: string | undefined, active: string[] | undefined) =>
    [..._classList(_withoutActive(own)), ...(active ?? [])].join(" ");
  const aClasses = classes(ins.aClass, nav.current?.a);
  const aClass = aClasses ? ` class="${escapeHtml(aClasses)}"` : "";
  const aria = nav.current ? ` aria-current="${nav.current.aria}"` : "";
  const link = `<a href="${escapeHtml(href)}"${aClass}${aria}>${escapeHtml(nav.label)}</a>`;
  const liClasses = classes(ins.liClass, nav.current?.li);
  const liClass = liClasses ? ` class="${escapeHtml(liClasses)}"` : "";
  const text = ins.wrap === "li" ? `<li${liClass}>${link}</li>` : link;
  return { start: ins.insertAt, end: ins.insertAt, text: ins.newline ? `${text}\n` : text };
}

// --- internal ---

/** A URL fragment as the id it names (browsers match ids against the percent-decoded fragment). */
function _decodeFragment(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

/** Characters parsed first when looking for a navigation that is not a `<nav>` element. */
const NAV_PREFIX_CHARS = 16 * 1024;
/** Insertion found for a page part (from <body> to the nav's end): null for none, false when it needs a whole parse. */
const NAV_MEMO = new Map<string, NavInsertion | null | false>();
const NAV_MEMO_MAX = 2000;
/** The head's tokens: comments, raw-text elements whole, tags with quoted attributes, text. */
const HEAD_TOKEN =
  /<!--[\s\S]*?-->|<(script|style|title|textarea|noscript|xmp|iframe|noembed|noframes)\b(?:[^>"']|"[^"]*"|'[^']*')*>[\s\S]*?<\/\1\s*>|<(?!(?:script|style|title|textarea|noscript|xmp|iframe|noembed|noframes)\b)[!/?]?[a-zA-Z](?:[^>"']|"[^"]*"|'[^']*')*>|<!doctype[^>]*>|[^<]+/giy;

/**
 * Where the `<body>` start tag is, when the text before it is plain enough that a parse starting there sees the
 * body as the whole page's parse does: every comment and raw-text element closed, no "<body" inside an attribute
 * value or a script, no foreign content or template.
 */
function _bodyStart(text: string, limit: number): number | undefined {
  const m = /<body[\s>]/i.exec(text);
  if (!m || m.index >= limit) return undefined;
  const head = text.slice(0, m.index);
  if (/<(?:template|svg|math|plaintext)\b|<!\[CDATA\[/i.test(head)) return undefined;
  HEAD_TOKEN.lastIndex = 0;
  let at = 0;
  while (at < head.length) {
    const t = HEAD_TOKEN.exec(head);
    if (!t || t[0].length === 0) return undefined;
    // A script holding "<!--" can hide its end tag from the HTML parser: leave that page to the whole parse.
    if (t[1] && /<!--/.test(t[0])) return undefined;
    at += t[0].length;
  }
  return m.index;
}

const URL_ATTRS = new Set(["href", "src", "action", "poster", "cite", "formaction", "background", "data", "longdesc"]);

function _navSelectors(nav: NavLinkOptions): string[] {
  return nav.selector ? [nav.selector] : ["nav ul", "nav"];
}

function _isSeoElement(el: HtmlElement): boolean {
  const name = (getAttr(el, "name") ?? "").toLowerCase();
  const property = (getAttr(el, "property") ?? "").toLowerCase();
  const rel = (getAttr(el, "rel") ?? "").toLowerCase().split(/\s+/);
  const type = (getAttr(el, "type") ?? "").toLowerCase();
  switch (el.tagName) {
    case "title":
      return true;
    case "meta":
      return (
        ["description", "robots", "keywords", "googlebot"].includes(name) ||
        name.startsWith("twitter:") ||
        /^(og|article|fb|book|profile):/.test(property)
      );
    case "link":
      return (
        rel.includes("canonical") ||
        (rel.includes("alternate") && (getAttr(el, "hreflang") !== undefined || /(rss|atom)\+xml/.test(type))) ||
        rel.includes("prev") ||
        rel.includes("next")
      );
    case "script":
      return type === "application/ld+json";
    default:
      return false;
  }
}

/** Extends a removal over the rest of its line when only whitespace follows, so no blank line is left behind. */
function _eatLineEnd(text: string, end: number): number {
  const m = /^[ \t]*(?:\r\n|\n|\r)/.exec(text.slice(end, end + 200));
  return m ? end + m[0].length : end;
}

/** The Blog link's aria-current on a generated page: "page" on the blog index itself, else "true" (a page in it). */
function _ariaCurrent(pageDir: string, blogDir: string): "page" | "true" {
  return pageDir === blogDir.replace(/\/+$/, "") ? "page" : "true";
}

/** The first link to the blog in the navigation (`root` a page, or the navigation list itself). */
function _blogLinkIn(root: HtmlDocument | HtmlElement, pageDir: string, nav: NavLinkOptions): HtmlElement | undefined {
  const container = "tagName" in root ? root : findNavList(root, nav);
  if (!container) return undefined;
  for (const [a] of walkElements(container)) {
    if (a.tagName !== "a") continue;
    const href = getAttr(a, "href");
    if (href && _pointsToBlog(href, pageDir, nav.blogDir)) return a;
  }
  return undefined;
}

/**
 * Gives `el` its classes without active ones plus `active`: an edit of its class attribute (pushed to `edits`), or,
 * when it has none and needs one, the ` class="…"` to insert at the end of its start tag (returned).
 */
function _currentClassEdit(
  el: HtmlElement,
  active: string[] | undefined,
  text: string,
  edits: TextEdit[],
): string | undefined {
  const loc = el.sourceCodeLocation?.attrs?.class;
  const own = getAttr(el, "class");
  const classes = [..._classList(_withoutActive(own)), ...(active ?? [])].join(" ");
  if (!loc) return classes ? ` class="${escapeHtml(classes)}"` : undefined;
  if (classes === own) return undefined;
  if (classes) edits.push({ start: loc.startOffset, end: loc.endOffset, text: `class="${escapeHtml(classes)}"` });
  else
    edits.push({
      start: text[loc.startOffset - 1] === " " ? loc.startOffset - 1 : loc.startOffset,
      end: loc.endOffset,
      text: "",
    });
  return undefined;
}

/** Where an attribute added to `el`'s start tag goes: before its `>` (or `/>`). */
function _tagEnd(el: HtmlElement, text: string): number {
  const end = el.sourceCodeLocation!.startTag!.endOffset - 1;
  return text[end - 1] === "/" ? end - 1 : end;
}

function _pointsToBlog(href: string, pageDir: string, blogDir: string): boolean {
  const clean = href.split(/[?#]/)[0] ?? "";
  const blog = blogDir.replace(/\/+$/, "");
  if (clean.startsWith("/")) {
    const p = clean
      .replace(/^\/+/, "")
      .replace(/index\.html?$/, "")
      .replace(/\/+$/, "");
    return p === blog;
  }
  if (!isRelativeUrl(clean)) return false;
  const rebased = rebaseUrl(clean, pageDir, "");
  return rebased.replace(/index\.html?$/, "").replace(/\/+$/, "") === blog;
}

function _withoutActive(cls: string | undefined): string | undefined {
  const kept = _classList(cls).filter((c) => !isActiveClass(c));
  return kept.length > 0 ? kept.join(" ") : undefined;
}

/** Our `<article class="sl-article">` (the outermost, so its end tag is the last) written as a `<div>`. */
function _articleAsDiv(body: string): string {
  const open = '<article class="sl-article">';
  const start = body.indexOf(open);
  const end = body.lastIndexOf("</article>");
  if (start < 0 || end < start) return body;
  return `${body.slice(0, start)}<div class="sl-article">${body.slice(start + open.length, end)}</div>${body.slice(end + "</article>".length)}`;
}

function _classList(cls: string | undefined): string[] {
  return (cls ?? "").split(/\s+/).filter(Boolean);
}
