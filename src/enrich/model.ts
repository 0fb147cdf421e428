import { createHash } from "node:crypto";
import { type Article, slugify } from "../content/index.ts";

/** What every page of the blog needs to know about the site. */
export interface SiteInfo {
  /** Public base URL, ending with "/". */
  baseUrl: string;
  host: string;
  /** Display name (config `name`, else the domain). */
  name: string;
  /** Default language of the site (BCP 47). */
  language: string;
  organization: { name: string; logo?: string };
  /** Blog folder, site-relative without slashes ("blog"). */
  blogPath: string;
  /** hreflang languages from the config. */
  languages: string[];
  perPage: number;
  feedItems: number;
}

/** One published article and where it lives. */
export interface ArticleEntry {
  article: Article;
  /** Hash of the article file's content (cache key of its rendered body). */
  hash: string;
  /** Site-relative folder ("blog/my-post"). */
  dir: string;
  /** Site-relative file ("blog/my-post/index.html"). */
  path: string;
  /** Absolute canonical URL. */
  url: string;
  published: string;
  modified: string;
  category?: Taxonomy;
  tags: Taxonomy[];
  /** A draft rendered as a preview (enrich.drafts: preview): noindex, kept out of the sitemap and feeds. */
  draft: boolean;
}

/** A category or tag and its folder. */
export interface Taxonomy {
  name: string;
  slug: string;
}

/**
 * Folder name of a category or tag: the slug articles get (content's `slugify`, which transliterates Cyrillic and
 * Greek), so "Хлеб" is "khleb" in both. A name with nothing to transliterate (Chinese, emoji) still needs a folder: a
 * short hash of it.
 */
export function taxonomySlug(name: string): string {
  return slugify(name) || `t-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

/** Keeps an ISO timestamp that has an offset as written (RFC 3339 / W3C datetime); otherwise normalises to UTC. */
export function isoWithOffset(value: string): string {
  return /(?:Z|[+-]\d{2}:\d{2})$/.test(value) ? value : new Date(value).toISOString();
}

/** RFC 822 date as RSS 2.0 wants it ("Mon, 05 Jan 2026 09:00:00 GMT"). */
export function rfc822(value: string): string {
  return new Date(value).toUTCString();
}

/** RFC 3339 date in UTC ("2026-01-05T09:00:00.000Z" → without milliseconds). */
export function rfc3339(value: string): string {
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Human date in the article's language, from the calendar date the author wrote (no time-zone shift). */
export function humanDate(value: string, language: string): string {
  const day = value.slice(0, 10);
  const key = `${language} ${day}`;
  const known = HUMAN_DATES.get(key);
  if (known !== undefined) return known;
  const text = _formatDay(day, language);
  HUMAN_DATES.set(key, text);
  return text;
}

function _formatDay(day: string, language: string): string {
  const date = new Date(`${day}T12:00:00Z`);
  try {
    // Building a formatter costs far more than using one; a site has few languages.
    let format = DATE_FORMATS.get(language);
    if (!format) {
      format = new Intl.DateTimeFormat(language, { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
      DATE_FORMATS.set(language, format);
    }
    return format.format(date);
  } catch {
    return day;
  }
}

/** Open Graph locale: "en" → "en_US", "de-AT" → "de_AT". */
export function ogLocale(language: string): string {
  const [lang = "en", region] = language.replace("_", "-").split("-");
  if (region) return `${lang.toLowerCase()}_${region.toUpperCase()}`;
  return `${lang.toLowerCase()}_${OG_REGIONS[lang.toLowerCase()] ?? lang.toUpperCase()}`;
}

/** The newest of some ISO timestamps (by instant). */
export function newest(values: string[]): string | undefined {
  let best: string | undefined;
  for (const v of values) if (best === undefined || Date.parse(v) > Date.parse(best)) best = v;
  return best;
}

// --- internal ---

const DATE_FORMATS = new Map<string, Intl.DateTimeFormat>();
const HUMAN_DATES = new Map<string, string>();

const OG_REGIONS: Record<string, string> = {
  en: "US",
  de: "DE",
  fr: "FR",
  es: "ES",
  it: "IT",
  nl: "NL",
  pt: "PT",
  sv: "SE",
  da: "DK",
  nb: "NO",
  fi: "FI",
  pl: "PL",
  cs: "CZ",
  ja: "JP",
  zh: "CN",
  ko: "KR",
  el: "GR",
  uk: "UA",
  ru: "RU",
  tr: "TR",
  ar: "AR",
  he: "IL",
};
