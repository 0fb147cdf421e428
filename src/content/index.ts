export {
  ARTICLE_SCHEMA_VERSION,
  ARTICLE_STATUSES,
  type Article,
  ArticleSchema,
  type ArticleStatus,
  type FaqItem,
  type InternalLink,
  type ReviewEntry,
  SLUG_PATTERN,
} from "./article.ts";
export {
  ARTICLES_NAMESPACE,
  ARTICLES_SYNC_FILE,
  articlesInStore,
  type ImportReport,
  importArticles,
  type PullReport,
  pullArticles,
  pullSharedArticles,
} from "./article-sync.ts";
export {
  CALLS_PER_ARTICLE,
  type FailedItem,
  type GeneratedItem,
  type GenerateEvent,
  type GenerateOptions,
  type GenerateReport,
  type PlannedItem,
  runGenerate,
  type SkippedItem,
} from "./generate.ts";
export {
  type CostSummary,
  type CostSummaryRow,
  createLedger,
  currentMonth,
  LEDGER_FILE,
  type Ledger,
  type LedgerEntry,
  summarizeCosts,
} from "./ledger.ts";
export { checkLinks, countWords, createLinkIndex } from "./links.ts";
export { createLlmClient, type LlmClient, type LlmClientOptions, OLLAMA_BASE_URL } from "./llm.ts";
export { OFFLINE_MODEL } from "./offline.ts";
export { costOf, DEFAULT_PRICES, type ModelPrice, resolvePrice } from "./prices.ts";
export { PROMPT_VERSION } from "./prompts.ts";
export {
  type ArticleSummary,
  applyArticleEdit,
  EDITABLE_FIELDS,
  formatArticleForEdit,
  loadReviewArticle,
  type ReviewAction,
  type ReviewChange,
  type ReviewOptions,
  type ReviewTarget,
  reviewArticles,
  reviewRequired,
  saveArticleEdit,
  summarizeArticle,
} from "./review.ts";
export { loadSitePages } from "./site-pages.ts";
export { normalizeTitle, slugify, transliterate } from "./slug.ts";
export { ARTICLE_SCHEMA_FILE, articleJsonSchema, loadArticle, loadArticles, writeArticle } from "./store.ts";
export { loadTopics, parseTopics, TOPIC_COLUMNS, type Topic } from "./topics.ts";
