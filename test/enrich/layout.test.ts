import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { hashTree, linksOf } from "./helpers.ts";
import { createSite, FIXTURES, makeArticle } from "./support.ts";

const ARTICLE = "blog/why-sourdough-needs-time/index.html";
const articles = () => Array.from({ length: 4 }, (_, i) => makeArticle(i));

async function build(fixture: string, enrich: Record<string, unknown> = {}) {
  const root = await useTempDir();
  const site = await createSite(root, { from: join(FIXTURES, fixture), articles: articles(), enrich });
  const report = await runEnrich({ site });
  const read = (p: string) => readFile(join(site.paths.output, p), "utf8");
  return { site, report, read };
}

describe("enrich: layout model", () => {
  it("per-page masthead outside <main>: an article page is the layout, no other page's masthead, the theme's column kept", async () => {
    const { report, read } = await build("bootstrap-masthead", { navLink: { enabled: true } });
    expect(report.template).toBe("post.html");
    expect(report.layout.article.why).toMatch(/post or article/);
    for (const path of [ARTICLE, "blog/index.html", "blog/category/bread/index.html"]) {
      const html = await read(path);
      expect(html.match(/<h1[\s>]/g), path).toHaveLength(1);
      for (const masthead of [
        "About Me",
        "Man must explore",
        "Problems look mighty small",
        "Quill &amp; Ink Journal",
      ]) {
        expect(html, path).not.toContain(masthead);
      }
      // The article sits inside the theme's column, with the navbar and footer of the site.
      const column = html.indexOf('<div class="col-md-10 col-lg-8">');
      expect(column, path).toBeGreaterThan(html.indexOf('<main class="mb-4">'));
      expect(html.indexOf("<h1>"), path).toBeGreaterThan(column);
      expect(html, path).toMatch(
        /<li class="nav-item"><a class="nav-link" href="(?:\.\.\/)+about\.html">About<\/a><\/li>/,
      );
      // The layout page (post.html) marks its own item current; here only the Blog link is.
      expect(html, path).toMatch(
        /<li class="nav-item"><a class="nav-link" href="(?:\.\.\/)+post\.html">Sample Post<\/a><\/li>/,
      );
      expect(html, path).toMatch(
        /<li class="nav-item"><a href="(?:\.\/|(?:\.\.\/)*(?:blog\/)?)" class="nav-link active" aria-current="(?:page|true)">Blog<\/a><\/li>/,
      );
      const navbar = html.slice(html.indexOf('<nav class="navbar'), html.indexOf("</nav>"));
      expect(navbar.match(/aria-current|\bactive\b/g), path).toHaveLength(2);
      expect(html, path).toContain("Copyright &copy; Quill &amp; Ink 2026");
      expect(html, path).not.toContain('class="masthead"');
    }
    expect(report.layout.article.pageSpecific.join(" ")).toMatch(/header\.masthead/);
  });

  it("navbar inside <main>: the navbar stays, navLink works (no overlapping edits), the hero is left out", async () => {
    const { report, read } = await build("navbar-in-main", { navLink: { enabled: true } });
    const html = await read(ARTICLE);
    expect(html).toContain('<ul class="navbar-nav ms-auto mb-2 mb-lg-0">');
    // On generated pages the Blog link is the current one.
    expect(html).toMatch(/<li class="nav-item"><a href="\.\.\/" class="nav-link" aria-current="true">Blog<\/a><\/li>/);
    expect(html.match(/<h1[\s>]/g)).toHaveLength(1);
    expect(html).not.toMatch(/Our mission|Pay as you grow|A Bootstrap 5 template/);
    expect(html.indexOf("<h1>")).toBeGreaterThan(html.indexOf('<div class="col-lg-8 col-xl-6">'));
    expect(report.layout.article.region).toMatch(/col-lg-8/);
    // The site's own pages got the link too.
    expect(await read("pricing.html")).toContain('<li class="nav-item"><a href="blog/" class="nav-link">Blog</a></li>');
  });

  it('table layout under <base href="/">: every link we write resolves from the base', async () => {
    const { site, report, read } = await build("base-table", { navLink: { enabled: true, selector: "ul.menu" } });
    expect(report.layout.article.region).toBe("table.layout tbody tr td.main");
    const files = await hashTree(site.paths.output);
    for (const path of [ARTICLE, "blog/index.html", "blog/tag/sourdough/index.html", "pages/gallery.html"]) {
      const html = await read(path);
      expect(html, path).toContain('<td class="side" width="180">');
      for (const link of linksOf(html)) {
        if (/^(?:[a-z]+:|#)/i.test(link) || link.startsWith("//")) continue;
        expect(link, path).not.toMatch(/^\.\.\//);
        // The articles link to /about.html and /images/: pages of another site, not of this fixture.
        if (link === "about.html" || link.startsWith("images/")) continue;
        // The page's <base href="/"> makes every relative URL resolve from the site root.
        const target = posix.normalize(link.startsWith("/") ? link.slice(1) : link).split(/[?#]/)[0]!;
        const file = target === "." || target.endsWith("/") ? posix.join(target, "index.html") : target;
        expect(files.has(file.replace(/^\.\//, "")), `${path} → ${link}`).toBe(true);
      }
    }
    expect(await read("pages/gallery.html")).toContain('<li><a href="blog/">Blog</a></li>');
  });

  it("a one-page theme gets a clear message, and works once told where the article goes", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { from: join(FIXTURES, "one-page"), articles: articles() });
    await expect(runEnrich({ site })).rejects.toThrow(/one-page theme\? Set enrich\.contentSelector/);
    expect(existsSync(site.paths.output)).toBe(false);
    const told = await build("one-page", { contentSelector: "#services", remove: ["header.masthead", "#team"] });
    const html = await told.read(ARTICLE);
    expect(html.match(/<h1[\s>]/g)).toHaveLength(1);
    expect(html).not.toMatch(/Welcome To Our Studio|Our Amazing Team/);
    expect(html).toContain('<nav class="navbar fixed-top" id="mainNav">');
    // The menu's link to a section left out leads to that section of the home page; those still here stay in-page.
    expect(html).toContain('<a href="../../index.html#team">Team</a>');
    expect(html).toContain('<a href="#services">Services</a>');
    expect(html).toContain('<a href="#page-top">Agency</a>');
  });

  it("keep and remove override the model; a pinned listing template is used for listings", async () => {
    const { report, read } = await build("bootstrap-masthead", {
      keep: ["header.masthead"],
      remove: ["footer"],
      listingTemplate: "index.html",
    });
    const html = await read(ARTICLE);
    expect(html).toContain('class="masthead"');
    expect(html).not.toContain("Copyright &copy;");
    expect(report.listingTemplate).toBe("index.html");
    expect(report.layout.listing.why).toMatch(/enrich\.listingTemplate/);
    const listing = await read("blog/index.html");
    expect(listing).not.toContain("Man must explore");
  });

  it("a page that cannot be built stops the run before anything is written, naming the page", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: articles(), enrich: { contentSelector: "head" } });
    await expect(runEnrich({ site })).rejects.toThrow(
      /could not build blog\/.* from the layout about\.html \(content region head\): .*nothing was written/,
    );
    expect(existsSync(site.paths.output)).toBe(false);
  });

  it("a post's own <article> around the theme's column: the column stays and the article fills it", async () => {
    const src = await useTempDir();
    const shell = (body: string) =>
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>T</title></head><body><nav><ul><li><a href="index.html">Home</a></li></ul></nav>${body}<footer><p>Footer</p></footer></body></html>`;
    const column = (inner: string) =>
      `<div class="container"><div class="row"><div class="col-lg-8">${inner}</div></div></div>`;
    await writeFile(join(src, "index.html"), shell(`<main class="mb-4">${column("<p>Home text here.</p>")}</main>`));
    await writeFile(join(src, "about.html"), shell(`<main class="mb-4">${column("<p>About text.</p>")}</main>`));
    await writeFile(
      join(src, "post.html"),
      shell(`<article class="mb-4">${column("<p>A post of the site.</p><p>More of it.</p>")}</article>`),
    );
    const root = await useTempDir();
    const site = await createSite(root, { from: src, articles: articles() });
    const report = await runEnrich({ site });
    expect(report.template).toBe("post.html");
    expect(report.layout.article.region).toMatch(/col-lg-8$/);
    const html = await readFile(join(site.paths.output, ARTICLE), "utf8");
    const at = html.indexOf('<div class="col-lg-8">');
    expect(at).toBeGreaterThan(html.indexOf('<div class="container">'));
    expect(html.indexOf("<h1", at)).toBeGreaterThan(at);
    expect(html).not.toContain('<article class="mb-4">');
    expect(html).not.toContain("A post of the site.");
  });
});
