import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { decodePage } from "./encoding.ts";
import { walkTree } from "./files.ts";
import { getAttr, parseHtml, walkElements } from "./html.ts";
import { resolveBase } from "./template.ts";
import { dirOf } from "./urls.ts";

/** A reference of a page that leads nowhere. */
export interface BrokenReference {
  /** Site path of the page holding it. */
  page: string;
  /** The URL as written. */
  url: string;
  kind: "link" | "image" | "stylesheet" | "script";
  /** Site path it resolves to (missing). */
  target: string;
}

/** What `runCheck` found. */
export interface CheckReport {
  pages: number;
  references: number;
  /** Broken references the live site (export/) does not have: ours to fix. */
  introduced: BrokenReference[];
  /** Broken references whose target is missing on the live site too. */
  alreadyBroken: BrokenReference[];
}

/** Options of `runCheck`. */
export interface CheckOptions {
  /** The enriched site (sites/<name>/output/). */
  output: string;
  /** The live site as exported (sites/<name>/export/): its own broken references are told apart. */
  exportDir: string;
  /** Public base URL of the site, ending with "/": absolute URLs under it are internal. */
  baseUrl: string;
}

/**
 * Crawls every HTML page of `output` and reports each internal link, image, stylesheet and script that resolves to
 * no file, separating those already broken on the live site (the same target is missing from export/) from those
 * enrichment introduced.
 */
export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const live = await _crawl(options.exportDir, options.baseUrl);
  const liveMissing = new Set(live.broken.map((b) => b.target));
  const out = await _crawl(options.output, options.baseUrl);
  return {
    pages: out.pages,
    references: out.references,
    introduced: out.broken.filter((b) => !liveMissing.has(b.target)),
    alreadyBroken: out.broken.filter((b) => liveMissing.has(b.target)),
  };
}

// --- internal ---

async function _crawl(
  root: string,
  baseUrl: string,
): Promise<{ pages: number; references: number; broken: BrokenReference[] }> {
  const files = await walkTree(root);
  const paths = new Set(files.map((f) => f.path));
  const exists = (p: string): boolean =>
    p === "" ? paths.has("index.html") : paths.has(p) || paths.has(`${p.replace(/\/$/, "")}/index.html`);
  const broken: BrokenReference[] = [];
  let pages = 0;
  let references = 0;
  for (const f of files) {
    if (!/\.html?$/i.test(f.path)) continue;
    pages++;
    const page = decodePage(await readFile(join(root, f.path)));
    const doc = parseHtml(page.text);
    let dir = dirOf(f.path);
    for (const [el] of walkElements(doc)) {
      if (el.tagName === "base" && getAttr(el, "href") !== undefined) {
        const base = resolveBase(getAttr(el, "href")!, f.path, baseUrl);
        if ("dir" in base) dir = base.dir;
        break;
      }
    }
    for (const [el] of walkElements(doc)) {
      for (const { url, kind } of _references(el)) {
        const target = _resolve(url, dir, baseUrl);
        if (target === undefined) continue;
        references++;
        if (!exists(target)) broken.push({ page: f.path, url, kind, target });
      }
    }
  }
  return { pages, references, broken };
}

function _references(el: import("./html.ts").HtmlElement): { url: string; kind: BrokenReference["kind"] }[] {
  const out: { url: string; kind: BrokenReference["kind"] }[] = [];
  const attr = (name: string) => getAttr(el, name);
  switch (el.tagName) {
    case "a":
    case "area":
      if (attr("href") !== undefined) out.push({ url: attr("href")!, kind: "link" });
      break;
    case "img":
    case "source":
      if (attr("src") !== undefined) out.push({ url: attr("src")!, kind: "image" });
      for (const candidate of (attr("srcset") ?? "").split(",")) {
        const url = candidate.trim().split(/\s+/)[0];
        if (url) out.push({ url, kind: "image" });
      }
      break;
    case "link": {
      const rel = (attr("rel") ?? "").toLowerCase().split(/\s+/);
      if (rel.includes("stylesheet") && attr("href") !== undefined)
        out.push({ url: attr("href")!, kind: "stylesheet" });
      break;
    }
    case "script":
      if (attr("src") !== undefined) out.push({ url: attr("src")!, kind: "script" });
      break;
  }
  return out;
}

/** The site path an internal URL leads to, or undefined for external URLs, other schemes and fragments. */
function _resolve(raw: string, dir: string, baseUrl: string): string | undefined {
  const url = raw.trim();
  if (url === "" || url.startsWith("#")) return undefined;
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("//")) {
    let abs: URL;
    try {
      abs = new URL(url, baseUrl);
    } catch {
      return undefined;
    }
    if (!abs.href.startsWith(baseUrl)) return undefined;
    path = abs.pathname.slice(new URL(baseUrl).pathname.length);
  } else if (url.startsWith("/")) {
    const basePath = new URL(baseUrl).pathname;
    const p = url.split(/[?#]/)[0]!;
    path = p.startsWith(basePath) ? p.slice(basePath.length) : p.slice(1);
  } else {
    path = posix.join(dir === "" ? "." : dir, url.split(/[?#]/)[0]!);
    if (url.split(/[?#]/)[0] === "") return undefined;
  }
  path = path.split(/[?#]/)[0]!;
  try {
    path = decodeURIComponent(path);
  } catch {
    // a malformed escape: checked as written
  }
  const normal = posix.normalize(path).replace(/^(\.\.\/)+/, "");
  return normal === "." ? "" : normal.replace(/^\.\//, "");
}
