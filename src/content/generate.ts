import pLimit from "p-limit";
import { z } from "zod";
import type { LlmConfig } from "../config/index.ts";
import { type ErrorCode, SiteloomError } from "../errors.ts";
import { removeStaleTempFiles } from "../files.ts";
import type { Secret } from "../secret.ts";
import type { CallLimiter, StateStore } from "../store/index.ts";
import { openWorkspaceStore, type SiteContext, type Workspace } from "../workspace/index.ts";
import { ARTICLE_SCHEMA_VERSION, type Article } from "./article.ts";
import { pullSharedArticles, pushSharedArticle } from "./article-sync.ts";
import { type BudgetGuard, createBudgetGuard } from "./budget.ts";
import { createLedger, currentMonth } from "./ledger.ts";
import { checkLinks, countWords, createLinkIndex } from "./links.ts";
import { createLlmClient, type LlmClient } from "./llm.ts";
import { llmCallLimiter } from "./llm-limits.ts";
import { buildOfflineArticle, OFFLINE_MODEL } from "./offline.ts";
import { costOf, type ModelPrice, resolvePrice } from "./prices.ts";
import {
  type ArticleOutput,
  ArticleOutputSchema,
  articlePrompt,
  type LinkTarget,
  MAX_LINK_TARGETS,
  type OutlineOutput,
  OutlineOutputSchema,
  outlinePrompt,
  PROMPT_VERSION,
  type PromptContext,
  repairNote,
  systemPrompt,
} from "./prompts.ts";
import { reviewRequired } from "./review.ts";
import { loadSitePages } from "./site-pages.ts";
import { normalizeTitle } from "./slug.ts";
import { loadArticle, loadArticles, type StoredArticle, writeArticle } from "./store.ts";
import { loadTopics, type Topic } from "./topics.ts";

/** Model calls per article when nothing needs repair: outline, then article. */
export const CALLS_PER_ARTICLE = 2;
/** Rough characters per token, for estimates only (billing uses the provider's reported usage). */
const CHARS_PER_TOKEN = 4;
/** Expected output tokens of the outline call. */
const OUTLINE_OUTPUT_TOKENS = 400;
/** Output cap of the outline call (an outline is short; the cap bounds its reservation). */
const OUTLINE_MAX_OUTPUT_TOKENS = 1500;
/**
 * Reservations need an upper bound of a call's input tokens before it is made: one token per 2 UTF-8 bytes of the
 * prompts and the JSON schema (tokenizers average 3-4 bytes per token for prose, ~3 for CJK), plus the request's
 * fixed framing (roles, tool definitions).
 */
const BYTES_PER_TOKEN_BOUND = 2;
const REQUEST_OVERHEAD_TOKENS = 500;

export interface GenerateOptions {
  workspace: Workspace;
  site: SiteContext;
  /** Generate at most this many articles (skipped topics do not count). */
  limit?: number | undefined;
  /** Regenerate topics whose article exists (and replace articles whose slug a topic duplicates). */
  force?: boolean | undefined;
  /** Plan and estimate only: no model calls, no files, no ledger entries. */
  dryRun?: boolean | undefined;
  /** fetch handed to the provider SDK (tests, proxies). */
  fetch?: typeof fetch;
  /** Backoff base for 5xx/network retries. @default 1000 */
  retryBaseMs?: number;
  /** Clock (publishedAt, ledger times). @default () => new Date() */
  now?: () => Date;
  /** Progress events, in order. */
  onEvent?: (event: GenerateEvent) => void;
  /** Stops the run: calls in flight are aborted and nothing more is started. */
  signal?: AbortSignal;
  /** State store holding the cost ledger and budget reservations. @default the workspace's (opened and closed) */
  store?: StateStore;
}

export type GenerateEvent =
  | { type: "warning"; message: string }
  | { type: "start"; total: number }
  | { type: "generated"; item: GeneratedItem }
  | { type: "failed"; item: FailedItem }
  | { type: "retry"; attempt: number; delayMs: number; reason: string };

export interface GeneratedItem {
  topic: string;
  line: number;
  slug: string;
  file: string;
  wordCount: number;
  costUsd: number;
  /** Links to pages that do not exist, removed from the article. */
  removedLinks: string[];
}

export interface SkippedItem {
  topic: string;
  line: number;
  slug: string;
  /** `stopped`: not started because the run stopped (budget, refused key, interrupt). */
  reason: "exists" | "duplicate" | "limit" | "stopped" | "rejected";
  detail: string;
}

export interface FailedItem {
  topic: string;
  line: number;
  slug: string;
  code: string;
  message: string;
}

export interface PlannedItem {
  topic: string;
  line: number;
  slug: string;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  /** Null when the model's price is unknown. */
  estimatedCostUsd: number | null;
}

export interface GenerateReport {
  site: string;
  provider: string;
  model: string;
  dryRun: boolean;
  /** Rows in topics.csv. */
  topics: number;
  planned: PlannedItem[];
  generated: GeneratedItem[];
  skipped: SkippedItem[];
  failed: FailedItem[];
  estimate: { inputTokens: number; outputTokens: number; costUsd: number | null };
  /** USD spent by this run. */
  costUsd: number;
  month: { month: string; spentUsd: number; budgetUsd: number | null; leftUsd: number | null };
  warnings: string[];
  /**
   * Set when the run stopped (or, in a dry run, would stop) as a whole: a budget (ERR_BUDGET_EXCEEDED) or a refused
   * API key (ERR_LLM_AUTH). The topics not started are skipped with reason `stopped`.
   */
  stopped?: { code: ErrorCode; message: string };
  /** The message of `stopped` when a budget stopped the run. */
  budgetStop?: string;
}

/**
 * Generates the articles of one site: topics.csv → (outline → article) per topic → `articles/<slug>.json`.
 * Idempotent: topics whose article exists are skipped, so a killed run is simply run again.
 */
export async function runGenerate(options: GenerateOptions): Promise<GenerateReport> {
  const store = options.store ?? openWorkspaceStore(options.workspace);
  const month = currentMonth((options.now ?? (() => new Date()))());
  const { site } = options;
  const budget = createBudgetGuard({
    store,
    month,
    site: site.name,
    maxMonthlyUsd: site.config.budgets.maxMonthlyCost,
  });
  try {
    // the old ledger.jsonl (if any) is imported before the first budget check
    await createLedger(options.workspace.stateDir, store).read({ month });
    // with PostgreSQL the articles live in the store: the folder is brought in step first (the topics another machine
    // finished are done here too), and every article written goes to the store before its paid answer is dropped
    const dir = options.site.paths.articles;
    const site = options.site.name;
    for (const slug of options.dryRun ? [] : await pullSharedArticles(store, site, dir)) {
      options.onEvent?.({
        type: "warning",
        message: `${slug}: edited here and changed in the store; kept this copy (\`siteloom articles import ${site} ${dir}\` stores it)`,
      });
    }
    const mirror = (slug: string) => pushSharedArticle(store, site, dir, slug);
    return await _runGenerate(options, budget, month, llmCallLimiter(store, options.site.config.llm), mirror);
  } finally {
    budget.close();
    if (!options.store) await store.close();
  }
}

// --- internal ---

async function _runGenerate(
  options: GenerateOptions,
  budget: BudgetGuard,
  month: string,
  limiter: CallLimiter,
  mirror: (slug: string) => Promise<void>,
): Promise<GenerateReport> {
  const { site, workspace } = options;
  const now = options.now ?? (() => new Date());
  const llm = site.config.llm;
  const content = site.config.content;
  const budgets = site.config.budgets;
  const offline = llm.provider === "offline";
  const model = offline ? OFFLINE_MODEL : llm.model;
  const { topics, warnings } = await loadTopics(site.paths.topics);
  const stored = await loadArticles(site.paths.articles);
  for (const line of stored.invalid) warnings.push(`invalid article ignored: ${line}`);
  const pages = await loadSitePages(site.paths.export);
  const blogPath = site.config.enrich.blogPath.replace(/^\/+|\/+$/g, "");
  const articleUrl = (slug: string) => `/${blogPath ? `${blogPath}/` : ""}${slug}/`;

  const { queue, skipped } = _plan(topics, stored.articles, pages, Boolean(options.force));
  const limited = options.limit !== undefined ? queue.slice(0, options.limit) : queue;
  for (const topic of queue.slice(limited.length)) {
    skipped.push({ topic: topic.topic, line: topic.line, slug: topic.slug, reason: "limit", detail: "beyond --limit" });
  }

  // link targets: exported pages, existing articles, and the other topics of this run (first one of a URL wins)
  const byUrl = new Map<string, LinkTarget>();
  for (const target of [
    ...pages,
    ...stored.articles.map(({ article }) => ({ url: articleUrl(article.slug), title: article.title })),
    ...limited.map((t) => ({ url: articleUrl(t.slug), title: t.topic })),
  ]) {
    if (!byUrl.has(target.url)) byUrl.set(target.url, target);
  }
  const linkTargets = [...byUrl.values()];
  // the prompt lists at most MAX_LINK_TARGETS pages: one more than that, minus the topic's own, is all a topic needs
  const promptTargets = linkTargets.slice(0, MAX_LINK_TARGETS + 1);
  const sharedTargets = promptTargets.slice(0, MAX_LINK_TARGETS);
  const sharedUrls = new Set(sharedTargets.map((t) => t.url));
  const siteUrl = site.config.url ?? (site.config.domain ? `https://${site.config.domain}/` : undefined);
  const linkIndex = createLinkIndex(linkTargets, siteUrl);
  const contextFor = (topic: Topic): PromptContext => {
    const own = articleUrl(topic.slug);
    return {
      siteName: site.config.name ?? site.config.domain ?? site.name,
      language: topic.language ?? content.language,
      minWords: topic.minWords ?? Math.min(content.minWords, topic.maxWords ?? content.minWords),
      maxWords: topic.maxWords ?? Math.max(content.maxWords, topic.minWords ?? content.maxWords),
      tone: topic.tone ?? content.tone,
      audience: topic.audience ?? content.audience,
      // one shared list (and prompt text) for every topic not in it; its own neighbours for those that are
      linkTargets: sharedUrls.has(own)
        ? promptTargets.filter((t) => t.url !== own).slice(0, MAX_LINK_TARGETS)
        : sharedTargets,
    };
  };
  // titles a generated article must not take: exported pages and other articles (caught before paying for the body)
  const takenTitles = _titleIndex(pages, stored.articles, articleUrl);

  const price = offline ? { input: 0, output: 0 } : resolvePrice(llm.provider, llm.model, llm.prices);
  // the offline provider makes no calls: nothing to estimate
  const planned = limited.map((topic) =>
    offline
      ? {
          topic: topic.topic,
          line: topic.line,
          slug: topic.slug,
          estimatedInputTokens: 0,
          estimatedOutputTokens: 0,
          estimatedCostUsd: 0,
        }
      : _estimate(topic, contextFor(topic), price, llm),
  );
  const estimate = {
    inputTokens: _sum(planned.map((p) => p.estimatedInputTokens)),
    outputTokens: _sum(planned.map((p) => p.estimatedOutputTokens)),
    costUsd: price ? _round(_sum(planned.map((p) => p.estimatedCostUsd ?? 0))) : null,
  };
  // calls in flight in other processes count: their reservations are part of what is spent
  const atStart = await budget.spend();
  const spentUsd = _round(atStart.settledUsd + atStart.reservedUsd);
  const budgetUsd = budgets.maxMonthlyCost ?? null;
  const report: GenerateReport = {
    site: site.name,
    provider: llm.provider,
    model,
    dryRun: Boolean(options.dryRun),
    topics: topics.length,
    planned,
    generated: [],
    skipped,
    failed: [],
    estimate,
    costUsd: 0,
    month: {
      month,
      spentUsd,
      budgetUsd,
      leftUsd: budgetUsd === null ? null : _round(Math.max(0, budgetUsd - spentUsd)),
    },
    warnings,
  };
  if (!price) {
    const fix = `add llm.prices["${llm.model}"] = { input, output } (USD per 1M tokens)`;
    if (budgets.maxMonthlyCost !== undefined || budgets.maxCostPerArticle !== undefined) {
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `no price is known for model ${llm.model}, so budgets cannot be enforced; ${fix}`,
        {
          site: site.name,
        },
      );
    }
    warnings.push(`no price is known for model ${llm.model}; costs are recorded as 0 — ${fix}`);
  }
  if (offline) {
    warnings.push("llm.provider is offline: writing clearly-marked sample drafts, not real articles");
  }
  for (const message of warnings) options.onEvent?.({ type: "warning", message });
  if (limited.length === 0) return report;
  const refusal = _checkBudgetsAtStart(planned, budgets, spentUsd, Boolean(options.dryRun));
  if (refusal) {
    _stop(report, "ERR_BUDGET_EXCEEDED", refusal);
    if (!options.dryRun) {
      for (const p of planned) _skipStopped(report, p, refusal);
      report.planned = [];
    }
    return report;
  }
  if (options.dryRun) return report;

  await removeStaleTempFiles(site.paths.articles);
  const apiKey = offline ? undefined : await _apiKey(llm, workspace, site.name);
  const client = offline
    ? undefined
    : createLlmClient({
        config: llm,
        apiKey,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
        limiter,
        onRetry: (info) => options.onEvent?.({ type: "retry", ...info }),
        onWarning: (message) => {
          report.warnings.push(message);
          options.onEvent?.({ type: "warning", message });
        },
      });

  // one controller for the whole run: a refused key aborts the calls of every worker at once
  const halt = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, halt.signal]) : halt.signal;
  const state: RunState = { spentUsd, stop: undefined };
  const previousBySlug = new Map(stored.articles.map(({ article }) => [article.slug, article]));
  options.onEvent?.({ type: "start", total: limited.length });
  const limit = pLimit(offline ? 1 : llm.concurrency);
  const generateOne = async (topic: (typeof limited)[number]): Promise<void> => {
    if (options.signal?.aborted) return;
    if (state.stop) {
      _skipStopped(report, topic, state.stop.message);
      return;
    }
    try {
      const item = await _generateOne({
        topic,
        ctx: contextFor(topic),
        client,
        budget,
        price: price ?? { input: 0, output: 0 },
        state,
        options,
        signal,
        now,
        articleUrl,
        linkIndex,
        takenTitles,
        previous: previousBySlug.get(topic.slug),
        mirror,
      });
      report.generated.push(item);
      report.costUsd = _round(report.costUsd + item.costUsd);
      options.onEvent?.({ type: "generated", item });
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof SiteloomError && error.code === "ERR_LLM_AUTH") {
        // the same key would be refused for every topic (and providers lock keys after repeated failures)
        state.stop ??= { code: error.code, message: error.message };
        halt.abort(error);
      }
      if (state.stop && halt.signal.aborted && error !== halt.signal.reason) {
        _skipStopped(report, topic, state.stop.message);
        return;
      }
      if (state.stop && error instanceof SiteloomError && error.code === state.stop.code) {
        _skipStopped(report, topic, state.stop.message);
        return;
      }
      const item = _failure(topic, error);
      report.failed.push(item);
      options.onEvent?.({ type: "failed", item });
    }
  };
  await Promise.all(limited.map((topic) => limit(() => generateOne(topic))));
  await _unlinkFailed(report, linkTargets, siteUrl, articleUrl, site.paths.articles, mirror);
  report.costUsd = _round(state.spentUsd - spentUsd);
  const after = await budget.spend();
  report.month.spentUsd = after.settledUsd;
  if (budgetUsd !== null) report.month.leftUsd = _round(Math.max(0, budgetUsd - after.settledUsd));
  if (state.stop) _stop(report, state.stop.code, state.stop.message);
  report.generated.sort((a, b) => a.line - b.line);
  report.failed.sort((a, b) => a.line - b.line);
  report.skipped.sort((a, b) => a.line - b.line);
  return report;
}

// --- internal ---

interface RunState {
  /** Month's spend so far, including this run. */
  spentUsd: number;
  /** Why the run stopped starting calls (monthly budget, refused key). */
  stop: { code: ErrorCode; message: string } | undefined;
}

interface OneOptions {
  /** The article this one replaces (--force), whose publication date is kept. */
  previous: Article | undefined;
  topic: Topic;
  ctx: PromptContext;
  client: LlmClient | undefined;
  budget: BudgetGuard;
  price: ModelPrice;
  state: RunState;
  options: GenerateOptions;
  /** The run's signal: the caller's, or the run halting (a refused key). */
  signal: AbortSignal;
  now: () => Date;
  articleUrl: (slug: string) => string;
  linkIndex: ReturnType<typeof createLinkIndex>;
  /** Normalised titles already used on the site → where (shared by the workers: titles of this run are added). */
  takenTitles: Map<string, string>;
  /** Writes an article just written to the store, where articles live there. */
  mirror: (slug: string) => Promise<void>;
}

async function _generateOne(one: OneOptions): Promise<GeneratedItem> {
  const { topic, ctx, client, options } = one;
  const site = options.site;
  const content = site.config.content;
  let outline: OutlineOutput;
  let draft: ArticleOutput;
  const spent = { usd: 0, inputTokens: 0, outputTokens: 0 };
  if (!client) {
    ({ outline, article: draft } = buildOfflineArticle(topic, ctx));
  } else {
    const call = _caller(one, spent);
    const own = one.articleUrl(topic.slug);
    outline = await call("outline", OutlineOutputSchema, outlinePrompt(topic, ctx), (o) => {
      const problems = o.sections.length === 0 ? ["sections: the outline has no sections"] : [];
      // a title the model invented may duplicate a page or article: caught before the article is paid for
      const taken = _takenBy(one.takenTitles, o.title, own);
      if (taken) problems.push(`title: "${o.title}" is already used by ${taken}; choose a different title`);
      return problems;
    });
    draft = await call("article", ArticleOutputSchema, articlePrompt(topic, ctx, outline), (a) => {
      const problems = _checkDraft(a, ctx);
      const taken = _takenBy(one.takenTitles, a.title, own);
      if (taken) problems.push(`title: "${a.title}" is already used by ${taken}; keep the outline's title`);
      return problems;
    });
    one.takenTitles.set(normalizeTitle(draft.title), own);
  }
  const links = checkLinks(draft.bodyMarkdown, draft.internalLinks, one.linkIndex);
  const wordCount = countWords(links.bodyMarkdown);
  const article: Article = {
    schemaVersion: ARTICLE_SCHEMA_VERSION,
    id: topic.id,
    slug: topic.slug,
    title: draft.title.trim(),
    metaDescription: draft.metaDescription.trim(),
    excerpt: draft.excerpt.trim(),
    bodyMarkdown: links.bodyMarkdown,
    outline: outline.sections.map((s) => s.heading),
    keywords: topic.keywords,
    ...(topic.category ? { category: topic.category } : {}),
    tags: topic.tags,
    faq: draft.faq.filter((f) => f.question.trim() && f.answer.trim()),
    wordCount,
    readingTimeMinutes: Math.max(1, Math.ceil(wordCount / 200)),
    language: ctx.language,
    ...(content.author ? { author: content.author } : {}),
    // a regenerated article keeps its publication date and says when it changed
    publishedAt: topic.publishAt ?? one.previous?.publishedAt ?? one.now().toISOString(),
    ...(one.previous ? { updatedAt: one.now().toISOString() } : {}),
    // sample articles are never "ready", whatever the row or config says; under review nothing starts "ready"
    status: client && !reviewRequired(site.config, options.workspace.env) ? (topic.status ?? content.status) : "draft",
    internalLinks: links.internalLinks,
    generatedBy: {
      provider: site.config.llm.provider,
      model: client ? client.model : OFFLINE_MODEL,
      promptVersion: PROMPT_VERSION,
    },
    usage: { inputTokens: spent.inputTokens, outputTokens: spent.outputTokens, costUsd: _round(spent.usd) },
  };
  const file = await writeArticle(site.paths.articles, article);
  await one.mirror(article.slug);
  if (client) await one.budget.forget(_answerPrefix(site.name, topic.id));
  return {
    topic: topic.topic,
    line: topic.line,
    slug: topic.slug,
    file,
    wordCount,
    costUsd: _round(spent.usd),
    removedLinks: links.removed,
  };
}

/**
 * Makes the structured-output call with bounded repair. Each attempt first reserves its worst-case cost (input bound
 * + the call's output cap) in the state store against the workspace's monthly spend, then settles the real cost into
 * the ledger, or releases the reservation when the call fails.
 */
function _caller(one: OneOptions, spent: { usd: number; inputTokens: number; outputTokens: number }) {
  const { topic, ctx, client, budget, price, state, options } = one;
  const llm = options.site.config.llm;
  const budgets = options.site.config.budgets;
  return async <T>(
    step: "outline" | "article",
    schema: import("zod").ZodType<T>,
    prompt: string,
    validate: (value: T) => string[],
  ): Promise<T> => {
    const system = systemPrompt(ctx);
    const maxOutputTokens =
      step === "outline" ? Math.min(llm.maxOutputTokens, OUTLINE_MAX_OUTPUT_TOKENS) : llm.maxOutputTokens;
    let problems: string[] = [];
    for (let attempt = 0; attempt <= llm.repairAttempts; attempt++) {
      // an answer paid for by a run killed before it wrote the article: used again, not bought again
      const answerKey = `${_answerPrefix(options.site.name, topic.id)}${step}/${attempt}`;
      const kept = _keptAnswer(await budget.recall(answerKey), client!.model, schema);
      if (kept !== undefined) {
        spent.usd += kept.costUsd;
        spent.inputTokens += kept.inputTokens;
        spent.outputTokens += kept.outputTokens;
        problems = kept.value === undefined ? kept.problems : validate(kept.value as T);
        if (problems.length === 0) return kept.value as T;
        continue;
      }
      const fullPrompt = problems.length ? prompt + repairNote(problems, ctx) : prompt;
      const bound = costOf(price, _inputTokenBound(system, fullPrompt, schema), maxOutputTokens);
      if (state.stop) throw new SiteloomError(state.stop.code, `stopped: ${state.stop.message}`);
      if (budgets.maxCostPerArticle !== undefined && spent.usd + bound > budgets.maxCostPerArticle) {
        throw new SiteloomError(
          "ERR_BUDGET_EXCEEDED",
          `stopped before the ${step} call: $${_fmt(spent.usd)} spent on this article and the call may cost up to $${_fmt(bound)}, over budgets.maxCostPerArticle $${_fmt(budgets.maxCostPerArticle)}`,
        );
      }
      const held = await budget.reserve(topic.id, bound);
      if (!held.granted) {
        const max = budgets.maxMonthlyCost ?? 0;
        const used = held.settledUsd + held.reservedUsd;
        state.stop ??= {
          code: "ERR_BUDGET_EXCEEDED",
          message: `budgets.maxMonthlyCost $${_fmt(max)} reached: $${_fmt(held.settledUsd)} spent this month${held.reservedUsd > 0 ? ` and $${_fmt(held.reservedUsd)} held by calls in flight` : ""}, $${_fmt(Math.max(0, max - used))} left, the next call may cost up to $${_fmt(bound)}`,
        };
        throw new SiteloomError(state.stop.code, state.stop.message);
      }
      let result: Awaited<ReturnType<LlmClient["generate"]>>;
      try {
        result = await client!.generate<T>({
          system,
          prompt: fullPrompt,
          schema,
          schemaName: step,
          signal: one.signal,
          maxOutputTokens,
        });
      } catch (error) {
        // nothing was paid for (an error answer or no answer): the reservation goes back
        await budget.release(held.id);
        throw error;
      }
      const cost = costOf(price, result.usage.inputTokens, result.usage.outputTokens);
      spent.usd += cost;
      spent.inputTokens += result.usage.inputTokens;
      spent.outputTokens += result.usage.outputTokens;
      state.spentUsd += cost;
      problems =
        result.value === undefined ? (result.problems ?? [result.problem ?? "no output"]) : validate(result.value as T);
      const answer: KeptAnswer = {
        model: client!.model,
        value: result.value,
        problems: result.value === undefined ? problems : [],
        inputTokens: result.usage.inputTokens,
        outputTokens: result.usage.outputTokens,
        costUsd: cost,
      };
      await budget.settle(
        held.id,
        {
          time: one.now().toISOString(),
          site: options.site.name,
          topic: topic.topic,
          topicId: topic.id,
          provider: llm.provider,
          model: client!.model,
          step: attempt === 0 ? step : `${step}-repair`,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          costUsd: cost,
          ok: problems.length === 0,
        },
        { key: answerKey, value: answer },
      );
      if (problems.length === 0) {
        if (budgets.maxCostPerArticle !== undefined && spent.usd > budgets.maxCostPerArticle) {
          throw new SiteloomError(
            "ERR_BUDGET_EXCEEDED",
            `the article cost $${_fmt(spent.usd)}, over budgets.maxCostPerArticle $${_fmt(budgets.maxCostPerArticle)}; not written`,
          );
        }
        return result.value as T;
      }
    }
    // failed for good: a rerun asks again rather than replaying the same unusable answers
    await budget.forget(_answerPrefix(options.site.name, topic.id));
    throw new SiteloomError(
      "ERR_LLM_OUTPUT",
      `${step}: no usable output after ${llm.repairAttempts + 1} attempt(s): ${problems.join("; ")}`,
    );
  };
}

/** What a settled call returned, kept in the state store with its ledger entry until the article is written. */
interface KeptAnswer {
  model: string;
  /** The parsed output (undefined when it failed the schema). */
  value: unknown;
  /** Why the output was unusable (schema problems); empty when `value` is set. */
  problems: string[];
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Key prefix of the kept answers of one topic. */
function _answerPrefix(site: string, topicId: string): string {
  return `${site}/${topicId}/`;
}

/**
 * A kept answer usable by this run: made by the same model, its value passing the schema again (it is model output
 * read back from the store, so it is checked like a fresh one); anything else is ignored and the call is made.
 */
function _keptAnswer(stored: unknown, model: string, schema: import("zod").ZodType<unknown>): KeptAnswer | undefined {
  const kept = stored as Partial<KeptAnswer> | undefined;
  if (kept?.model !== model || typeof kept.costUsd !== "number") return undefined;
  if (!Array.isArray(kept.problems) || typeof kept.inputTokens !== "number" || typeof kept.outputTokens !== "number") {
    return undefined;
  }
  if (kept.value === undefined) return kept.problems.length > 0 ? (kept as KeptAnswer) : undefined;
  const parsed = schema.safeParse(kept.value);
  return parsed.success ? { ...(kept as KeptAnswer), value: parsed.data } : undefined;
}

/** Upper bound of a call's input tokens (see BYTES_PER_TOKEN_BOUND); the schema's size is computed once. */
function _inputTokenBound(system: string, prompt: string, schema: import("zod").ZodType<unknown>): number {
  let schemaBytes = SCHEMA_BYTES.get(schema);
  if (schemaBytes === undefined) {
    schemaBytes = Buffer.byteLength(JSON.stringify(z.toJSONSchema(schema)));
    SCHEMA_BYTES.set(schema, schemaBytes);
  }
  const bytes = Buffer.byteLength(system) + Buffer.byteLength(prompt) + schemaBytes;
  return Math.ceil(bytes / BYTES_PER_TOKEN_BOUND) + REQUEST_OVERHEAD_TOKENS;
}

const SCHEMA_BYTES = new WeakMap<object, number>();

/**
 * Articles of this run may link to other topics of the run; when one of those failed (or never started), the links
 * to it would point nowhere, so they are removed from the articles written and reported like other missing pages.
 */
async function _unlinkFailed(
  report: GenerateReport,
  targets: LinkTarget[],
  siteUrl: string | undefined,
  articleUrl: (slug: string) => string,
  dir: string,
  mirror: (slug: string) => Promise<void>,
): Promise<void> {
  if (report.failed.length === 0 || report.generated.length === 0) return;
  const missing = new Set(report.failed.map((f) => articleUrl(f.slug)));
  const index = createLinkIndex(
    targets.filter((t) => !missing.has(t.url)),
    siteUrl,
  );
  for (const item of report.generated) {
    const article = await loadArticle(item.file);
    const checked = checkLinks(article.bodyMarkdown, article.internalLinks, index);
    if (checked.removed.length === 0) continue;
    await writeArticle(dir, { ...article, bodyMarkdown: checked.bodyMarkdown, internalLinks: checked.internalLinks });
    await mirror(article.slug);
    item.removedLinks.push(...checked.removed);
  }
}

function _checkDraft(draft: ArticleOutput, ctx: PromptContext): string[] {
  const problems: string[] = [];
  if (!draft.title.trim()) problems.push("title: empty");
  if (draft.title.length > 200) problems.push("title: longer than 200 characters");
  const meta = draft.metaDescription.trim();
  if (!meta) problems.push("metaDescription: empty");
  if (meta.length > 160) problems.push(`metaDescription: ${meta.length} characters; the limit is 160`);
  if (!draft.excerpt.trim()) problems.push("excerpt: empty");
  const words = countWords(draft.bodyMarkdown);
  if (words < ctx.minWords || words > ctx.maxWords) {
    problems.push(`bodyMarkdown: ${words} words; it must have between ${ctx.minWords} and ${ctx.maxWords}`);
  }
  return problems;
}

/** Normalised title → where it is used: exported pages (and their own title before " | Site"), articles. */
function _titleIndex(
  pages: LinkTarget[],
  articles: StoredArticle[],
  articleUrl: (slug: string) => string,
): Map<string, string> {
  const taken = new Map<string, string>();
  for (const page of pages) {
    taken.set(normalizeTitle(page.title), `the page ${page.url}`);
    const own = page.title.split(/\s+[|–—-]\s+/)[0];
    if (own && own !== page.title) taken.set(normalizeTitle(own), `the page ${page.url}`);
  }
  for (const { article } of articles) taken.set(normalizeTitle(article.title), articleUrl(article.slug));
  return taken;
}

/** Where `title` is already used, unless it is this article's own URL (regenerating with --force). */
function _takenBy(taken: Map<string, string>, title: string, ownUrl: string): string | undefined {
  const key = normalizeTitle(title);
  if (!key) return undefined;
  const where = taken.get(key);
  return where === undefined || where === ownUrl ? undefined : where;
}

function _stop(report: GenerateReport, code: ErrorCode, message: string): void {
  report.stopped = { code, message };
  if (code === "ERR_BUDGET_EXCEEDED") report.budgetStop = message;
}

function _skipStopped(report: GenerateReport, topic: { topic: string; line: number; slug: string }, why: string): void {
  report.skipped.push({ topic: topic.topic, line: topic.line, slug: topic.slug, reason: "stopped", detail: why });
}

function _plan(
  topics: Topic[],
  articles: StoredArticle[],
  pages: LinkTarget[],
  force: boolean,
): { queue: Topic[]; skipped: SkippedItem[] } {
  const byId = new Map(articles.map((a) => [a.article.id, a.article]));
  const bySlug = new Map(articles.map((a) => [a.article.slug, a.article]));
  const byTitle = new Map(articles.map((a) => [normalizeTitle(a.article.title), a.article]));
  const pageBySlug = new Map<string, string>();
  const pageByTitle = new Map<string, string>();
  for (const page of pages) {
    const last = page.url.replace(/\/$/, "").split("/").pop() ?? "";
    const slug = last.replace(/\.html?$/i, "");
    if (slug) pageBySlug.set(slug.toLowerCase(), page.url);
    pageByTitle.set(normalizeTitle(page.title), page.url);
    // "Pricing | Example Shop" — the part before the site name is the page's own title
    const own = page.title.split(/\s+[|–—-]\s+/)[0];
    if (own) pageByTitle.set(normalizeTitle(own), page.url);
  }
  const queue: Topic[] = [];
  const skipped: SkippedItem[] = [];
  const planned = new Map<string, Topic>();
  const plannedTitles = new Map<string, Topic>();
  for (const topic of topics) {
    const skip = (reason: SkippedItem["reason"], detail: string) =>
      skipped.push({ topic: topic.topic, line: topic.line, slug: topic.slug, reason, detail });
    const title = normalizeTitle(topic.topic);
    const own = byId.get(topic.id);
    if (own) {
      if (own.status === "rejected" && !force) {
        skip("rejected", `articles/${own.slug}.json was rejected in review; --force regenerates it`);
        continue;
      }
      if (!force) {
        skip("exists", `articles/${own.slug}.json`);
        continue;
      }
      // regenerate in place, even if the slug rules changed since
      topic.slug = own.slug;
    }
    const earlier = planned.get(topic.slug) ?? plannedTitles.get(title);
    if (earlier) {
      skip("duplicate", `same title or slug as the topic on line ${earlier.line}`);
      continue;
    }
    const pageUrl = pageBySlug.get(topic.slug) ?? pageByTitle.get(title);
    if (pageUrl) {
      skip("duplicate", `the exported site already has this page: ${pageUrl}`);
      continue;
    }
    const other = !own ? (bySlug.get(topic.slug) ?? byTitle.get(title)) : undefined;
    if (other && !force) {
      skip(
        "duplicate",
        `articles/${other.slug}.json already covers it (from another topic row); use --force to replace it`,
      );
      continue;
    }
    if (other) topic.slug = other.slug;
    planned.set(topic.slug, topic);
    plannedTitles.set(title, topic);
    queue.push(topic);
  }
  return { queue, skipped };
}

function _estimate(topic: Topic, ctx: PromptContext, price: ModelPrice | undefined, llm: LlmConfig): PlannedItem {
  const sample: OutlineOutput = {
    title: topic.topic,
    metaDescription: "x".repeat(150),
    sections: Array.from({ length: 6 }, () => ({ heading: "x".repeat(40), points: ["x".repeat(60), "x".repeat(60)] })),
    faqQuestions: ["x".repeat(50), "x".repeat(50), "x".repeat(50)],
  };
  const system = systemPrompt(ctx).length;
  const input = Math.ceil(
    (system * 2 + outlinePrompt(topic, ctx).length + articlePrompt(topic, ctx, sample).length) / CHARS_PER_TOKEN,
  );
  const output = OUTLINE_OUTPUT_TOKENS + _articleOutputTokens(ctx, llm);
  return {
    topic: topic.topic,
    line: topic.line,
    slug: topic.slug,
    estimatedInputTokens: input,
    estimatedOutputTokens: output,
    estimatedCostUsd: price ? costOf(price, input, output) : null,
  };
}

/** Expected output tokens of the article call: the body at the upper word bound plus FAQ and fields. */
function _articleOutputTokens(ctx: PromptContext, llm: LlmConfig): number {
  return Math.min(llm.maxOutputTokens, Math.ceil(ctx.maxWords * 1.4) + 600);
}

/** Why the run would be refused before its first call, or undefined when the budgets allow it to start. */
function _checkBudgetsAtStart(
  planned: PlannedItem[],
  budgets: { maxCostPerArticle?: number | undefined; maxMonthlyCost?: number | undefined },
  spentUsd: number,
  dryRun: boolean,
): string | undefined {
  const prefix = dryRun ? "the run would be refused (exit 6): " : "";
  if (budgets.maxCostPerArticle !== undefined) {
    const worst = planned.reduce((max, p) => Math.max(max, p.estimatedCostUsd ?? 0), 0);
    if (worst > budgets.maxCostPerArticle) {
      return `${prefix}an article is estimated at up to $${_fmt(worst)}, over budgets.maxCostPerArticle $${_fmt(budgets.maxCostPerArticle)}; raise it, lower content.maxWords, or choose a cheaper model`;
    }
  }
  if (budgets.maxMonthlyCost === undefined) return undefined;
  const left = Math.max(0, budgets.maxMonthlyCost - spentUsd);
  const total = _sum(planned.map((p) => p.estimatedCostUsd ?? 0));
  if (spentUsd + total <= budgets.maxMonthlyCost) return undefined;
  let fits = 0;
  let running = 0;
  for (const p of planned) {
    running += p.estimatedCostUsd ?? 0;
    if (running > left) break;
    fits++;
  }
  return `${prefix}budgets.maxMonthlyCost is $${_fmt(budgets.maxMonthlyCost)}: $${_fmt(spentUsd)} spent this month, $${_fmt(left)} left, and ${planned.length} article(s) are estimated at $${_fmt(total)}; ${fits > 0 ? `use --limit ${fits} or raise the budget` : "raise the budget or wait for next month"}`;
}

async function _apiKey(llm: LlmConfig, workspace: Workspace, site: string): Promise<Secret | undefined> {
  if (!llm.apiKey) {
    if (llm.provider === "openai" || llm.provider === "anthropic") {
      const name = llm.provider === "openai" ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `llm.apiKey is not set for provider ${llm.provider}; set it to a reference such as secret://global/${name} (or \${${name}})`,
        { site },
      );
    }
    return undefined;
  }
  return workspace.resolve(llm.apiKey, { field: "llm.apiKey", site });
}

function _failure(topic: Topic, error: unknown): FailedItem {
  const e = error as { code?: string; message?: string };
  return {
    topic: topic.topic,
    line: topic.line,
    slug: topic.slug,
    code: error instanceof SiteloomError ? error.code : (e.code ?? "ERR_INTERNAL"),
    message: e.message ?? String(error),
  };
}

function _sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function _round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Whole cents with 2 decimals ($5.00, $0.10), anything finer with 4 ($0.0969): never rounded up past a budget. */
function _fmt(usd: number): string {
  const cents = usd * 100;
  return Math.abs(cents - Math.round(cents)) < 1e-6 ? usd.toFixed(2) : usd.toFixed(4);
}
