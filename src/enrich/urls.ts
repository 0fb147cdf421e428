import { posix } from "node:path";
import type { TextEdit } from "./encoding.ts";
import { escapeHtml, getAttr, type HtmlDocument, type HtmlElement, walkElements } from "./html.ts";

/** Attributes holding one URL. */
const URL_ATTRS = new Set(["href", "src", "action", "poster", "cite", "formaction", "background", "data", "longdesc"]);

/** Whether a URL is document-relative (resolved against the page's own folder). */
export function isRelativeUrl(url: string): boolean {
  const u = url.trim();
  if (u === "" || u.startsWith("#") || u.startsWith("/") || u.startsWith("?")) return false;
  return !/^[a-z][a-z0-9+.-]*:/i.test(u);
}

/**
 * The relative URL that leads from a page in `fromDir` to the site path `target` ("css/site.css", "blog/" — a
 * trailing slash means a folder). Both are site-relative, POSIX, without a leading slash.
 */
export function relativeTo(fromDir: string, target: string): string {
  const from = _trimDir(fromDir);
  const isDir = target.endsWith("/") || target === "";
  const to = _trimDir(target);
  let rel = posix.relative(from === "" ? "." : from, to === "" ? "." : to);
  if (rel === "") rel = ".";
  if (isDir) rel = rel === "." ? "./" : `${rel}/`;
  return rel;
}

/** Moves a document-relative URL written for a page in `oldDir` so it works from a page in `newDir`. */
export function rebaseUrl(url: string, oldDir: string, newDir: string): string {
  if (!isRelativeUrl(url)) return url;
  const m = /^([^?#]*)(.*)$/s.exec(url.trim())!;
  const pathPart = m[1] ?? "";
  const suffix = m[2] ?? "";
  const joined = posix.normalize(posix.join(oldDir === "" ? "." : oldDir, pathPart));
  if (joined.startsWith("..")) return url; // points above the site root: leave it as the author wrote it
  const target = pathPart.endsWith("/") || pathPart === "." || pathPart === "" ? `${_trimDir(joined)}/` : joined;
  const normalisedTarget = target === "./" || target === "/" ? "" : target;
  if (pathPart === "") return url; // "?q" or "#x" only: same document
  return relativeTo(newDir, normalisedTarget) + suffix;
}

/** Rebases a `srcset` value ("a.png 1x, b.png 2x"). */
export function rebaseSrcset(value: string, oldDir: string, newDir: string): string {
  return value
    .split(",")
    .map((candidate) => {
      const m = /^(\s*)(\S+)(.*)$/s.exec(candidate);
      if (!m) return candidate;
      return `${m[1]}${rebaseUrl(m[2]!, oldDir, newDir)}${m[3]}`;
    })
    .join(",");
}

/**
 * Edits that rebase every relative URL attribute of the page, except inside `skip` ranges (the content region,
 * which is replaced anyway). Returns no edits when the page has a `<base href>`, which already anchors its URLs.
 */
export function urlRebaseEdits(
  doc: HtmlDocument,
  oldDir: string,
  newDir: string,
  skip: { start: number; end: number }[] = [],
): TextEdit[] {
  const edits: TextEdit[] = [];
  if (oldDir === newDir) return edits;
  for (const [el] of walkElements(doc)) {
    if (el.tagName === "base" && getAttr(el, "href") !== undefined) return [];
  }
  for (const [el] of walkElements(doc)) {
    const attrLocs = el.sourceCodeLocation?.attrs;
    if (!attrLocs) continue;
    for (const attr of el.attrs) {
      const isSrcset = attr.name === "srcset" || (attr.name === "imagesrcset" && el.tagName === "link");
      if (!URL_ATTRS.has(attr.name) && !isSrcset) continue;
      if (attr.name === "data" && el.tagName !== "object") continue;
      const loc = attrLocs[attr.name];
      if (!loc || skip.some((r) => loc.startOffset >= r.start && loc.endOffset <= r.end)) continue;
      const next = isSrcset ? rebaseSrcset(attr.value, oldDir, newDir) : rebaseUrl(attr.value, oldDir, newDir);
      if (next === attr.value) continue;
      edits.push({ start: loc.startOffset, end: loc.endOffset, text: `${attr.name}="${escapeHtml(next)}"` });
    }
  }
  return edits;
}

/** Absolute URL of a site path under the site's base URL (which ends with "/"). */
export function absoluteUrl(baseUrl: string, sitePath: string): string {
  return new URL(sitePath.replace(/^\/+/, ""), baseUrl).href;
}

/** Folder of a site-relative file path ("a/b.html" → "a", "index.html" → ""). */
export function dirOf(sitePath: string): string {
  const d = posix.dirname(sitePath);
  return d === "." ? "" : d;
}

/** Whether an element is inside a range. */
export function inRange(el: HtmlElement, range: { start: number; end: number }): boolean {
  const loc = el.sourceCodeLocation;
  return !!loc && loc.startOffset >= range.start && loc.endOffset <= range.end;
}

// --- internal ---

function _trimDir(dir: string): string {
  return dir.replace(/^\.\/?/, "").replace(/\/+$/, "");
}
