import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { walkTree } from "../../src/enrich/files.ts";
import { runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { elements, linksOf, xmllint } from "./helpers.ts";
import { createSite, makeArticle, writeArticle } from "./support.ts";

const DRAFT = "choosing-flour-for-a-country-loaf";
const DRAFT_PAGE = `blog/${DRAFT}/index.html`;
const ROBOTS = /<meta name="robots" content="([^"]*)">/g;
/** A published article whose text links to the draft (generated articles link to each other). */
const LINKING = makeArticle(0, {
  bodyMarkdown: `Start with [our flour guide](/blog/${DRAFT}/) and [the about page](/about.html).`,
});

describe("enrich: draft articles", () => {
  it("skips drafts by default: no page, not listed anywhere", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [LINKING, makeArticle(1, { status: "draft" })] });
    const report = await runEnrich({ site });
    expect(report.articles).toEqual({ published: 1, drafts: 1, invalid: 0 });
    // The link in the text becomes plain text: the draft has no page to link to.
    const linking = await readFile(join(site.paths.output, `blog/${LINKING.slug}/index.html`), "utf8");
    expect(linking).toContain('<p>Start with our flour guide and <a href="../../about.html">the about page</a>.</p>');
    expect(report.skipped.map((s) => s.path)).toContain(`articles/${DRAFT}.json`);
    expect(existsSync(join(site.paths.output, DRAFT_PAGE))).toBe(false);
    const index = await readFile(join(site.paths.output, "blog/index.html"), "utf8");
    expect(index).not.toContain(DRAFT);
    expect(await sitemapText(site.paths.output)).not.toContain(DRAFT);
    // Once the draft is published, the link comes back (with the render cache too).
    const cacheFile = join(root, "cache.json");
    await runEnrich({ site, cacheFile });
    await writeArticle(site.paths.articles, makeArticle(1));
    const after = await runEnrich({ site, cacheFile });
    expect(after.written).toContain(`blog/${LINKING.slug}/index.html`);
    expect(await readFile(join(site.paths.output, `blog/${LINKING.slug}/index.html`), "utf8")).toContain(
      `<a href="../${DRAFT}/">our flour guide</a>`,
    );
  });

  it("with drafts: preview, renders the draft with noindex and a visible notice, outside the sitemap and feeds", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: [LINKING, makeArticle(1, { status: "draft" }), makeArticle(2)],
      enrich: { drafts: "preview" },
    });
    const report = await runEnrich({ site });
    expect(report.articles).toEqual({ published: 2, drafts: 1, invalid: 0 });
    expect(report.skipped.map((s) => s.path)).not.toContain(`articles/${DRAFT}.json`);
    expect(report.warnings.join("\n")).toMatch(/1 draft article\(s\) rendered as previews/);

    const page = await readFile(join(site.paths.output, DRAFT_PAGE), "utf8");
    // Exactly one robots meta (the layout's own is replaced), and it says noindex, nofollow.
    expect([...page.matchAll(ROBOTS)].map((m) => m[1])).toEqual(["noindex, nofollow"]);
    // The notice is inside the article, announced as a note, and its text is visible (not hidden by markup).
    const notice = /<div class="sl-draft" role="note"[^>]*>([\s\S]*?)<\/div>/.exec(page);
    expect(notice, "draft notice").not.toBeNull();
    expect(notice![1]).toContain("Draft — sample content");
    expect(notice![0]).not.toMatch(/hidden|display:\s*none/);
    expect(page.indexOf('<div class="sl-draft"')).toBeGreaterThan(page.indexOf('<article class="sl-article">'));
    expect(page).toContain(".sl-draft{");

    // A published article keeps index, follow and carries no notice.
    const published = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect([...published.matchAll(ROBOTS)].map((m) => m[1])).toEqual(["index, follow, max-image-preview:large"]);
    expect(published).not.toContain("Draft — sample content");

    // Listed (and labelled) only on the noindex listing of previews, which the blog index names (nofollow).
    const previews = await readFile(join(site.paths.output, "blog/drafts/index.html"), "utf8");
    expect(previews).toMatch(new RegExp(`href="\\.\\./${DRAFT}/">[^<]*</a> <small class="sl-draft-label">`));
    expect([...previews.matchAll(ROBOTS)].map((m) => m[1])).toEqual(["noindex, nofollow"]);
    const index = await readFile(join(site.paths.output, "blog/index.html"), "utf8");
    expect(index).toContain('<a href="drafts/" rel="nofollow">draft previews</a>');
    // No published page (article text, neighbour links, related block, listings, hreflang) points at the draft.
    for (const f of await walkTree(site.paths.output)) {
      if (!f.path.endsWith(".html") || f.path.startsWith("blog/drafts/") || f.path === DRAFT_PAGE) continue;
      const html = await readFile(join(site.paths.output, f.path), "utf8");
      expect(
        linksOf(html).filter((l) => l.includes(DRAFT)),
        f.path,
      ).toEqual([]);
    }
    const sitemap = await sitemapText(site.paths.output);
    expect(sitemap).toContain("https://www.example.com/blog/why-sourdough-needs-time/");
    expect(sitemap).not.toContain(DRAFT);
    const rss = await readFile(join(site.paths.output, "blog/feed.xml"), "utf8");
    const atom = await readFile(join(site.paths.output, "blog/atom.xml"), "utf8");
    expect(elements(rss, "item")).toHaveLength(2);
    expect(elements(atom, "entry")).toHaveLength(2);
    expect(rss).not.toContain(DRAFT);
    expect(atom).not.toContain(DRAFT);
    expect(xmllint(["--noout", join(site.paths.output, "blog/feed.xml")]).code).toBe(0);
  });

  it("never lets a draft preview take the slug of a published article", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)], enrich: { drafts: "preview" } });
    // A draft with the same slug, in a file whose name sorts before the published one.
    const draft = makeArticle(0, { status: "draft", title: "Old draft" });
    await writeFile(join(site.paths.articles, "0-draft.json"), JSON.stringify(draft));
    const report = await runEnrich({ site });
    expect(report.skipped.find((s) => s.path === "articles/0-draft.json")?.reason).toMatch(/duplicate slug/);
    const page = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(page).not.toContain("Draft — sample content");
  });

  it("removes the preview page when drafts go back to skip", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: [makeArticle(0), makeArticle(1, { status: "draft" })],
      enrich: { drafts: "preview" },
    });
    await runEnrich({ site });
    expect(existsSync(join(site.paths.output, DRAFT_PAGE))).toBe(true);
    site.config.enrich = { ...site.config.enrich, drafts: "skip" };
    const report = await runEnrich({ site });
    expect(report.removed).toContain(DRAFT_PAGE);
    expect(existsSync(join(site.paths.output, DRAFT_PAGE))).toBe(false);
  });
});

// --- internal ---

/** Every sitemap file of output/ joined (sitemap.xml, and sitemap-*.xml when split). */
async function sitemapText(output: string): Promise<string> {
  const names = (await readdir(output)).filter((n) => /^sitemap(?:-[\w-]+)?\.xml$/.test(n)).sort();
  expect(names.length).toBeGreaterThan(0);
  return (await Promise.all(names.map((n) => readFile(join(output, n), "utf8")))).join("\n");
}
