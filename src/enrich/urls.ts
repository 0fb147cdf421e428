import { posix } from "node:path";

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
  // Pages of a site sit in few folders and link to few places: most calls (one per page and link) repeat an answer.
  const key = `${fromDir}\0${target}`;
  let rel = RELATIVE_MEMO.get(key);
  if (rel === undefined) {
    rel = _relativeTo(fromDir, target);
    if (RELATIVE_MEMO.size >= RELATIVE_MEMO_MAX) RELATIVE_MEMO.clear();
    RELATIVE_MEMO.set(key, rel);
  }
  return rel;
}

const RELATIVE_MEMO = new Map<string, string>();
const RELATIVE_MEMO_MAX = 10_000;

function _relativeTo(fromDir: string, target: string): string {
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
 * Rebases the relative URLs of CSS (a `style` attribute or a `<style>` block): `url(...)` in any quoting and
 * `@import "..."`. Absolute, root-relative, `data:` and fragment-only URLs are left as they are.
 */
export function rebaseCssUrls(css: string, oldDir: string, newDir: string): string {
  if (!/url\(|@import/i.test(css)) return css;
  return css
    .replace(
      /(\burl\(\s*)(["']?)([^"')\s]+)\2(\s*\))/gi,
      (_m, open: string, quote: string, url: string, close: string) => {
        return `${open}${quote}${rebaseUrl(url, oldDir, newDir)}${quote}${close}`;
      },
    )
    .replace(/(@import\s+)(["'])([^"']+)\2/gi, (_m, at: string, quote: string, url: string) => {
      return `${at}${quote}${rebaseUrl(url, oldDir, newDir)}${quote}`;
    });
}

/** Schemes an article's links may use. */
export const LINK_SCHEMES: ReadonlySet<string> = new Set(["http", "https", "mailto", "tel"]);
/** Schemes an article's images may use. */
export const IMAGE_SCHEMES: ReadonlySet<string> = new Set(["http", "https"]);

/**
 * Judges a URL from untrusted article content the way a browser's URL parser reads it, and returns it cleaned, or
 * undefined when it is unsafe. Browsers drop leading/trailing control characters and spaces and every tab and
 * newline anywhere ("jav\tascript:" is "javascript:"), read backslashes as slashes, and decode character references
 * in attributes ("jav&#x09;ascript:"): the scheme is judged on that reading. Allowed: a scheme of `schemes`, or a
 * path (document- or root-relative, "?query", "#fragment"); never a protocol-relative "//host" URL.
 */
export function safeUrl(raw: string, schemes: ReadonlySet<string> = LINK_SCHEMES): string | undefined {
  const url = _browserReading(raw);
  if (url === undefined) return undefined;
  // Judged on the text as written too, and once more with character references decoded: either reading is unsafe.
  for (const reading of [url, _browserReading(_decodeReferences(url))]) {
    if (reading === undefined || reading.startsWith("//")) return undefined;
    const scheme = /^([^/?#]*?):/.exec(reading)?.[1];
    if (scheme !== undefined && !(/^[a-z][a-z0-9+.-]*$/i.test(scheme) && schemes.has(scheme.toLowerCase()))) {
      return undefined;
    }
  }
  return url;
}

/**
 * Absolute URL of a site path under the site's base URL (which ends with "/"); an absolute http(s) URL (an image on
 * a CDN) is kept. Anything else is read as a path below the base, so no scheme ever comes out of it: `new URL()`
 * would otherwise turn "jav\tascript:x" back into "javascript:x".
 */
export function absoluteUrl(baseUrl: string, sitePath: string): string {
  const clean = sitePath.replace(/[\t\n\r]/g, "").trim();
  if (/^https?:\/\//i.test(clean)) return new URL(clean).href;
  return new URL(`./${clean.replace(/^[/\\]+/, "")}`, baseUrl).href;
}

/** Folder of a site-relative file path ("a/b.html" → "a", "index.html" → ""). */
export function dirOf(sitePath: string): string {
  const d = posix.dirname(sitePath);
  return d === "." ? "" : d;
}

// --- internal ---

/** A URL as a browser's URL parser sees it, or undefined when control characters remain inside it. */
function _browserReading(raw: string): string | undefined {
  const url = raw.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
  if (/[\u0000-\u001f\u007f]/.test(url)) return undefined;
  return url.replace(/\\/g, "/");
}

/** Decodes numeric character references and the named ones that spell URL punctuation or whitespace. */
function _decodeReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_m, hex: string) => _fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_m, dec: string) => _fromCodePoint(Number.parseInt(dec, 10)))
    .replace(/&(tab|newline|colon|sol|bsol|nbsp);/gi, (_m, name: string) => NAMED_REFERENCES[name.toLowerCase()]!);
}

function _fromCodePoint(code: number): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd";
}

const NAMED_REFERENCES: Record<string, string> = {
  tab: "\t",
  newline: "\n",
  colon: ":",
  sol: "/",
  bsol: "\\",
  nbsp: "\u00a0",
};

function _trimDir(dir: string): string {
  return dir.replace(/^\.\/?/, "").replace(/\/+$/, "");
}
