import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  articleJsonSchema,
  checkLinks,
  costOf,
  countWords,
  createLinkIndex,
  loadSitePages,
  loadTopics,
  parseTopics,
  resolvePrice,
  slugify,
} from "../../src/content/index.ts";
import { useTempDir } from "../support/cli.ts";

describe("content: topics CSV", () => {
  it("handles BOM, CRLF, quoted fields with commas, quotes and newlines", () => {
    const text =
      '\ufefftopic,keywords,tags,min_words,max_words,publish_at,status\r\n"Bread, butter and ""jam""","a;b","x, y",300,900,2026-05-01,draft\r\n"Two\nlines",c,,,,,\r\n';
    const { topics, warnings } = parseTopics(text);
    expect(warnings).toEqual([]);
    expect(topics).toHaveLength(2);
    expect(topics[0]).toMatchObject({
      line: 2,
      topic: 'Bread, butter and "jam"',
      slug: "bread-butter-and-jam",
      keywords: ["a", "b"],
      tags: ["x", "y"],
      minWords: 300,
      maxWords: 900,
      publishAt: "2026-05-01T00:00:00.000Z",
      status: "draft",
    });
    expect(topics[1]).toMatchObject({ line: 3, topic: "Two\nlines", slug: "two-lines" });
  });

  it("gives each row a stable id that changes when the row changes", () => {
    const a = parseTopics("topic,keywords\nBread,a\n").topics[0]!;
    const b = parseTopics("keywords,topic\na,Bread\n").topics[0]!;
    const c = parseTopics("topic,keywords\nBread,b\n").topics[0]!;
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
  });

  it("warns about unknown columns, naming line and column", () => {
    const { warnings } = parseTopics("topic,colour\nBread,red\n");
    expect(warnings).toEqual([expect.stringContaining('topics.csv line 1, column 2: unknown column "colour"')]);
  });

  it.each([
    ["topic,keywords\nA,b\nB,c,d\n", "topics.csv line 3: the row has 3 fields but the header has 2"],
    ['topic,keywords\nA,"b\n', "topics.csv line 2"],
    [
      "topic,min_words\nA,many\n",
      'topics.csv line 2, column 2 (min_words): expected a whole number of words, got "many"',
    ],
    ["topic,status\nA,published\n", "topics.csv line 2, column 2 (status): expected draft or ready"],
    ["topic,publish_at\nA,someday\n", "topics.csv line 2, column 2 (publish_at)"],
    ["topic,keywords\n,b\n", "topics.csv line 2, column 1 (topic): the topic is empty"],
    ["keywords\nb\n", 'topics.csv line 1: the header has no "topic" column'],
    ["topic,min_words,max_words\nA,900,300\n", "max_words 300 is below min_words 900"],
  ])("rejects bad input with line and column: %j", (text, message) => {
    expect(() => parseTopics(text)).toThrow(message);
    try {
      parseTopics(text);
    } catch (error) {
      expect((error as { code: string }).code).toBe("ERR_CSV_INVALID");
    }
  });

  it("reports a missing file with what to do", async () => {
    const dir = await useTempDir();
    await expect(loadTopics(join(dir, "topics.csv"))).rejects.toThrow(/does not exist; create it/);
  });
});

describe("content: slugs", () => {
  it.each([
    ["Grüße aus Köln", "grusse-aus-koln"],
    ["Crème brûlée & café", "creme-brulee-and-cafe"],
    ["Как выбрать муку", "kak-vybrat-muku"],
    ["Ελληνική κουζίνα", "elliniki-kouzina"],
    ["  --Hello,   World!-- ", "hello-world"],
    ["Smørrebrød og æbleskiver", "smorrebrod-og-aebleskiver"],
  ])("%s → %s", (input, slug) => {
    expect(slugify(input)).toBe(slug);
  });

  it("keeps slugs at most 80 characters, cut at a word", () => {
    const slug = slugify("word ".repeat(40));
    expect(slug.length).toBeLessThanOrEqual(80);
    expect(slug.endsWith("-")).toBe(false);
  });
});

describe("content: internal links and pages", () => {
  it("reads titles and URLs of exported pages", async () => {
    const dir = await useTempDir();
    await writeFile(join(dir, "index.html"), "<title>Home &amp; more</title>");
    await writeFile(join(dir, "about.htm"), "<h1>About <em>us</em></h1>");
    await writeFile(join(dir, "style.css"), "body{}");
    expect(await loadSitePages(dir)).toEqual([
      { url: "/about.htm", title: "About us" },
      { url: "/", title: "Home & more" },
    ]);
  });

  it("removes links to missing pages of the site and keeps external ones", () => {
    const index = createLinkIndex(
      [
        { url: "/about.html", title: "About" },
        { url: "/blog/bread/", title: "Bread" },
      ],
      "https://shop.example.com/",
    );
    const body =
      "See [about](/about) and [bread](https://shop.example.com/blog/bread/) and [gone](/gone.html), [ext](https://other.org/x), ![img](/missing.png).";
    const out = checkLinks(body, [{ url: "/nope/", anchor: "nope" }], index);
    expect(out.bodyMarkdown).toBe(
      "See [about](/about) and [bread](https://shop.example.com/blog/bread/) and gone, [ext](https://other.org/x), ![img](/missing.png).",
    );
    expect(out.internalLinks).toEqual([
      { url: "/about.html", anchor: "about" },
      { url: "/blog/bread/", anchor: "bread" },
    ]);
    expect(out.removed).toEqual(["/gone.html", "/nope/"]);
  });

  it("counts words as a reader does", () => {
    expect(countWords("## Two words\n\nSee [the page](/x.html) - now!")).toBe(6);
  });
});

describe("content: prices", () => {
  it("prefers overrides, matches versioned names by prefix, and knows local providers are free", () => {
    expect(resolvePrice("openai", "gpt-4o-mini-2024-07-18")).toEqual({ input: 0.15, output: 0.6 });
    expect(resolvePrice("openai", "gpt-4o-2024-08-06")).toEqual({ input: 2.5, output: 10 });
    expect(resolvePrice("openai", "gpt-4o", { "gpt-4o": { input: 1, output: 1 } })).toEqual({ input: 1, output: 1 });
    expect(resolvePrice("ollama", "llama3.1")).toEqual({ input: 0, output: 0 });
    expect(resolvePrice("openai-compatible", "mystery")).toBeUndefined();
    expect(costOf({ input: 3, output: 15 }, 1_000_000, 100_000)).toBe(4.5);
  });
});

describe("content: published article schema", () => {
  it("schema/article.schema.json is the JSON Schema of ArticleSchema (regenerate it when the schema changes)", async () => {
    const shipped = JSON.parse(await readFile(new URL("../../schema/article.schema.json", import.meta.url), "utf8"));
    expect(shipped).toEqual(articleJsonSchema());
    expect(shipped.required).toEqual(expect.arrayContaining(["schemaVersion", "slug", "metaDescription", "usage"]));
  });
});
