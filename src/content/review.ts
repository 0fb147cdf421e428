import { join } from "node:path";
import { parseDocument, stringify } from "yaml";
import type { SiteConfig } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { type EventAction, publishEvent } from "../events.ts";
import type { StateStore } from "../store/index.ts";
import { type Article, ArticleSchema, type ArticleStatus, type ReviewEntry, SLUG_PATTERN } from "./article.ts";
import { pushSharedArticle } from "./article-sync.ts";
import { countWords } from "./links.ts";
import { loadArticle, loadArticles, writeArticle } from "./store.ts";

const SLUG_RE = new RegExp(SLUG_PATTERN);

/** A review decision: `approve` makes an article `ready` (published), `reject` keeps it out and its topic too. */
export type ReviewAction = "approve" | "reject";

/** Where a review change happens: the site's articles folder, and who acts. */
export interface ReviewTarget {
  site: string;
  /** `sites/<site>/articles` (absolute). */
  dir: string;
  /** The environment the change is recorded under (audit). */
  env: string;
  /** Who acts: the OS user / SITELOOM_ACTOR on the CLI, the token name over the API. */
  actor: string;
  /** Where the change came from, for the audit log. @default "cli" */
  source?: string;
  /** Clock. @default () => new Date() */
  now?: () => Date;
  /**
   * The workspace's state store: where articles live there (PostgreSQL), each change is written there too, so every
   * machine sees it. The caller brings the folder in step first (`pullSharedArticles`).
   */
  store?: StateStore | undefined;
}

export interface ReviewOptions extends ReviewTarget {
  action: ReviewAction;
  /** Slugs to change; with `allDrafts`, every draft of the site instead. */
  slugs?: readonly string[];
  allDrafts?: boolean;
  /** Why (reject); kept in the article's review history. */
  reason?: string | undefined;
}

/** What a review change did to one article. */
export interface ReviewChange {
  slug: string;
  from: ArticleStatus;
  to: ArticleStatus;
  /** False when the article already had the target status (nothing written). */
  changed: boolean;
}

/** A one-screen view of an article for lists and the console. */
export interface ArticleSummary {
  site: string;
  slug: string;
  title: string;
  status: ArticleStatus;
  wordCount: number;
  links: number;
  costUsd: number;
  model: string;
  publishedAt: string;
  updatedAt?: string | undefined;
  /** The last review decision or edit, when there is one. */
  lastReview?: ReviewEntry | undefined;
}

/** Top-level article fields `articles edit` lets a person change (in the front matter); the body is the Markdown. */
export const EDITABLE_FIELDS = [
  "title",
  "metaDescription",
  "excerpt",
  "keywords",
  "category",
  "tags",
  "faq",
  "author",
  "publishedAt",
  "image",
  "translationKey",
] as const;

const TARGET: Record<ReviewAction, ArticleStatus> = { approve: "ready", reject: "rejected" };

/**
 * Whether generated articles wait for approval: `content.review`, else `required` in the production environment and
 * off elsewhere.
 */
export function reviewRequired(config: Pick<SiteConfig, "content">, env: string): boolean {
  const review = config.content.review;
  return review === undefined ? env === "production" : review === "required";
}

export function summarizeArticle(site: string, article: Article): ArticleSummary {
  return {
    site,
    slug: article.slug,
    title: article.title,
    status: article.status,
    wordCount: article.wordCount,
    links: article.internalLinks.length,
    costUsd: article.usage.costUsd,
    model: article.generatedBy.model,
    publishedAt: article.publishedAt,
    ...(article.updatedAt ? { updatedAt: article.updatedAt } : {}),
    ...(article.review?.length ? { lastReview: article.review[article.review.length - 1] } : {}),
  };
}

/**
 * Approves or rejects articles of one site. Plans first (every slug must name a valid article, and the transition
 * must be allowed) and writes only then; each written change appends a review entry (who, when, from what status)
 * and publishes an `articles.<action>` event for the audit log. Approving a ready article changes nothing.
 */
export async function reviewArticles(options: ReviewOptions): Promise<ReviewChange[]> {
  const now = options.now ?? (() => new Date());
  const to = TARGET[options.action];
  let targets: Article[];
  if (options.allDrafts) {
    const loaded = await loadArticles(options.dir);
    targets = loaded.articles.map((a) => a.article).filter((a) => a.status === "draft");
  } else {
    if (!options.slugs?.length) {
      throw new SiteloomError("ERR_USAGE", `name the articles to ${options.action} (slugs), or use --all-drafts`);
    }
    targets = [];
    for (const slug of new Set(options.slugs)) targets.push(await loadReviewArticle(options, slug));
  }
  const reason = options.reason?.trim() || undefined;
  const plan = targets.map((article) => ({ article, change: { slug: article.slug, from: article.status, to } }));
  const changes: ReviewChange[] = [];
  for (const { article, change } of plan) {
    if (change.from === to) {
      changes.push({ ...change, changed: false });
      continue;
    }
    const entry: ReviewEntry = {
      action: options.action,
      from: change.from,
      to,
      by: options.actor,
      at: now().toISOString(),
      ...(reason ? { reason } : {}),
    };
    await _write(options, { ...article, status: to, review: [...(article.review ?? []), entry] }, options.action);
    changes.push({ ...change, changed: true });
  }
  return changes;
}

/** One article of the site by slug; ERR_NOT_FOUND names the site and the slug. */
export async function loadReviewArticle(target: Pick<ReviewTarget, "dir" | "site">, slug: string): Promise<Article> {
  if (!SLUG_RE.test(slug)) {
    throw new SiteloomError("ERR_USAGE", `"${slug}" is not an article slug (lowercase letters, digits and dashes)`);
  }
  try {
    return await loadArticle(join(target.dir, `${slug}.json`));
  } catch (error) {
    // loadArticle wraps the read error; a missing file is a wrong slug, not a broken article
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      throw new SiteloomError(
        "ERR_NOT_FOUND",
        `site ${target.site} has no article "${slug}"; list them with siteloom articles list --site ${target.site}`,
      );
    }
    throw error;
  }
}

/**
 * The text a person edits: YAML front matter with the editable metadata, then the Markdown body. `applyArticleEdit`
 * reads it back.
 */
export function formatArticleForEdit(article: Article): string {
  const meta: Record<string, unknown> = {};
  for (const key of EDITABLE_FIELDS) if (article[key] !== undefined) meta[key] = article[key];
  return `---\n${stringify(meta, { lineWidth: 0 })}---\n${article.bodyMarkdown.replace(/\n*$/, "\n")}`;
}

/**
 * Validates an edited text against the article it came from: returns the new article (word count, reading time and
 * `updatedAt` recomputed, an `edit` entry appended) or throws ERR_ARTICLE_INVALID listing every problem. Writes
 * nothing.
 */
export function applyArticleEdit(article: Article, text: string, by: string, now: Date = new Date()): Article {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!match) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", "the edited text must start with front matter between --- lines");
  }
  const doc = parseDocument(match[1] ?? "");
  if (doc.errors.length > 0) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", `front matter is not valid YAML: ${doc.errors[0]?.message}`);
  }
  const meta = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof meta !== "object" || Array.isArray(meta)) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", "front matter must be a mapping of fields (title: ...)");
  }
  const problems: string[] = [];
  for (const key of Object.keys(meta)) {
    if (!(EDITABLE_FIELDS as readonly string[]).includes(key)) {
      problems.push(`${key}: not an editable field (editable: ${EDITABLE_FIELDS.join(", ")})`);
    }
  }
  const body = (match[2] ?? "").trim();
  const wordCount = countWords(body);
  const next: Record<string, unknown> = { ...article };
  for (const key of EDITABLE_FIELDS) {
    if (key in meta) next[key] = meta[key] === null ? undefined : meta[key];
    else delete next[key];
  }
  Object.assign(next, {
    bodyMarkdown: body,
    wordCount,
    readingTimeMinutes: Math.max(1, Math.ceil(wordCount / 200)),
    updatedAt: now.toISOString(),
    review: [
      ...(article.review ?? []),
      { action: "edit", from: article.status, to: article.status, by, at: now.toISOString() },
    ],
  });
  for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
  const result = ArticleSchema.safeParse(next);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join(".");
      problems.push(`${path === "bodyMarkdown" ? "body" : path || "(root)"}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", `the edit of ${article.slug} is not valid; nothing was saved`, {
      details: problems,
    });
  }
  return result.data;
}

/** Validates an edited text and saves it (atomically; the file is unchanged when the text is invalid). */
export async function saveArticleEdit(target: ReviewTarget, slug: string, text: string): Promise<Article> {
  const current = await loadReviewArticle(target, slug);
  const next = applyArticleEdit(current, text, target.actor, (target.now ?? (() => new Date()))());
  await _write(target, next, "edit");
  return next;
}

// --- internal ---

async function _write(target: ReviewTarget, article: Article, action: ReviewAction | "edit"): Promise<void> {
  const event = {
    action: `articles.${action}` as EventAction,
    ref: `article://${target.site}/${article.slug}`,
    env: target.env,
    actor: target.actor,
    source: target.source ?? "cli",
  };
  try {
    await writeArticle(target.dir, article);
    if (target.store) await pushSharedArticle(target.store, target.site, target.dir, article.slug);
  } catch (error) {
    publishEvent({ ...event, outcome: "error", error: (error as SiteloomError).code ?? "ERR_INTERNAL" });
    throw error;
  }
  publishEvent({ ...event, outcome: "ok" });
}
