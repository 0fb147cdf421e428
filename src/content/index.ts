export { ARTICLE_SCHEMA_VERSION, type Article, ArticleSchema, type FaqItem, type InternalLink } from "./article.ts";
