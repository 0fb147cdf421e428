// Hand-written corpus sites in legacy encodings: a windows-1252 site, a Shift_JIS site and one that declares UTF-8
// but is written in windows-1252 (a mislabelled charset). Written at test time, with iconv-lite, from the text below,
// so the repository holds no legacy-encoded bytes; each site has a header with a menu, a content column and a footer
// whose text uses characters outside ASCII (so a wrong transcoding shows in the chrome the browser test compares).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import iconv from "iconv-lite";
import type { CorpusSite } from "./generators.ts";

interface Words {
  lang: string;
  site: string;
  pages: [file: string, menu: string, title: string][];
  paragraph: string;
  footer: string;
}

const GERMAN: Omit<Words, "site"> = {
  lang: "de",
  pages: [
    ["index.html", "Startseite", "Willkommen in der Backstube"],
    ["about.html", "Über uns", "Seit 1952 – eine Familie, ein Ofen"],
    ["contact.html", "Kontakt", "So finden Sie uns"],
  ],
  paragraph:
    "Wir backen jeden Morgen „frisch“ – Brötchen, Brezeln und Kuchen für 2,50 € das Stück. Grüße aus der Backstube, Ihr Team.",
  footer: "© 2026 · Alle Rechte vorbehalten · Straße 12",
};

const SITES: { name: string; encoding: string; declared: string; words: Words }[] = [
  {
    name: "windows-1252",
    encoding: "windows-1252",
    declared: "windows-1252",
    words: { ...GERMAN, site: "Café Müller" },
  },
  {
    name: "shift-jis",
    encoding: "shift_jis",
    declared: "Shift_JIS",
    words: {
      lang: "ja",
      site: "山田木工房",
      pages: [
        ["index.html", "ホーム", "手作りの家具をお届けします"],
        ["about.html", "私たちについて", "三代続く木工の工房"],
        ["contact.html", "お問い合わせ", "工房へのアクセス"],
      ],
      paragraph:
        "私たちは国産の木材だけを使い、一つひとつ手作業で家具を作っています。長く使える道具を、これからも丁寧に作り続けます。",
      footer: "© 2026 山田木工房 ・ 全著作権所有",
    },
  },
  // Declares UTF-8, is windows-1252: browsers show U+FFFD for each non-ASCII byte of the site's own pages.
  {
    name: "mislabelled-charset",
    encoding: "windows-1252",
    declared: "utf-8",
    words: { ...GERMAN, site: "Bäckerei Schön" },
  },
];

const CSS = `body{margin:0;font:16px/1.5 Georgia,serif;color:#222}
.wrap{max-width:760px;margin:0 auto;padding:0 16px}
.top{background:#5b3a29;color:#fff}.top .wrap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between}
.brand{color:#fff;font-weight:bold;text-decoration:none;padding:12px 0}
.top ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:16px}.top a{color:#fff}
#content{padding:24px 0 48px}
footer{border-top:1px solid #ccc;color:#555;font-size:14px}
`;

/** Writes the three legacy-encoded sites under `root`. */
export async function encodingSites(root: string): Promise<CorpusSite[]> {
  const sites: CorpusSite[] = [];
  for (const s of SITES) {
    const dir = join(root, `charset-${s.name}`);
    await mkdir(join(dir, "css"), { recursive: true });
    await writeFile(join(dir, "css", "site.css"), CSS);
    for (const [file, , title] of s.words.pages) {
      await writeFile(join(dir, file), iconv.encode(_page(s.words, s.declared, title), s.encoding));
    }
    sites.push({ name: `charset-${s.name}`, dir, ownPage: "about.html" });
  }
  return sites;
}

// --- internal ---

function _page(w: Words, declared: string, title: string): string {
  const menu = w.pages.map(([file, label]) => `<li><a href="${file}">${label}</a></li>`).join("");
  return `<!DOCTYPE html>
<html lang="${w.lang}">
<head>
<meta charset="${declared}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} – ${w.site}</title>
<meta name="description" content="${title}. ${w.paragraph.slice(0, 60)}">
<link rel="stylesheet" href="css/site.css">
</head>
<body>
<header class="top"><div class="wrap"><a class="brand" href="index.html">${w.site}</a>
<nav aria-label="Main"><ul>${menu}</ul></nav></div></header>
<div class="wrap"><div id="content">
<h1>${title}</h1>
<p>${title}: ${w.paragraph}</p>
<p>${w.paragraph} (${title})</p>
</div></div>
<footer><div class="wrap"><p>${w.footer}</p></div></footer>
</body>
</html>
`;
}
