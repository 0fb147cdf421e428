import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { xmllint } from "./helpers.ts";
import { createSite, makeArticle } from "./support.ts";

describe("enrich: the site's sitemap extensions", () => {
  it("keeps image:, xhtml:link hreflang and video: entries and their namespaces when merging", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0), makeArticle(1)] });
    const own = [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" xmlns:xhtml="http://www.w3.org/1999/xhtml" xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">`,
      `<url><loc>https://www.example.com/about.html</loc><lastmod>2025-05-01</lastmod><image:image><image:loc>https://www.example.com/images/oven.jpg</image:loc></image:image><xhtml:link rel="alternate" hreflang="de" href="https://www.example.com/de/about.html"/></url>`,
      `<url><loc>https://www.example.com/services.html</loc><video:video><video:title>Our oven</video:title></video:video></url>`,
      `</urlset>`,
    ].join("\n");
    await writeFile(join(site.paths.export, "sitemap.xml"), own);
    await runEnrich({ site });
    const file = join(site.paths.output, "sitemap.xml");
    const xml = await readFile(file, "utf8");
    expect(xmllint(["--noout", file]).code).toBe(0); // well-formed: every prefix is declared
    expect(xml).toContain('xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"');
    expect(xml).toContain('xmlns:xhtml="http://www.w3.org/1999/xhtml"');
    expect(xml).toContain('xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"');
    expect(xml).toContain(
      `<url><loc>https://www.example.com/about.html</loc><lastmod>2025-05-01</lastmod><image:image><image:loc>https://www.example.com/images/oven.jpg</image:loc></image:image><xhtml:link rel="alternate" hreflang="de" href="https://www.example.com/de/about.html"/></url>`,
    );
    expect(xml).toContain("<video:video><video:title>Our oven</video:title></video:video>");
    expect(xml).toContain("<loc>https://www.example.com/blog/why-sourdough-needs-time/</loc>");
  });
});
