import { z } from "zod";

/** Bumped when the article file format changes incompatibly; readers accept only versions they know. */
export const ARTICLE_SCHEMA_VERSION = 1;

/** An article slug: lowercase ASCII letters and digits in dash-separated runs (the API's JSON schemas use it too). */
export const SLUG_PATTERN = "^[a-z0-9]+(?:-[a-z0-9]+)*$";

export const FaqItemSchema = z.strictObject({
  question: z.string().min(1),
  answer: z.string().min(1),
});

export const InternalLinkSchema = z.strictObject({
  /** Site-relative URL ("/about.html", "/blog/other-post/"). */
  url: z.string().min(1),
  anchor: z.string().min(1),
});

export const ArticleImageSchema = z.strictObject({
  /** Site-relative or absolute URL. */
  url: z.string().min(1),
  alt: z.string().min(1),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});

/** Where an article stands in editorial review: only `ready` articles are published, deployed or enriched. */
export const ARTICLE_STATUSES = ["draft", "ready", "rejected"] as const;
export type ArticleStatus = (typeof ARTICLE_STATUSES)[number];

/** One review decision or edit, newest last in `Article.review`. */
export const ReviewEntrySchema = z.strictObject({
  action: z.enum(["approve", "reject", "edit"]),
  from: z.enum(ARTICLE_STATUSES),
  to: z.enum(ARTICLE_STATUSES),
  /** Who: the OS user or SITELOOM_ACTOR on the CLI, the token name over the API. */
  by: z.string().min(1),
  /** ISO 8601 with offset. */
  at: z.string().datetime({ offset: true }),
  reason: z.string().max(500).optional(),
});

/** One generated article: `sites/<name>/articles/<slug>.json`. */
export const ArticleSchema = z.strictObject({
  schemaVersion: z.literal(ARTICLE_SCHEMA_VERSION),
  /** Stable id: hash of the topic row that produced it. */
  id: z.string().min(1),
  /** Unique in the site, URL-safe ASCII. */
  slug: z.string().regex(new RegExp(SLUG_PATTERN), "expected a lowercase URL-safe slug"),
  title: z.string().min(1).max(200),
  metaDescription: z.string().min(1).max(160),
  excerpt: z.string().min(1),
  bodyMarkdown: z.string().min(1),
  outline: z.array(z.string()),
  keywords: z.array(z.string()),
  category: z.string().optional(),
  tags: z.array(z.string()),
  faq: z.array(FaqItemSchema),
  wordCount: z.number().int().nonnegative(),
  readingTimeMinutes: z.number().int().positive(),
  language: z.string().min(2),
  author: z.string().optional(),
  /** ISO 8601 with offset. */
  publishedAt: z.string().datetime({ offset: true }),
  /** ISO 8601 with offset; defaults to publishedAt when absent. */
  updatedAt: z.string().datetime({ offset: true }).optional(),
  status: z.enum(ARTICLE_STATUSES),
  /** Review decisions and edits (who, when, from what status), oldest first. */
  review: z.array(ReviewEntrySchema).optional(),
  /**
   * Articles that are translations of each other share this key (any string, e.g. the English slug); with
   * `enrich.languages` set, their pages name each other as hreflang alternates.
   */
  translationKey: z.string().min(1).optional(),
  image: ArticleImageSchema.optional(),
  internalLinks: z.array(InternalLinkSchema),
  generatedBy: z.strictObject({
    provider: z.string(),
    model: z.string(),
    promptVersion: z.string(),
  }),
  usage: z.strictObject({
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    costUsd: z.number().nonnegative(),
  }),
});

export type Article = z.infer<typeof ArticleSchema>;
export type ReviewEntry = z.infer<typeof ReviewEntrySchema>;
export type FaqItem = z.infer<typeof FaqItemSchema>;
export type InternalLink = z.infer<typeof InternalLinkSchema>;
