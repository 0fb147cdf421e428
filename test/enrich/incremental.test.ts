import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { type EnrichSiteInput, runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { hashTree, linksOf, mtimes } from "./helpers.ts";
import { createSite, makeArticle, writeArticle } from "./support.ts";

const NEW = makeArticle(12, {
  slug: "new-oven",
  title: "Our new oven",
  publishedAt: "2026-06-01T09:00:00+02:00",
  tags: ["oven"],
  keywords: ["oven"],
  category: "Shop news",
});

describe("enrich: incremental runs", () => {
  for (const cached of [false, true]) {
    it(`adding one article changes exactly the files that show it${cached ? " (with the CLI's cache)" : ""}`, async () => {
      const root = await useTempDir();
      const site = await createSite(root, {
        articles: Array.from({ length: 12 }, (_, i) => makeArticle(i)),
        enrich: { perPage: 3 },
      });
      const cacheFile = cached ? join(root, "state", "enrich.json") : undefined;
      await runEnrich({ site, cacheFile });
      const before = await snapshot(site);
      await new Promise((r) => setTimeout(r, 30));

      await writeArticle(site.paths.articles, NEW);
      const report = await runEnrich({ site, cacheFile });
      const changes = diff(before, await snapshot(site));
      // The new page and its tag page; the former newest article (its "next" link); the front pages of the blog
      // and of the article's category; feeds and sitemap. Archive pages (blog/page/N/) keep their bytes and mtime.
      expect(changes).toEqual({
        added: ["blog/new-oven/index.html", "blog/tag/oven/index.html"],
        removed: [],
        changed: [
          "blog/atom.xml",
          "blog/category/shop-news/index.html",
          `blog/${makeArticle(11).slug}/index.html`,
          "blog/feed.xml",
          "blog/index.html",
          "sitemap.xml",
        ],
      });
      expect(before.hashes.has("blog/page/3/index.html")).toBe(true);
      expect(report.written).toEqual([...changes.changed, ...changes.added].sort());
      const next = await readFile(join(site.paths.output, `blog/${makeArticle(11).slug}/index.html`), "utf8");
      expect(next).toContain('<a href="../new-oven/" rel="next">Our new oven</a>');

      // Nothing new: nothing written, not even re-rendered output differs.
      const again = await runEnrich({ site, cacheFile });
      expect(again.written).toEqual([]);
      expect(again.removed).toEqual([]);

      // Removing it brings back exactly the earlier tree.
      await rm(join(site.paths.articles, "new-oven.json"));
      const removed = await runEnrich({ site, cacheFile });
      expect(removed.removed).toEqual(["blog/new-oven/index.html", "blog/tag/oven/index.html"]);
      expect(await hashTree(site.paths.output)).toEqual(before.hashes);
    });
  }

  it("an edited article is read again even though the cache knows its file", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: Array.from({ length: 4 }, (_, i) => makeArticle(i)) });
    const cacheFile = join(root, "cache.json");
    await runEnrich({ site, cacheFile });
    const edited = makeArticle(2, { title: "Laminated dough, revisited", bodyMarkdown: "A *new* body." });
    await writeArticle(site.paths.articles, edited);
    const report = await runEnrich({ site, cacheFile });
    const page = await readFile(join(site.paths.output, `blog/${edited.slug}/index.html`), "utf8");
    expect(page).toContain("<h1>Laminated dough, revisited</h1>");
    expect(page).toContain("<p>A <em>new</em> body.</p>");
    expect(report.written).toContain("blog/index.html");
    // An invalid edit is reported, not served from the cache.
    await writeFile(
      join(site.paths.articles, `${edited.slug}.json`),
      JSON.stringify({ ...edited, slug: "Not A Slug" }),
    );
    const broken = await runEnrich({ site, cacheFile });
    expect(broken.skipped.map((s) => s.path)).toContain(`articles/${edited.slug}.json`);
    expect(broken.removed).toContain(`blog/${edited.slug}/index.html`);
  });

  it("a full front page starts the next archive page; older archive pages stay as they are", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: Array.from({ length: 11 }, (_, i) => makeArticle(i)),
      enrich: { perPage: 3 },
    });
    await runEnrich({ site });
    const before = await snapshot(site);
    await new Promise((r) => setTimeout(r, 30));
    await writeArticle(site.paths.articles, makeArticle(11));
    await runEnrich({ site });
    const changes = diff(before, await snapshot(site));
    expect(changes.added).toEqual(
      expect.arrayContaining(["blog/page/3/index.html", `blog/${makeArticle(11).slug}/index.html`]),
    );
    // page 2 was the newest archive page: only its "Newer articles" link moves (front page → page 3).
    expect(changes.changed).toEqual(expect.arrayContaining(["blog/index.html", "blog/page/2/index.html"]));
    expect(changes.changed).not.toContain("blog/page/1/index.html");
    const page2 = await readFile(join(site.paths.output, "blog/page/2/index.html"), "utf8");
    expect(page2).toContain('<a href="../3/" rel="prev">Newer articles</a>');
  });

  it("pagination links walk every published article once, newest first, and back", async () => {
    const root = await useTempDir();
    const articles = Array.from({ length: 14 }, (_, i) => makeArticle(i));
    const site = await createSite(root, { articles, enrich: { perPage: 3 } });
    await runEnrich({ site });
    const seen: string[] = [];
    let page: string | undefined = "blog/";
    let from: string | undefined;
    while (page) {
      const html: string = await readFile(join(site.paths.output, page, "index.html"), "utf8");
      expect(html).toContain(`<link rel="canonical" href="https://www.example.com/${page}">`);
      const list = /<ol class="sl-posts">([\s\S]*?)<\/ol>/.exec(html)![1]!;
      for (const m of list.matchAll(/<h2><a href="([^"]+)">/g)) {
        seen.push(posix.normalize(posix.join(page, m[1]!)).replace(/^blog\/|\/$/g, ""));
      }
      const newer = /<a href="([^"]+)" rel="prev">Newer articles<\/a>/.exec(html)?.[1];
      if (from) expect(posix.normalize(posix.join(page, newer!))).toBe(posix.normalize(from));
      else expect(newer).toBeUndefined();
      const older: string | undefined = /<a href="([^"]+)" rel="next">Older articles<\/a>/.exec(html)?.[1];
      from = page;
      page = older ? `${posix.normalize(posix.join(page, older))}` : undefined;
      for (const link of linksOf(html)) expect(link.startsWith("/"), link).toBe(false);
    }
    const newestFirst = [...articles]
      .sort((a, b) => Date.parse(b.publishedAt) - Date.parse(a.publishedAt))
      .map((a) => a.slug);
    expect(seen).toEqual(newestFirst);
    // 14 articles, 3 per page: archive pages 1..3 hold 3 each (oldest first); the front page shows the other 5.
    expect(from).toBe("blog/page/1/");
  });
});

// --- internal ---

interface Snapshot {
  hashes: Map<string, string>;
  times: Map<string, number>;
}

async function snapshot(site: EnrichSiteInput): Promise<Snapshot> {
  return { hashes: await hashTree(site.paths.output), times: await mtimes(site.paths.output) };
}

/** Files added, removed, or changed in bytes or mtime between two snapshots of output/. */
function diff(a: Snapshot, b: Snapshot): { added: string[]; removed: string[]; changed: string[] } {
  const added = [...b.hashes.keys()].filter((p) => !a.hashes.has(p)).sort();
  const removed = [...a.hashes.keys()].filter((p) => !b.hashes.has(p)).sort();
  const changed = [...a.hashes.keys()]
    .filter((p) => b.hashes.has(p) && (a.hashes.get(p) !== b.hashes.get(p) || a.times.get(p) !== b.times.get(p)))
    .sort();
  return { added, removed, changed };
}

describe("enrich: copies of the site's files", () => {
  // /dev/shm is a tmpfs on Linux, another file system than the temporary folder: link(2) fails with EXDEV there.
  it.skipIf(!existsSync("/dev/shm"))("are hard links where possible and real copies across file systems", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    await runEnrich({ site });
    const { stat } = await import("node:fs/promises");
    const [src, linked] = await Promise.all([
      stat(join(site.paths.export, "css/site.css")),
      stat(join(site.paths.output, "css/site.css")),
    ]);
    expect(linked.ino).toBe(src.ino);

    const { mkdtemp } = await import("node:fs/promises");
    const other = await mkdtemp("/dev/shm/siteloom-enrich-");
    try {
      const away = { ...site, paths: { ...site.paths, output: join(other, "output") } };
      const report = await runEnrich({ site: away });
      const copy = await stat(join(away.paths.output, "css/site.css"));
      expect(copy.ino).not.toBe(src.ino);
      expect(Math.abs(copy.mtimeMs - src.mtimeMs)).toBeLessThan(1); // utimes keeps microseconds
      const exported = await hashTree(site.paths.export);
      const copied = await hashTree(away.paths.output);
      for (const path of ["css/site.css", "images/loaf.png", "index.html", "contact.html"]) {
        expect(copied.get(path), path).toBe(exported.get(path));
      }
      expect((await runEnrich({ site: away })).written).toEqual([]);
      expect(report.written.length).toBeGreaterThan(10);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
