import { SiteloomError } from "../errors.ts";
import { type DecodedPage, spliceBytes, type TextEdit } from "./encoding.ts";
import {
  endInsertionPoint,
  escapeHtml,
  getAttr,
  type HtmlDocument,
  type HtmlElement,
  outerRange,
  parseHtml,
  parseSelector,
  querySelector,
  querySelectorAll,
  walkElements,
} from "./html.ts";
import type { LayoutRegion } from "./layout.ts";
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
  /** Selector of the navigation list; default `nav ul`, then `nav`. */
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
  urlAttrs: { start: number; end: number; name: string; value: string; kind: "url" | "srcset" | "css" }[];
  /** `<style>` blocks outside the content region whose CSS holds relative URLs: the range of their text. */
  styleBlocks: { start: number; end: number; css: string }[];
  /**
   * The template's `<base href>`, when it has one: relative URLs of a page resolve against it, not the page's folder.
   * `dir` is the site folder it names; `absolute` when it points outside the site (links are then written absolute).
   */
  base?: { dir: string } | { absolute: string } | undefined;
  /** Where the "Blog" link goes (navLink enabled and the nav does not link to the blog yet). */
  nav?: (NavInsertion & { label: string; blogDir: string }) | undefined;
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
  const inReplaced = (loc: { startOffset: number; endOffset: number }) =>
    replaced.some((r) => loc.startOffset >= r.start && loc.endOffset <= r.end);
  for (const [el] of walkElements(head)) {
    if (_isSeoElement(el)) {
      const r = outerRange(el);
      if (r) fixedEdits.push({ start: r.start, end: _eatLineEnd(page.text, r.end), text: "" });
    }
  }
  // The template's own "you are here" marker would be wrong on every generated page.
  for (const [el] of walkElements(doc)) {
    if (el.tagName !== "a" && el.tagName !== "li") continue;
    const loc = el.sourceCodeLocation?.attrs?.["aria-current"];
    if (loc && !inReplaced(loc)) {
      const start = page.text[loc.startOffset - 1] === " " ? loc.startOffset - 1 : loc.startOffset;
      fixedEdits.push({ start, end: loc.endOffset, text: "" });
    }
  }
  const html = querySelector(doc, "html");
  const langLoc = html?.sourceCodeLocation?.attrs?.lang;
  const htmlStart = html?.sourceCodeLocation?.startTag;
  let lang: Template["lang"];
  if (langLoc) lang = { start: langLoc.startOffset, end: langLoc.endOffset };
  else if (htmlStart) lang = { insertAt: htmlStart.startOffset + "<html".length };
  else throw new SiteloomError("ERR_ENRICH", `enrich: template ${path} has no <html> start tag; pick another page`);

  const dir = dirOf(path);
  const urlAttrs: Template["urlAttrs"] = [];
  const styleBlocks: Template["styleBlocks"] = [];
  const baseHref = querySelectorAll(doc, "base")
    .map((b) => getAttr(b, "href"))
    .find((h) => h !== undefined);
  const base = baseHref === undefined ? undefined : resolveBase(baseHref, path, options.siteUrl);
  if (!base) {
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
        if (kind === "url" && !isRelativeUrl(attr.value)) continue;
        if (kind === "css" && rebaseCssUrls(attr.value, dir, "x/y") === attr.value) continue;
        urlAttrs.push({ start: loc.startOffset, end: loc.endOffset, name: attr.name, value: attr.value, kind });
      }
    }
  }
  let insertion = options.nav
    ? findNavInsertion(doc, page.text, base && "dir" in base ? base.dir : dir, options.nav)
    : undefined;
  // A navigation inside a replaced part is not on generated pages: there is nothing to add the link to.
  if (insertion && replaced.some((r) => insertion!.insertAt > r.start && insertion!.insertAt < r.end)) {
    insertion = undefined;
  }
  const nav =
    insertion && options.nav ? { ...insertion, label: options.nav.label, blogDir: options.nav.blogDir } : undefined;
  return { path, dir, page, content, headInsertAt, lang, fixedEdits, urlAttrs, styleBlocks, base, nav };
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
    if (next !== u.value) edits.push({ start: u.start, end: u.end, text: `${u.name}="${escapeHtml(next)}"` });
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
  edits.push({ start: tpl.content.start, end: tpl.content.end, text: body });
  if (tpl.nav) edits.push(navLinkEdit(tpl.nav, linkDir, tpl.nav));
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
  const candidates = _navSelectors(nav);
  let list: HtmlElement | undefined;
  for (const s of candidates) {
    list = querySelector(doc, parseSelector(s));
    if (list) break;
  }
  if (!list) return undefined;
  const container = list;
  for (const [a] of walkElements(container)) {
    if (a.tagName !== "a") continue;
    const href = getAttr(a, "href");
    if (href && _pointsToBlog(href, pageDir, nav.blogDir)) return undefined;
  }
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
 * `findNavInsertion` for a page's source text, parsing only as much as needed: the navigation sits near the top of
 * a page, and an element that closes before a cut point is parsed the same with or without the rest of the page
 * (HTML is parsed front to back). The prefix answer is used only when the first selector matches an element whose
 * end tag lies inside it; otherwise the whole page is parsed.
 */
export function findNavInsertionFast(text: string, pageDir: string, nav: NavLinkOptions): NavInsertion | undefined {
  const close = /<\/nav\s*>/i.exec(text);
  const cut = close ? close.index + close[0].length : Math.min(text.length, NAV_PREFIX_CHARS);
  if (cut < text.length) {
    const doc = parseHtml(text.slice(0, cut));
    const first = querySelector(doc, parseSelector(_navSelectors(nav)[0]!));
    if (first?.sourceCodeLocation?.endTag) return findNavInsertion(doc, text, pageDir, nav);
  }
  return findNavInsertion(parseHtml(text), text, pageDir, nav);
}

/** The edit inserting the "Blog" link for a page in `pageDir`. */
export function navLinkEdit(ins: NavInsertion, pageDir: string, nav: { label: string; blogDir: string }): TextEdit {
  const href = relativeTo(pageDir, nav.blogDir);
  const aClass = ins.aClass ? ` class="${escapeHtml(ins.aClass)}"` : "";
  const link = `<a href="${escapeHtml(href)}"${aClass}>${escapeHtml(nav.label)}</a>`;
  const liClass = ins.liClass ? ` class="${escapeHtml(_withoutActive(ins.liClass) ?? "")}"` : "";
  const text = ins.wrap === "li" ? `<li${liClass}>${link}</li>` : link;
  return { start: ins.insertAt, end: ins.insertAt, text: ins.newline ? `${text}\n` : text };
}

// --- internal ---

/** Characters parsed first when looking for a navigation that is not a `<nav>` element. */
const NAV_PREFIX_CHARS = 16 * 1024;

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
  if (!cls) return undefined;
  const kept = cls.split(/\s+/).filter((c) => c && !/^(active|current|selected|is-active)$/i.test(c));
  return kept.length > 0 ? kept.join(" ") : undefined;
}
