import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { type Article, ArticleSchema } from "./article.ts";

export interface StoredArticle {
  file: string;
  article: Article;
}

export interface LoadedArticles {
  articles: StoredArticle[];
  /** Files that are not valid articles, one line each (file: problem). */
  invalid: string[];
}

/** Reads and validates one article file; a bad file is ERR_ARTICLE_INVALID naming the file and the fields. */
export async function loadArticle(file: string): Promise<Article> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", `${file} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const result = ArticleSchema.safeParse(data);
  if (!result.success) {
    throw new SiteloomError("ERR_ARTICLE_INVALID", `${file} is not a valid article; regenerate it with --force`, {
      details: result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    });
  }
  return result.data;
}

/** Every `*.json` article of a folder, validated; invalid files are listed, not thrown. */
export async function loadArticles(dir: string): Promise<LoadedArticles> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { articles: [], invalid: [] };
    throw error;
  }
  const out: LoadedArticles = { articles: [], invalid: [] };
  for (const name of names) {
    const file = join(dir, name);
    try {
      out.articles.push({ file, article: await loadArticle(file) });
    } catch (error) {
      const e = error as SiteloomError;
      out.invalid.push(`${file}: ${[e.message, ...(e.details ?? [])].join("; ")}`);
    }
  }
  return out;
}

/** Validates and writes an article to `<dir>/<slug>.json` atomically; returns the file path. */
export async function writeArticle(dir: string, article: Article): Promise<string> {
  const checked = ArticleSchema.parse(article);
  const file = join(dir, `${checked.slug}.json`);
  await writeFileAtomic(file, `${JSON.stringify(checked, null, 2)}\n`);
  return file;
}

/** The published JSON Schema of article files (draft 2020-12). */
export function articleJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ArticleSchema, { target: "draft-2020-12" }) as Record<string, unknown>;
  return { ...schema, title: "siteloom article (sites/<name>/articles/<slug>.json)" };
}

/** File name of the published article schema in `schema/`. */
export const ARTICLE_SCHEMA_FILE = "article.schema.json";
