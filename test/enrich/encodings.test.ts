import { isUtf8 } from "node:buffer";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { createSite, makeArticle } from "./support.ts";

/** A small site whose pages are written in `encoding`, declared by `declared` (which may lie). */
async function writeSite(dir: string, encoding: string, declared: string, words: { home: string; about: string }) {
  const page = (title: string, body: string) =>
    [
      "<!DOCTYPE html>",
      `<html><head><meta http-equiv="Content-Type" content="text/html; charset=${declared}">`,
      `<title>${title}</title><link rel="stylesheet" href="site.css"></head>`,
      "<body>",
      `<nav><ul><li><a href="index.html">${words.home}</a></li><li><a href="about.html">${words.about}</a></li></ul></nav>`,
      `<div id="content"><h1>${title}</h1><p>${body}</p></div>`,
      `<footer><p>© ${words.home}</p></footer>`,
      `<script>var greeting = "${words.home} ${words.about}";</script>`,
      "</body></html>",
      "",
    ].join("\n");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "index.html"), iconv.encode(page(words.home, `${words.about} ${words.home}`), encoding));
  await writeFile(join(dir, "about.html"), iconv.encode(page(words.about, `${words.home}!`), encoding));
  await writeFile(join(dir, "site.css"), "body{margin:0}\n");
}

const CASES = [
  { encoding: "shift_jis", home: "ホーム", about: "私たちについて" },
  { encoding: "euc-jp", home: "ホーム", about: "会社概要" },
  { encoding: "gb18030", home: "首页", about: "关于我们" },
  { encoding: "big5", home: "首頁", about: "關於我們" },
  { encoding: "windows-1252", home: "Café Müller", about: "Über uns" },
];

describe("enrich: encodings", () => {
  it.each(CASES)("$encoding: site pages keep every byte but the Blog link; new pages are UTF-8", async (c) => {
    const root = await useTempDir();
    const from = join(root, "src-site");
    await writeSite(from, c.encoding, c.encoding, c);
    const site = await createSite(root, { from, articles: [makeArticle(0)], enrich: { navLink: { enabled: true } } });
    const report = await runEnrich({ site });
    expect(report.encoding).toBe(c.encoding);
    for (const p of ["index.html", "about.html"]) {
      const before = await readFile(join(site.paths.export, p));
      const after = await readFile(join(site.paths.output, p));
      const at = before.indexOf("</ul>");
      const link = Buffer.from('<li><a href="blog/">Blog</a></li>');
      expect(after.equals(Buffer.concat([before.subarray(0, at), link, before.subarray(at)])), p).toBe(true);
    }
    const page = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"));
    expect(isUtf8(page)).toBe(true);
    const text = page.toString("utf8");
    expect(text).toContain('content="text/html; charset=utf-8"');
    expect(text).toContain(`<a href="../../about.html">${c.about}</a>`);
    expect(text).toContain(`var greeting = "${c.home} ${c.about}";`);
    expect(text).not.toMatch(/&#x[0-9a-f]+;/i); // no character references: UTF-8 holds every character
  });

  it("a page declared UTF-8 but written in windows-1252: its bytes are kept, new pages read it as windows-1252", async () => {
    const root = await useTempDir();
    const from = join(root, "src-site");
    await writeSite(from, "windows-1252", "utf-8", { home: "Café", about: "Über uns" });
    const site = await createSite(root, { from, articles: [makeArticle(0)], enrich: { navLink: { enabled: true } } });
    const report = await runEnrich({ site });
    expect(report.encoding).toBe("windows-1252 (declared utf-8)");
    const before = await readFile(join(site.paths.export, "about.html"));
    const after = await readFile(join(site.paths.output, "about.html"));
    const at = before.indexOf("</ul>");
    expect(
      after.equals(
        Buffer.concat([before.subarray(0, at), Buffer.from('<li><a href="blog/">Blog</a></li>'), before.subarray(at)]),
      ),
    ).toBe(true);
    expect(after.includes(Buffer.from([0x43, 0x61, 0x66, 0xe9]))).toBe(true); // "Café" still windows-1252
    const page = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"));
    expect(isUtf8(page)).toBe(true);
    expect(page.toString("utf8")).toContain("© Café");
  });

  it('a page with a <meta charset> and no http-equiv gets <meta charset="utf-8">; one without any gets it added', async () => {
    const root = await useTempDir();
    const from = join(root, "src-site");
    await mkdir(from, { recursive: true });
    const doc = (t: string, decl: string) =>
      `<!DOCTYPE html><html><head>${decl}<title>${t}</title></head><body><nav><ul><li><a href="index.html">Start</a></li></ul></nav><main><h1>${t}</h1><p>Grüße ${t}</p></main></body></html>`;
    await writeFile(join(from, "index.html"), iconv.encode(doc("Start", '<meta charset="iso-8859-1">'), "latin1"));
    await writeFile(join(from, "about.html"), iconv.encode(doc("Über", ""), "windows-1252"));
    const site = await createSite(root, { from, articles: [makeArticle(0)], enrich: { template: "about.html" } });
    await runEnrich({ site });
    const text = await readFile(join(site.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(text).toMatch(/^<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">/);
    expect(text.match(/charset/g)).toHaveLength(1);
    const site2 = await createSite(join(root, "b"), {
      from,
      articles: [makeArticle(0)],
      enrich: { template: "index.html" },
    });
    await runEnrich({ site: site2 });
    const text2 = await readFile(join(site2.paths.output, "blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(text2).toContain('<head><meta charset="utf-8">');
    expect(text2).not.toContain("iso-8859-1");
  });
});
