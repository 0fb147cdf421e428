import type { InternalLink } from "./article.ts";
import type { LinkTarget } from "./prompts.ts";

/** The set of URLs that exist on the site, in a normalised form. */
export interface LinkIndex {
  /** The normalised known URL for `url`, or undefined when no such page exists. */
  find(url: string): string | undefined;
  /** Whether `url` points into this site (relative, or absolute on the site's host). */
  isInternal(url: string): boolean;
}

export interface CheckedLinks {
  bodyMarkdown: string;
  internalLinks: InternalLink[];
  /** URLs removed because no such page exists. */
  removed: string[];
}

/** Builds the index from the exported pages and the articles (existing and planned); `siteUrl` marks own-host links. */
export function createLinkIndex(targets: LinkTarget[], siteUrl?: string): LinkIndex {
  const host = siteUrl ? _host(siteUrl) : undefined;
  const known = new Map<string, string>();
  for (const target of targets) {
    const key = _normalize(target.url);
    known.set(key, target.url);
    // "/about.html" is also reachable as "/about" on most hosts; models often drop the extension
    if (/\.html?$/.test(key)) known.set(key.replace(/\.html?$/, ""), target.url);
  }
  const index: LinkIndex = {
    isInternal(url) {
      if (url.startsWith("#") || /^(mailto|tel|javascript|data):/i.test(url)) return false;
      if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("//")) return host !== undefined && _host(url) === host;
      return true;
    },
    find(url) {
      let path = url;
      if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("//")) {
        try {
          path = new URL(url, "http://x").pathname;
        } catch {
          return undefined;
        }
      }
      return known.get(_normalize(path));
    },
  };
  return index;
}

/**
 * Removes Markdown links to pages of this site that do not exist (keeping their text), and returns the internal
 * links that remain: those in the body first, then valid ones the model listed.
 */
export function checkLinks(bodyMarkdown: string, listed: InternalLink[], index: LinkIndex): CheckedLinks {
  const removed: string[] = [];
  const links: InternalLink[] = [];
  const seen = new Set<string>();
  const add = (url: string, anchor: string) => {
    if (seen.has(url) || !anchor.trim()) return;
    seen.add(url);
    links.push({ url, anchor: anchor.trim() });
  };
  const body = bodyMarkdown.replace(
    /(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    (whole, bang: string, text: string, url: string) => {
      if (bang || !index.isInternal(url)) return whole;
      const found = index.find(url);
      if (found) {
        add(found, text);
        return whole;
      }
      removed.push(url);
      return text;
    },
  );
  for (const link of listed) {
    if (!index.isInternal(link.url)) continue;
    const found = index.find(link.url);
    if (found) add(found, link.anchor);
    else if (!removed.includes(link.url)) removed.push(link.url);
  }
  return { bodyMarkdown: body, internalLinks: links, removed };
}

/** Words of a Markdown text as a reader counts them (link URLs, markup and code fences' markers left out). */
export function countWords(markdown: string): number {
  const text = markdown
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, " ")
    .replace(/[#*_>`~|-]+/g, " ");
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}

// --- internal ---

function _normalize(url: string): string {
  let path = url.split(/[?#]/)[0] ?? "";
  if (!path.startsWith("/")) path = `/${path}`;
  path = path.replace(/\/index\.html?$/i, "/");
  if (path.length > 1) path = path.replace(/\/+$/, "");
  try {
    path = decodeURI(path);
  } catch {
    // keep as is
  }
  return path.toLowerCase();
}

function _host(url: string): string | undefined {
  try {
    return new URL(url.startsWith("//") ? `http:${url}` : url).host.replace(/^www\./, "").toLowerCase();
  } catch {
    return undefined;
  }
}
