import type { ContentConfig, EnrichConfig } from "../config/index.ts";
import type { Logger } from "../log/index.ts";

/** The part of a site `runEnrich` needs: a `SiteContext` fits. */
export interface EnrichSiteInput {
  name: string;
  /** Absolute path of sites/<name>/. */
  dir: string;
  config: {
    name?: string | undefined;
    domain?: string | undefined;
    url?: string | undefined;
    enrich: EnrichConfig;
    content: Pick<ContentConfig, "language"> & Partial<ContentConfig>;
  };
  paths: { export: string; articles: string; output: string };
}

/** Options of `runEnrich`. */
export interface RunEnrichOptions {
  site: EnrichSiteInput;
  /** Compute the report without writing or removing anything. @default false */
  dryRun?: boolean;
  logger?: Logger;
  /**
   * Cache of rendered article bodies and navigation edits between runs (makes re-runs fast; safe to delete).
   * The CLI keeps it in .siteloom/enrich/<site>.json. @default no cache
   */
  cacheFile?: string | undefined;
}

/** A page or file left alone, and why. */
export interface SkippedItem {
  path: string;
  reason: string;
}

/** What `runEnrich` did (or, with dryRun, would do). */
export interface EnrichReport {
  site: string;
  dryRun: boolean;
  /** Layout page used for article pages. */
  template: string;
  /** Layout page used for listing pages (the article layout when the site has no listing page). */
  listingTemplate: string;
  /** Region the article fills (the configured selector, or the detected one). */
  contentSelector: string;
  /** What the layout model decided and why (`siteloom enrich <site> --explain`). */
  layout: { article: LayoutExplanation; listing: LayoutExplanation };
  encoding: string;
  articles: { published: number; drafts: number; invalid: number };
  /** Output paths created or changed. */
  written: string[];
  /** Output files already up to date (bytes and mtime kept). */
  unchanged: number;
  /** Output paths deleted (removed articles, files gone from export/). */
  removed: string[];
  skipped: SkippedItem[];
  warnings: string[];
  durationMs: number;
}

/** Why a page was taken as a layout, and what the layout model made of it. */
export interface LayoutExplanation {
  page: string;
  /** Why this page (its signals: an article path, one <article>, BlogPosting JSON-LD...). */
  why: string;
  /** Selector of the region the article fills: put it in enrich.contentSelector to pin it. */
  region: string;
  regionWhy: string;
  /** Parts every page shares, kept on generated pages. */
  chrome: string[];
  /** Parts of the layout page that are its own (a masthead, its title): left out of generated pages. */
  pageSpecific: string[];
}
