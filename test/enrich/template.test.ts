import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseHtml } from "../../src/enrich/html.ts";
import { runEnrich } from "../../src/enrich/index.ts";
import { findNavInsertion, findNavInsertionFast } from "../../src/enrich/template.ts";
import { useTempDir } from "../support/cli.ts";
import { createSite, makeArticle } from "./support.ts";

const ARTICLE = "blog/why-sourdough-needs-time/index.html";

describe("enrich: template URLs in CSS", () => {
  it("moves url(...) and @import of style attributes and <style> blocks to the page's depth, byte for byte elsewhere", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    const about = join(site.paths.export, "about.html");
    const style =
      '<style>\r\n@import "css/print.css";\r\n.hero{background:url("images/hero.png")}\r\n' +
      ".a{background:url( images/a.png )} .b{background:url('/images/b.png')} .c{background:url(data:image/gif;base64,R0lGOD)}\r\n</style>\n";
    const html = (await readFile(about, "utf8"))
      .replace("</head>", `${style}</head>`)
      .replace(
        '<header class="site-header">',
        `<header class="site-header" style="background: url('images/bg.png') no-repeat">`,
      );
    await writeFile(about, html);
    await runEnrich({ site });
    const page = await readFile(join(site.paths.output, ARTICLE), "utf8");
    const moved =
      '<style>\r\n@import "../../css/print.css";\r\n.hero{background:url("../../images/hero.png")}\r\n' +
      ".a{background:url( ../../images/a.png )} .b{background:url('/images/b.png')} .c{background:url(data:image/gif;base64,R0lGOD)}\r\n</style>\n";
    expect(page).toContain(moved);
    expect(page).toContain(
      `<header class="site-header" style="background: url(&#39;../../images/bg.png&#39;) no-repeat">`,
    );
    // The listing one level up gets its own depth.
    const index = await readFile(join(site.paths.output, "blog/index.html"), "utf8");
    expect(index).toContain('.hero{background:url("../images/hero.png")}');
    // The template page itself is the site's own file: untouched.
    expect(await readFile(join(site.paths.output, "about.html"), "utf8")).toBe(html);
  });
});

describe("enrich: hreflang", () => {
  it("pairs translations sharing a translationKey both ways, with one x-default, and never a draft", async () => {
    const root = await useTempDir();
    const en = makeArticle(0, { translationKey: "sourdough" });
    const de = makeArticle(1, {
      slug: "warum-sauerteig-zeit-braucht",
      title: "Warum Sauerteig Zeit braucht",
      language: "de",
      translationKey: "sourdough",
    });
    const fr = makeArticle(2, {
      slug: "pourquoi-le-levain",
      title: "Pourquoi le levain a besoin de temps",
      language: "fr",
      translationKey: "sourdough",
      status: "draft",
    });
    const site = await createSite(root, {
      articles: [en, de, fr, makeArticle(3)],
      enrich: { languages: ["en", "de", "fr"], drafts: "preview" },
    });
    await runEnrich({ site });
    const links = async (path: string) =>
      [
        ...(await readFile(join(site.paths.output, path), "utf8")).matchAll(
          /<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">/g,
        ),
      ].map((m) => `${m[1]} ${m[2]}`);
    const expected = [
      "de https://www.example.com/blog/warum-sauerteig-zeit-braucht/",
      `en https://www.example.com/blog/${en.slug}/`,
      `x-default https://www.example.com/blog/${en.slug}/`,
    ];
    expect(await links(ARTICLE)).toEqual(expected);
    expect(await links("blog/warum-sauerteig-zeit-braucht/index.html")).toEqual(expected);
    const de_ = await readFile(join(site.paths.output, "blog/warum-sauerteig-zeit-braucht/index.html"), "utf8");
    expect(de_).toContain('<html lang="de"');
    expect(de_).toContain('<meta property="og:locale" content="de_DE">');
    expect(de_).toContain('<meta property="og:locale:alternate" content="en_US">');
    // An article without translations names itself and x-default.
    const alone = `blog/${makeArticle(3).slug}/index.html`;
    expect(await links(alone)).toEqual([
      `en https://www.example.com/blog/${makeArticle(3).slug}/`,
      `x-default https://www.example.com/blog/${makeArticle(3).slug}/`,
    ]);
  });
});

describe("enrich: navigation link without parsing whole pages", () => {
  const nav = { label: "Blog", blogDir: "blog/" };
  const page = (head: string, rest: string) =>
    `<!DOCTYPE html><html><head><title>x</title></head><body>${head}<main><p>${"text ".repeat(5000)}</p></main>${rest}</body></html>`;

  it("finds the same insertion point as a full parse", () => {
    for (const text of [
      page('<nav><ul><li><a href="/">Home</a></li></ul></nav>', ""),
      // The first <nav> has no list: "nav ul" is decided by the whole page.
      page(
        '<nav aria-label="Crumbs"><a href="/">Home</a></nav>',
        '<nav><ul><li><a href="a.html">A</a></li></ul></nav>',
      ),
      // A "</nav>" inside a comment or script is not the end of anything.
      page('<!-- </nav> --><script>var s="</nav>";</script><nav><ul><li><a href="/">Home</a></li>\n</ul></nav>', ""),
      page("<div id=nav><ul><li><a href=x.html>X</a></li></ul></div>", ""),
      // Heads that hide a "<body" where only a whole parse sees through: an attribute value, a title, a script.
      ...[
        '<meta name="x" content="a>b <body class=fake><nav><ul><li>Fake</li></ul></nav>">',
        "<title>a <body><nav><ul><li>Fake</li></ul></nav></title>",
        '<script><!-- <script> "<body><nav><ul><li>Fake</li></ul></nav>" </script> --></script>',
        "<!-- <body><nav><ul><li>Fake</li></ul></nav> -->",
      ].map(
        (head) =>
          `<!DOCTYPE html><html><head>${head}</head><body class="real"><nav><ul><li><a href="/">Home</a></li></ul></nav><main><p>${"text ".repeat(5000)}</p></main></body></html>`,
      ),
    ]) {
      const full = findNavInsertion(parseHtml(text), text, "", nav);
      expect(findNavInsertionFast(text, "", nav)).toEqual(full);
      // Twice: the second answer comes from the memo of the page part.
      expect(findNavInsertionFast(text, "", nav)).toEqual(full);
      expect(findNavInsertionFast(text, "", { ...nav, selector: "#nav ul" })).toEqual(
        findNavInsertion(parseHtml(text), text, "", { ...nav, selector: "#nav ul" }),
      );
    }
  });

  it("finds a navigation without <nav> by role=navigation (Sphinx's sidebar): its first list, not a later one", () => {
    const sidebar =
      '<div class="sphinxsidebar" role="navigation"><h3>Navigation</h3><ul class="current"><li class="toctree-l1"><a href="about.html">About</a></li></ul><ul><li><a href="x.html">X</a></li></ul></div>';
    const text = page("", sidebar);
    const ins = findNavInsertionFast(text, "", nav);
    expect(ins?.liClass).toBe("toctree-l1");
    expect(text.slice(0, ins!.insertAt).endsWith("About</a></li>")).toBe(true);
    // A configured selector that matches nothing is not replaced by the guess.
    expect(findNavInsertionFast(text, "", { ...nav, selector: "#menu ul" })).toBeUndefined();
  });

  it("adds nothing when the navigation already links to the blog", () => {
    const text = page('<nav><ul><li><a href="/blog/">Blog</a></li></ul></nav>', "");
    expect(findNavInsertionFast(text, "", nav)).toBeUndefined();
  });
});
