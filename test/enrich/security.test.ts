import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { slugify } from "../../src/content/index.ts";
import { runEnrich } from "../../src/enrich/index.ts";
import { absoluteUrl, IMAGE_SCHEMES, LINK_SCHEMES, safeUrl } from "../../src/enrich/urls.ts";
import { useTempDir } from "../support/cli.ts";
import { elements, inner, unescapeXml } from "./helpers.ts";
import { createSite, makeArticle } from "./support.ts";

/** Spellings of script and data URLs a browser (or a feed reader) would still run or load. */
const HOSTILE = [
  "javascript:alert(1)",
  "JaVaScRiPt:alert(1)",
  "jav\tascript:alert(1)",
  "java\nscript:alert(1)",
  "java\rscript:alert(1)",
  " \u0001javascript:alert(1)",
  "jav&#x09;ascript:alert(1)",
  "jav&#9;ascript:alert(1)",
  "&#106;avascript:alert(1)",
  "javascript&colon;alert(1)",
  "vbscript:msgbox(1)",
  "VBScript:msgbox(1)",
  "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
  "DATA:image/svg+xml,<svg onload=alert(1)>",
  "//evil.example/x",
  "\\\\evil.example/x",
];

describe("enrich: untrusted URLs", () => {
  it.each(HOSTILE)("safeUrl refuses %j", (url) => {
    expect(safeUrl(url, LINK_SCHEMES)).toBeUndefined();
    expect(safeUrl(url, IMAGE_SCHEMES)).toBeUndefined();
  });

  it.each([
    ["https://example.org/a?b#c", LINK_SCHEMES, "https://example.org/a?b#c"],
    ["mailto:shop@example.com", LINK_SCHEMES, "mailto:shop@example.com"],
    ["/about.html", LINK_SCHEMES, "/about.html"],
    ["about.html#team", LINK_SCHEMES, "about.html#team"],
    ["#faq", LINK_SCHEMES, "#faq"],
    ["images/a:b.png", IMAGE_SCHEMES, "images/a:b.png"],
    [" /images/loaf.png\n", IMAGE_SCHEMES, "/images/loaf.png"],
  ] as const)("safeUrl keeps %j", (url, schemes, expected) => {
    expect(safeUrl(url, schemes)).toBe(expected);
  });

  it("mailto: is a link, never an image", () => {
    expect(safeUrl("mailto:a@b.c", IMAGE_SCHEMES)).toBeUndefined();
  });

  it("absoluteUrl never turns a path into another scheme", () => {
    const base = "https://www.example.com/";
    for (const url of HOSTILE) expect(absoluteUrl(base, url).startsWith(base), url).toBe(true);
    expect(absoluteUrl(base, "https://cdn.example.org/a.png")).toBe("https://cdn.example.org/a.png");
    expect(absoluteUrl(base, "/blog/x/")).toBe("https://www.example.com/blog/x/");
  });

  it("no script or data URL from an article reaches pages, feeds, JSON-LD or Open Graph", async () => {
    const root = await useTempDir();
    const links = HOSTILE.map(
      (url, i) => `- [link ${i}](${url.replace(/\n/g, "%0A")}) and <a href="${url}">raw ${i}</a>`,
    );
    const images = HOSTILE.map((url, i) => `<img src="${url}" alt="picture ${i}">`);
    const body = ["Intro.", "", ...links, "", ...images, "", "[fine](/about.html)"].join("\n");
    const articles = [
      makeArticle(0, { bodyMarkdown: body, image: { url: "jav\tascript:alert(1)", alt: "a loaf" } }),
      makeArticle(1, { image: { url: "data:image/png;base64,iVBORw0KGgo=", alt: "a loaf" } }),
      makeArticle(2, { image: { url: "JAVASCRIPT:alert(1)", alt: "a loaf" } }),
      makeArticle(3, { image: { url: "https://cdn.example.org/loaf.png", alt: "a loaf" } }),
    ];
    const site = await createSite(root, { articles });
    const report = await runEnrich({ site });

    const written = report.written.filter((p) => p.startsWith("blog/") || p === "sitemap.xml");
    expect(written.length).toBeGreaterThan(5);
    for (const path of written) {
      const text = await readFile(join(site.paths.output, path), "utf8");
      for (const url of urlsOf(text)) {
        // Read as a browser or feed reader would: references decoded, tabs and newlines inside the URL ignored.
        const read = decodeRefs(url)
          .replace(/[\t\n\r\u0000-\u001f]/g, "")
          .trim()
          .toLowerCase();
        expect(read, `${path}: ${url}`).not.toMatch(/^(?:javascript|vbscript|data):|^\/\/|^\\\\/);
        expect(read, `${path}: ${url}`).not.toMatch(/^https?:\/\/evil\.example/);
      }
    }
    expect(await readFile(join(site.paths.output, "blog/feed.xml"), "utf8")).toContain("link 0");
    const page = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(page).toContain('<a href="../../about.html">fine</a>');
    expect(page).toContain("raw 3"); // an unsafe link keeps its text
    expect(page).not.toMatch(/<a [^>]*>raw \d+<\/a>/);
    expect(page).not.toContain("og:image");
    expect(report.warnings.filter((w) => /image left out/.test(w))).toHaveLength(3);
    expect(report.warnings.some((w) => /unsafe URL/.test(w))).toBe(true);
    // A safe absolute image is kept everywhere.
    const cdn = await readFile(join(site.paths.output, "blog/cardamom-buns-step-by-step/index.html"), "utf8");
    expect(cdn).toContain('<meta property="og:image" content="https://cdn.example.org/loaf.png">');
    expect(cdn).toContain('<img src="https://cdn.example.org/loaf.png"');
  });

  it("the RSS description carries the excerpt as text: markup in it cannot run in a reader", async () => {
    const root = await useTempDir();
    const excerpt = `Fresh <img src=x onerror=alert(1)> bread & <script>alert(2)</script> more`;
    const site = await createSite(root, { articles: [makeArticle(0, { excerpt })] });
    await runEnrich({ site });
    const rss = await readFile(join(site.paths.output, "blog/feed.xml"), "utf8");
    // What a reader gets after XML parsing is HTML; that HTML must be text only.
    const html = unescapeXml(inner(elements(rss, "description")[1]!));
    expect(html).not.toMatch(/<[a-z]/i);
    expect(decodeRefs(html)).toBe(excerpt);
    const atom = await readFile(join(site.paths.output, "blog/atom.xml"), "utf8");
    expect(elements(atom, "summary")[0]).toMatch(/^<summary>/); // type text (the default): shown, never parsed
  });

  it("two articles with the same slug stop the run with both file names, before anything is written", async () => {
    const root = await useTempDir();
    const a = makeArticle(0);
    const site = await createSite(root);
    const { writeFile, mkdir } = await import("node:fs/promises");
    await mkdir(site.paths.articles, { recursive: true });
    await writeFile(join(site.paths.articles, "first.json"), JSON.stringify(a));
    await writeFile(join(site.paths.articles, "second.json"), JSON.stringify({ ...a, id: "other" }));
    await expect(runEnrich({ site })).rejects.toThrow(
      /articles\/first\.json and articles\/second\.json have the same slug "why-sourdough-needs-time"/,
    );
    expect(existsSync(site.paths.output)).toBe(false);
  });

  it("category and tag folders use the article slug rule: Cyrillic and Greek are transliterated", async () => {
    const root = await useTempDir();
    const articles = [makeArticle(0, { category: "Хлеб и выпечка", tags: ["Ψωμί", "日本語"] })];
    const site = await createSite(root, { articles });
    await runEnrich({ site });
    expect(slugify("Хлеб и выпечка")).toBe("khleb-i-vypechka");
    expect(existsSync(join(site.paths.output, "blog/category/khleb-i-vypechka/index.html"))).toBe(true);
    expect(existsSync(join(site.paths.output, `blog/tag/${slugify("Ψωμί")}/index.html`))).toBe(true);
    expect(slugify("Ψωμί")).toBe("psomi");
    // Nothing to transliterate: still a folder of its own.
    const page = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(page).toMatch(/href="\.\.\/tag\/t-[0-9a-f]{8}\/" rel="tag">日本語<\/a>/);
  });
});

// --- internal ---

/**
 * Every URL a page or feed hands to a browser or reader: attribute values (also inside the escaped HTML of feeds),
 * JSON-LD strings, and the text of feed link elements.
 */
function urlsOf(text: string): string[] {
  const out: string[] = [];
  for (const layer of [text, unescapeXml(text)]) {
    for (const m of layer.matchAll(/\s[\w:-]+\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/g))
      out.push(m[1] ?? m[2] ?? m[3]!);
    for (const m of layer.matchAll(/<(link|guid|id|uri|loc)>([^<]*)<\//g)) out.push(unescapeXml(m[2]!));
    for (const m of layer.matchAll(/"(?:url|item|@id)":"([^"]*)"/g)) out.push(m[1]!);
  }
  return out;
}

function decodeRefs(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);?/g, (_m, d: string) => String.fromCodePoint(Number.parseInt(d, 10)))
    .replace(/&colon;/gi, ":")
    .replace(/&tab;/gi, "\t")
    .replace(/&newline;/gi, "\n")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}
