import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ContentSchema, EnrichSchema } from "../../src/config/index.ts";
import { type Article, ArticleSchema } from "../../src/content/index.ts";
import type { EnrichSiteInput } from "../../src/enrich/index.ts";

/** The bundled example live site (examples/site/). */
export const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));
/** Small fixture sites (test/fixtures/enrich/). */
export const FIXTURES = fileURLToPath(new URL("../fixtures/enrich/", import.meta.url));

const TOPICS = [
  ["Why sourdough needs time", "Bread", ["sourdough", "fermentation"]],
  ["Choosing flour for a country loaf", "Bread", ["flour", "sourdough"]],
  ["Laminated dough at home", "Pastry", ["pastry", "butter"]],
  ["Cardamom buns, step by step", "Pastry", ["pastry", "spices"]],
  ["Storing bread so it stays fresh", "Bread", ["storage"]],
  ["Coffee and pastry pairings", "Shop news", ["coffee", "pastry"]],
] as const;

/** A valid article (checked against ArticleSchema), numbered so several differ in slug, date and taxonomy. */
export function makeArticle(n: number, overrides: Partial<Article> = {}): Article {
  const [title, category, tags] = TOPICS[n % TOPICS.length]!;
  const fullTitle = n < TOPICS.length ? title : `${title} (part ${Math.floor(n / TOPICS.length) + 1})`;
  const slug = fullTitle
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  const day = String(1 + (n % 28)).padStart(2, "0");
  const month = String(1 + (Math.floor(n / 28) % 12)).padStart(2, "0");
  const article: Article = {
    schemaVersion: 1,
    id: `topic-${n}`,
    slug,
    title: fullTitle,
    metaDescription: `${fullTitle}: practical advice from the bakers at Harbor Light Bakery in Portsmouth.`,
    excerpt: `What we have learned about ${title.toLowerCase()} in twenty-five years of baking on Quay Street.`,
    bodyMarkdown: [
      `# ${fullTitle}`,
      "",
      `Good bread starts with patience. Here is what we do in the bakery — and what you can do at home (café-style “crumb” included).`,
      "",
      "## What you need",
      "",
      "- Flour, water and salt",
      "- A lively starter",
      "- Time: at least 12 hours",
      "",
      "## How we do it",
      "",
      `Read [about our bakery](/about.html) or see the [King Arthur guide](https://www.kingarthurbaking.com/) for more.`,
      "",
      "![A loaf cooling on a rack](/images/loaf.png)",
      "",
      '<script>alert(\'x\')</script><a href="javascript:alert(1)" onclick="x()">bad link</a>',
    ].join("\n"),
    outline: ["What you need", "How we do it"],
    keywords: [...tags, "baking"],
    category,
    tags: [...tags],
    faq:
      n % 2 === 0
        ? [{ question: "How long does the dough rest?", answer: "Usually 12 to 16 hours in a cool place." }]
        : [],
    wordCount: 420 + n,
    readingTimeMinutes: 3,
    language: "en",
    author: "Ella Marsh",
    publishedAt: `2026-${month}-${day}T08:30:00+01:00`,
    status: "ready",
    internalLinks: [{ url: "/about.html", anchor: "about our bakery" }],
    generatedBy: { provider: "offline", model: "sample", promptVersion: "1" },
    usage: { inputTokens: 100, outputTokens: 900, costUsd: 0 },
    ...overrides,
  };
  if (n === 0 && !("image" in overrides)) {
    article.image = { url: "/images/loaf.png", alt: "A round sourdough loaf on a wooden board", width: 64, height: 64 };
  }
  return ArticleSchema.parse(article);
}

/** Options of `createSite`. */
export interface CreateSiteOptions {
  /** Folder copied into export/. @default examples/site */
  from?: string;
  articles?: Article[];
  enrich?: Record<string, unknown>;
  url?: string;
  domain?: string;
  name?: string;
}

/** Lays out sites/<name>/ under `root` (export/, articles/) and returns the input `runEnrich` takes. */
export async function createSite(root: string, options: CreateSiteOptions = {}): Promise<EnrichSiteInput> {
  const dir = join(root, "sites", "demo");
  const paths = { export: join(dir, "export"), articles: join(dir, "articles"), output: join(dir, "output") };
  await mkdir(paths.articles, { recursive: true });
  await cp(options.from ?? EXAMPLE_SITE, paths.export, { recursive: true, preserveTimestamps: true });
  for (const a of options.articles ?? []) await writeArticle(paths.articles, a);
  return {
    name: "demo",
    dir,
    config: {
      name: options.name ?? "Harbor Light Bakery",
      domain: options.domain ?? "www.example.com",
      ...(options.url ? { url: options.url } : {}),
      enrich: EnrichSchema.parse(options.enrich ?? {}),
      content: ContentSchema.parse({}),
    },
    paths,
  };
}

export async function writeArticle(dir: string, article: Article): Promise<void> {
  await writeFile(join(dir, `${article.slug}.json`), `${JSON.stringify(article, null, 2)}\n`);
}
