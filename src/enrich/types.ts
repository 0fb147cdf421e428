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
  /** Layout page used for generated pages. */
  template: string;
  contentSelector: string;
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
