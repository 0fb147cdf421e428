import { z } from "zod";
import type { Topic } from "./topics.ts";

/** Recorded in every article (generatedBy.promptVersion); bump when the prompts change meaningfully. */
export const PROMPT_VERSION = "2026-11-1";

/** Pages listed to the model for internal linking; more would only add tokens. */
export const MAX_LINK_TARGETS = 150;

/** What the model returns for the first call. Every field required: OpenAI's strict JSON schema mode demands it. */
export const OutlineOutputSchema = z.object({
  title: z.string().describe("Article title, without the site name"),
  metaDescription: z.string().describe("At most 155 characters"),
  sections: z
    .array(z.object({ heading: z.string(), points: z.array(z.string()) }))
    .describe("The h2 sections in order, each with the points it covers"),
  faqQuestions: z.array(z.string()).describe("3 to 5 questions readers ask"),
});
export type OutlineOutput = z.infer<typeof OutlineOutputSchema>;

/** What the model returns for the second call. */
export const ArticleOutputSchema = z.object({
  title: z.string(),
  metaDescription: z.string().describe("At most 155 characters"),
  excerpt: z.string().describe("One or two sentences for listings"),
  bodyMarkdown: z.string().describe("The article body in Markdown, h2 (##) sections, no h1, no FAQ"),
  faq: z.array(z.object({ question: z.string(), answer: z.string() })),
  internalLinks: z.array(z.object({ url: z.string(), anchor: z.string() })).describe("Links used in the body"),
});
export type ArticleOutput = z.infer<typeof ArticleOutputSchema>;

/** A page the article may link to. */
export interface LinkTarget {
  url: string;
  title: string;
}

/** Everything the prompts need besides the topic. */
export interface PromptContext {
  siteName: string;
  language: string;
  minWords: number;
  maxWords: number;
  tone?: string | undefined;
  audience?: string | undefined;
  /** Existing pages of the site and the other articles. */
  linkTargets: LinkTarget[];
}

export function systemPrompt(ctx: PromptContext): string {
  return [
    `You are an experienced web editor writing articles for the website "${ctx.siteName}".`,
    "You write accurate, useful, well-structured text for people, not for search engines, and you never invent facts about the site.",
    "You always answer with JSON that matches the requested schema exactly.",
  ].join(" ");
}

export function outlinePrompt(topic: Topic, ctx: PromptContext): string {
  return [
    "Plan an article.",
    ..._brief(topic, ctx),
    "",
    "Return: a title, a meta description of at most 155 characters, 4 to 8 sections (h2 headings with the points each covers) and 3 to 5 FAQ questions.",
  ].join("\n");
}

export function articlePrompt(topic: Topic, ctx: PromptContext, outline: OutlineOutput): string {
  return [
    "Write the article from this outline.",
    ..._brief(topic, ctx),
    "",
    `Outline (JSON): ${JSON.stringify(outline)}`,
    "",
    "Rules:",
    `- bodyMarkdown has between ${ctx.minWords} and ${ctx.maxWords} words, uses "## " headings for the outline's sections, has no h1 and does not repeat the FAQ.`,
    "- metaDescription has at most 155 characters; excerpt is one or two sentences.",
    "- faq answers the outline's questions in 2 to 4 sentences each.",
    ctx.linkTargets.length > 0
      ? "- Link 2 to 5 relevant pages from the list below inside the body text as Markdown links, using their URLs exactly as listed; list them in internalLinks. Link no other page of this site."
      : "- Do not link to pages of this site (there are none to link to yet).",
    ..._targets(ctx.linkTargets),
  ].join("\n");
}

/** Appended to a prompt when the previous answer was unusable: the problems, one "field: rule" line each. */
export function repairNote(problems: string[], ctx: PromptContext): string {
  return [
    "",
    "Your previous answer could not be used:",
    ...problems.map((p) => `- ${p}`),
    problems.some((p) => /cut off/.test(p))
      ? `Answer again, completely and more concisely (stay under ${ctx.maxWords} words in the body).`
      : "Answer again with complete JSON that fixes each of these and follows every rule.",
  ].join("\n");
}

// --- internal ---

function _brief(topic: Topic, ctx: PromptContext): string[] {
  const lines = [`Topic: ${JSON.stringify(topic.topic)}`, `Language: ${topic.language ?? ctx.language}`];
  if (topic.keywords.length) lines.push(`Keywords to cover naturally: ${topic.keywords.join(", ")}`);
  if (topic.category) lines.push(`Category: ${topic.category}`);
  const audience = topic.audience ?? ctx.audience;
  const tone = topic.tone ?? ctx.tone;
  if (audience) lines.push(`Audience: ${audience}`);
  if (tone) lines.push(`Tone: ${tone}`);
  lines.push(`Length: ${topic.minWords ?? ctx.minWords} to ${topic.maxWords ?? ctx.maxWords} words`);
  return lines;
}

function _targets(targets: LinkTarget[]): string[] {
  if (targets.length === 0) return [];
  // most topics of a run share one list (see generate.ts), so its text is made once
  let block = TARGET_BLOCKS.get(targets);
  if (block === undefined) {
    block = targets
      .slice(0, MAX_LINK_TARGETS)
      .map((t) => `${t.url} — ${t.title}`)
      .join("\n");
    TARGET_BLOCKS.set(targets, block);
  }
  return ["", "Pages of the site (URL — title):", block];
}

const TARGET_BLOCKS = new WeakMap<LinkTarget[], string>();
