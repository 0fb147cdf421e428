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

/** Absolute URL of a site path under the site's base URL (which ends with "/"). */
export function absoluteUrl(baseUrl: string, sitePath: string): string {
  return new URL(sitePath.replace(/^\/+/, ""), baseUrl).href;
}

/** Folder of a site-relative file path ("a/b.html" → "a", "index.html" → ""). */
export function dirOf(sitePath: string): string {
  const d = posix.dirname(sitePath);
  return d === "." ? "" : d;
}

// --- internal ---

function _trimDir(dir: string): string {
  return dir.replace(/^\.\/?/, "").replace(/\/+$/, "");
}
