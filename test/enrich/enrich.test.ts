import { existsSync } from "node:fs";
import { readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { decodePage, runEnrich, spliceBytes } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { hashTree, linksOf, xmllint } from "./helpers.ts";
import { createSite, FIXTURES, makeArticle } from "./support.ts";

const XSD = new URL("../../schema/sitemaps/", import.meta.url).pathname;

describe("enrich: example site", () => {
  it("keeps every untouched file byte-identical and adds pages, listings, feeds, sitemap and robots", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: Array.from({ length: 7 }, (_, i) => makeArticle(i)) });
    const report = await runEnrich({ site });
    expect(report.template).toBe("about.html");
    expect(report.articles).toEqual({ published: 7, drafts: 0, invalid: 0 });

    const exported = await hashTree(site.paths.export);
    const output = await hashTree(site.paths.output);
    for (const [path, hash] of exported) {
      if (path === "sitemap.xml" || path === "robots.txt") continue;
      expect(output.get(path), path).toBe(hash);
    }
    const robots = await readFile(join(site.paths.output, "robots.txt"), "utf8");
    const robotsBefore = await readFile(join(site.paths.export, "robots.txt"), "utf8");
    expect(robots).toBe(`${robotsBefore}Sitemap: https://www.example.com/sitemap.xml\n`);
    for (const p of [
      "blog/index.html",
      "blog/feed.xml",
      "blog/atom.xml",
      "blog/category/bread/index.html",
      "blog/tag/pastry/index.html",
    ]) {
      expect(output.has(p), p).toBe(true);
    }

    // Every relative link of every generated page resolves to a file of output/.
    for (const path of output.keys()) {
      if (!path.endsWith(".html")) continue;
      const html = await readFile(join(site.paths.output, path), "utf8");
      for (const link of linksOf(html)) {
        if (/^(?:[a-z]+:|#|\/\/)/i.test(link)) continue;
        const target = posix.normalize(posix.join(posix.dirname(path), link.split(/[?#]/)[0]!));
        const file = link.endsWith("/") || link === "" ? posix.join(target, "index.html") : target;
        expect(output.has(file.replace(/^\.\//, "")), `${path} → ${link}`).toBe(true);
      }
    }
  });

  it("builds an article page in the template with SEO tags, JSON-LD and a sanitised body", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: Array.from({ length: 3 }, (_, i) => makeArticle(i)) });
    await runEnrich({ site });
    const html = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    const about = await readFile(join(site.paths.export, "about.html"), "utf8");
    // The template's footer is there, its relative link moved to the new depth.
    const footer = /<footer[\s\S]*<\/footer>/
      .exec(about)![0]
      .replace('href="contact.html"', 'href="../../contact.html"');
    expect(html).toContain(footer);
    expect(html).toContain('<link rel="stylesheet" href="../../css/site.css">');
    expect(html).not.toContain("About us — Harbor Light Bakery"); // the template's own title is gone
    expect(html.match(/<title>/g)).toHaveLength(1);
    expect(html.match(/rel="canonical"/g)).toHaveLength(1);
    expect(html).toContain('<link rel="canonical" href="https://www.example.com/blog/why-sourdough-needs-time/">');
    expect(html).toContain('<meta property="og:type" content="article">');
    expect(html).toContain('<meta property="og:locale" content="en_US">');
    expect(html).toContain('<meta property="article:published_time" content="2026-01-01T08:30:00+01:00">');
    expect(html).toContain('<meta name="twitter:card" content="summary_large_image">');
    expect(html).toContain('<meta property="og:image:alt" content="A round sourdough loaf on a wooden board">');
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script>|javascript:|onclick/);
    expect(html).toContain('href="https://www.kingarthurbaking.com/" rel="noopener noreferrer"');
    expect(html).toContain('<a href="../../about.html">about our bakery</a>');

    const ld = JSON.parse(/<script type="application\/ld\+json">([\s\S]*?)<\/script>/.exec(html)![1]!);
    const types = ld["@graph"].map((n: { "@type": string }) => n["@type"]);
    expect(types).toEqual(["WebSite", "Organization", "WebPage", "BlogPosting", "FAQPage", "BreadcrumbList"]);
    const posting = ld["@graph"][3];
    expect(posting).toMatchObject({ wordCount: 420, author: { "@type": "Person", name: "Ella Marsh" } });
    expect(posting.mainEntityOfPage["@id"]).toBe(ld["@graph"][2]["@id"]);
    const crumbs = ld["@graph"][5].itemListElement;
    expect(crumbs.map((c: { position: number }) => c.position)).toEqual([1, 2, 3, 4]);
    expect(crumbs[3].item).toBeUndefined();
    expect(crumbs[0].item).toBe("https://www.example.com/");
  });

  it("repairs a generated page that was changed in output/ even when the cache says it is current", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0), makeArticle(1)] });
    const cacheFile = join(root, "cache.json");
    await runEnrich({ site, cacheFile });
    const page = join(site.paths.output, "blog/why-sourdough-needs-time/index.html");
    const good = await readFile(page);
    await writeFile(page, "tampered");
    const report = await runEnrich({ site, cacheFile });
    expect(report.written).toEqual(["blog/why-sourdough-needs-time/index.html"]);
    expect((await readFile(page)).equals(good)).toBe(true);
  });

  it("drops pages of removed articles that come back in a fresh export of the live site", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0), makeArticle(1)] });
    await runEnrich({ site });
    // Deploy, then export again: export/ is replaced by what the live site now holds (new files, as export writes them).
    const { cp } = await import("node:fs/promises");
    const fresh = join(root, "fresh-export");
    await cp(site.paths.output, fresh, { recursive: true, preserveTimestamps: true });
    await rm(site.paths.export, { recursive: true });
    await rename(fresh, site.paths.export);
    await rm(join(site.paths.articles, `${makeArticle(1).slug}.json`));
    const report = await runEnrich({ site });
    expect(report.removed).toContain(`blog/${makeArticle(1).slug}/index.html`);
    const sitemap = await readFile(join(site.paths.output, "sitemap.xml"), "utf8");
    expect(sitemap).not.toContain(makeArticle(1).slug);
    expect(sitemap).toContain("https://www.example.com/about.html");
    expect(await readFile(join(site.paths.output, "robots.txt"), "utf8")).toMatch(
      /Sitemap: https:\/\/www\.example\.com\/sitemap\.xml\n$/,
    );
    expect((await readFile(join(site.paths.output, "robots.txt"), "utf8")).match(/Sitemap:/g)).toHaveLength(1);
  });

  it("writes nothing with dryRun", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    const report = await runEnrich({ site, dryRun: true });
    expect(report.written.length).toBeGreaterThan(10);
    expect(existsSync(site.paths.output)).toBe(false);
  });

  it("generated pages are world-readable (0644) whatever the umask, and no staging folder is left", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    const umask = process.umask(0o077);
    try {
      await runEnrich({ site });
    } finally {
      process.umask(umask);
    }
    for (const page of ["blog/index.html", "blog/why-sourdough-needs-time/index.html", "sitemap.xml"]) {
      expect(((await stat(join(site.paths.output, page))).mode & 0o777).toString(8), page).toBe("644");
    }
    expect(existsSync(join(site.dir, ".output.staging"))).toBe(false);
  });

  it("splits the sitemap into an index above sitemapLimit; both validate against the sitemaps.org XSDs", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: Array.from({ length: 8 }, (_, i) => makeArticle(i)),
      enrich: { sitemapLimit: 5 },
    });
    await runEnrich({ site });
    const index = join(site.paths.output, "sitemap.xml");
    const xml = await readFile(index, "utf8");
    expect(xml).toContain("<sitemapindex");
    expect(xmllint(["--noout", "--schema", join(XSD, "siteindex.xsd"), index]).code).toBe(0);
    const parts = [
      ...xml.matchAll(/<loc>https:\/\/www\.example\.com\/(sitemap-\d+\.xml)<\/loc><lastmod>[^<]+<\/lastmod>/g),
    ].map((m) => m[1]!);
    expect(parts.length).toBeGreaterThan(2);
    let total = 0;
    for (const p of parts) {
      const file = join(site.paths.output, p);
      const check = xmllint(["--noout", "--schema", join(XSD, "sitemap.xsd"), file]);
      expect(check.code, check.output).toBe(0);
      const body = await readFile(file, "utf8");
      total += (body.match(/<url>/g) ?? []).length;
      expect((body.match(/<url>/g) ?? []).length).toBeLessThanOrEqual(5);
    }
    // 4 site pages + 8 articles + listings
    expect(total).toBeGreaterThan(12);
  });

  it("produces a single urlset that validates when below the limit", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0), makeArticle(1)] });
    await runEnrich({ site });
    const file = join(site.paths.output, "sitemap.xml");
    const check = xmllint(["--noout", "--schema", join(XSD, "sitemap.xsd"), file]);
    expect(check.code, check.output).toBe(0);
    const xml = await readFile(file, "utf8");
    expect(xml).toContain(
      "<url><loc>https://www.example.com/</loc><lastmod>2026-01-10</lastmod><changefreq>weekly</changefreq><priority>1.0</priority></url>",
    );
    expect(xml).toContain(
      "<loc>https://www.example.com/blog/why-sourdough-needs-time/</loc><lastmod>2026-01-01T08:30:00+01:00</lastmod>",
    );
  });

  it("adds a Blog link to the navigation of every page, changing nothing else", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: [makeArticle(0)],
      enrich: { navLink: { enabled: true, label: "Journal" } },
    });
    const first = await runEnrich({ site });
    for (const page of ["index.html", "about.html", "services.html", "contact.html"]) {
      const before = await readFile(join(site.paths.export, page));
      const after = await readFile(join(site.paths.output, page));
      const inserted = Buffer.from('<li><a href="blog/">Journal</a></li>\n');
      const at = before.indexOf("</ul>");
      expect(Buffer.concat([before.subarray(0, at), inserted, before.subarray(at)]).equals(after), page).toBe(true);
    }
    const article = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(article).toContain('<li><a href="../" aria-current="true">Journal</a></li>');
    expect(first.written).toContain("about.html");
    const second = await runEnrich({ site, cacheFile: join(root, "cache.json") });
    expect(second.written).toEqual([]);
    const third = await runEnrich({ site, cacheFile: join(root, "cache.json") });
    expect(third.written).toEqual([]);
  });

  it("reports invalid and draft articles and keeps going", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0), makeArticle(1, { status: "draft" })] });
    await writeFile(
      join(site.paths.articles, "broken.json"),
      JSON.stringify({ ...makeArticle(2), slug: "Not A Slug" }),
    );
    await writeFile(join(site.paths.articles, "garbage.json"), "{ nope");
    const report = await runEnrich({ site });
    expect(report.articles).toEqual({ published: 1, drafts: 1, invalid: 2 });
    expect(report.skipped.map((s) => s.path).sort()).toEqual([
      "articles/broken.json",
      "articles/choosing-flour-for-a-country-loaf.json",
      "articles/garbage.json",
    ]);
    expect(report.skipped.find((s) => s.path === "articles/broken.json")!.reason).toMatch(/slug/);
  });

  it("fails with a readable error when the export is missing", async () => {
    const root = await useTempDir();
    const site = await createSite(root);
    await rm(site.paths.export, { recursive: true });
    await expect(runEnrich({ site })).rejects.toMatchObject({
      code: "ERR_ENRICH",
      message: expect.stringMatching(/siteloom export demo/),
    });
  });
});

describe("enrich: legacy windows-1252 site with PHP and SSI pages", () => {
  it("writes generated pages as UTF-8 from a windows-1252 layout and leaves server-side pages alone", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      from: join(FIXTURES, "legacy"),
      articles: [makeArticle(0, { title: "Crème brûlée — the café way", slug: "creme-brulee" })],
      enrich: { navLink: { enabled: true, selector: "#nav ul" }, template: "index.html" },
    });
    const report = await runEnrich({ site });
    expect(report.encoding).toBe("windows-1252");
    expect(report.skipped).toEqual(
      expect.arrayContaining([
        { path: "contact.php", reason: expect.stringMatching(/server-side/) },
        { path: "news.shtml", reason: expect.stringMatching(/server-side/) },
      ]),
    );
    for (const p of ["contact.php", "news.shtml", "img/dot.gif", "style.css"]) {
      expect((await readFile(join(site.paths.output, p))).equals(await readFile(join(site.paths.export, p))), p).toBe(
        true,
      );
    }
    const bytes = await readFile(join(site.paths.output, "blog/creme-brulee/index.html"));
    // A new page is UTF-8: the template's bytes transcoded ("Café" is 43 61 66 C3 A9) and its declaration changed.
    expect(bytes.includes(Buffer.from("Café", "utf8"))).toBe(true);
    expect(bytes.includes(Buffer.from([0x66, 0xe9]))).toBe(false);
    const text = bytes.toString("utf8");
    expect(text).not.toContain("\ufffd");
    expect(text).toContain('content="text/html; charset=utf-8"');
    expect(text).not.toContain("windows-1252");
    expect(text).toContain("<h1>Crème brûlée — the café way</h1>");
    expect(text).toContain('<LINK rel="stylesheet" href="../../style.css">');
    expect(text).toContain('href="../../pages/menu.html"');
    // The nav edit of a windows-1252 page only inserts the link.
    const menuBefore = await readFile(join(site.paths.export, "pages/menu.html"));
    const menuAfter = await readFile(join(site.paths.output, "pages/menu.html"));
    const at = menuBefore.indexOf("</ul>");
    const link = Buffer.from('<li><a href="../blog/">Blog</a></li>');
    expect(Buffer.concat([menuBefore.subarray(0, at), link, menuBefore.subarray(at)]).equals(menuAfter)).toBe(true);
    // CRLF robots.txt gets a CRLF Sitemap line.
    expect(await readFile(join(site.paths.output, "robots.txt"), "latin1")).toBe(
      "User-agent: *\r\nDisallow: /cgi-bin/\r\nSitemap: https://www.example.com/sitemap.xml\r\n",
    );
  });

  it("refuses a template with server-side code", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      from: join(FIXTURES, "legacy"),
      articles: [makeArticle(0)],
      enrich: { template: "contact.php" },
    });
    await expect(runEnrich({ site })).rejects.toMatchObject({
      code: "ERR_ENRICH",
      message: expect.stringMatching(/server-side code/),
    });
  });
});

describe("enrich: byte splicing", () => {
  it("keeps invalid bytes outside the edits and maps UTF-8 offsets", () => {
    const page = decodePage(Buffer.from("<p>€ x</p>", "utf8"));
    const at = page.text.indexOf("x");
    expect(spliceBytes(page, [{ start: at, end: at + 1, text: "ü" }]).toString("utf8")).toBe("<p>€ ü</p>");
    const bom = decodePage(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("<b>é</b>")]));
    const out = spliceBytes(bom, [{ start: 3, end: 4, text: "è" }]);
    expect(out.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
    expect(out.subarray(3).toString("utf8")).toBe("<b>è</b>");
  });

  it("keeps an mtime-only change of an export file from rewriting its bytes but refreshes its copy", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    await runEnrich({ site });
    // A fresh export replaces the file (temp file, rename) with the same bytes and the server's newer mtime.
    const css = join(site.paths.export, "css/site.css");
    const later = new Date(Date.now() + 5_000);
    await writeFile(`${css}.tmp`, await readFile(css));
    await utimes(`${css}.tmp`, later, later);
    await rename(`${css}.tmp`, css);
    const report = await runEnrich({ site });
    expect(report.written).toEqual(["css/site.css"]);
    expect(Math.abs((await stat(join(site.paths.output, "css/site.css"))).mtimeMs - later.getTime())).toBeLessThan(1);
  });
});
