/// <reference lib="dom" />
// Real-world sites made by real generators (Jekyll/minima, Pelican, MkDocs ×2, Hugo, Sphinx, WordPress ×3), Start
// Bootstrap templates as npm publishes them (clean-blog; agency, a one-page theme) and hand-written structures
// (per-page masthead, navbar inside <main>, <base href> with a table layout; windows-1252, Shift_JIS, a mislabelled
// charset),
// enriched with a dozen articles and judged in headless Chromium at 1280 and 390 px, by the Nu HTML checker, by
// Lighthouse and by `runCheck`. Needs scripts/setup-site-generators.sh and scripts/setup-check-tools.sh.
// One browser and one generation per run; screenshots go to test-output/enrich-corpus/.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePage } from "../../src/enrich/encoding.ts";
import { walkTree } from "../../src/enrich/files.ts";
import { parseHtml, querySelectorAll, textContent } from "../../src/enrich/html.ts";
import { type EnrichReport, type Preview, runCheck, runEnrich, startPreview } from "../../src/enrich/index.ts";
import { type CorpusSite, generateCorpus } from "./corpus/generators.ts";
import { createSite, makeArticle } from "./support.ts";

const VNU = fileURLToPath(new URL("../../node_modules/vnu-jar/build/dist/vnu.jar", import.meta.url));
const SHOTS = fileURLToPath(new URL("../../test-output/enrich-corpus/", import.meta.url));
const CHROMIUM = process.env.CHROME_PATH ?? "/usr/bin/chromium";
const ARTICLE = "blog/why-sourdough-needs-time/";
const WIDTHS = [1280, 390];
const LIGHTHOUSE_SITES = [
  "jekyll-minima",
  "mkdocs-readthedocs",
  "bootstrap-masthead",
  "wordpress-twentytwentyone",
  "wordpress-twentytwentytwo",
  "wordpress-twentytwentythree",
];
const ARTICLE_TITLE = "Why sourdough needs time";
/** Active-state classes of menu items (as src/enrich/layout.ts knows them) and previous/next link texts. */
const ACTIVE_CLASS =
  /^(?:active|current|selected|is-active|current[-_](?:menu|page)[-_](?:item|parent|ancestor)|current_page_item)$/;
const STATE_TEXT = /^(?:[«‹←]\s*)?(?:previous|next|older|newer)\b/;
const PARAGRAPH =
  "Good bread starts with patience: a slow rise gives flavour and a better crumb, and the dough tells you when it is ready if you watch it closely.";

interface Built {
  site: CorpusSite;
  report: EnrichReport;
  output: string;
  preview: Preview;
  /** h1 texts of the site's own pages that are not the same on every page (a masthead's, a page's title). */
  ownTitles: string[];
  /** h1 texts every page of the site has: the site's chrome (a site name set as h1). */
  siteH1s: string[];
}

let root: string;
let browser: Browser;
let debugPort: number;
const built: Built[] = [];
const skipped: string[] = [];
/** Sites whose layout page has a navigation the Blog link went into. */
const navLinkSites = new Set<string>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "siteloom-corpus-"));
  await mkdir(SHOTS, { recursive: true });
  for (const site of await generateCorpus(join(root, "generated"))) {
    if (site.missing) {
      skipped.push(`${site.name}: ${site.missing} is not installed (scripts/setup-site-generators.sh)`);
      continue;
    }
    const input = await createSite(join(root, "sites-root", site.name), {
      from: site.dir,
      name: site.name,
      enrich: { navLink: { enabled: true }, ...site.enrich },
      // The articles link only to the blog and to outside sites: these sites have no /about.html or /images/.
      articles: Array.from({ length: 12 }, (_, i) =>
        makeArticle(i, {
          image: undefined,
          bodyMarkdown: `${PARAGRAPH}\n\n## Details\n\n${PARAGRAPH} See [the guide](https://www.example.org/guide).\n`,
        }),
      ),
    });
    // Served on loopback from the folder runEnrich writes, and configured with that origin as its public URL.
    const served = await startPreview({ dir: input.paths.output });
    input.config.url = served.url;
    const report = await runEnrich({ site: input });
    if (!report.warnings.some((w) => /no Blog link/.test(w))) navLinkSites.add(site.name);
    const titles = await _pageTitles(site.dir);
    built.push({
      site,
      report,
      output: input.paths.output,
      preview: served,
      ownTitles: titles.varying,
      siteH1s: titles.everywhere,
    });
  }
  debugPort = await _freePort();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--remote-debugging-port=${debugPort}`,
    ],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  for (const b of built) await b.preview.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("enrich: real-site corpus in Chromium", () => {
  it("builds every corpus site", () => {
    if (skipped.length > 0) console.warn(`corpus sites skipped:\n${skipped.join("\n")}`);
    expect(built.length).toBeGreaterThanOrEqual(3);
  });

  it("article and listing pages have the site's chrome, one h1, the site's column, no overflow, no other page's masthead", async () => {
    const problems: string[] = [];
    const figures: string[] = [];
    const layoutState: string[] = [];
    let layoutMarks = 0;
    let layoutStateLinks = 0;
    for (const b of built) {
      const layoutPage = b.report.template;
      for (const width of WIDTHS) {
        const context = await browser.newContext({ viewport: { width, height: 900 } });
        const page = await context.newPage();
        const measure = async (path: string, kind: "article" | "listing") => {
          await page.goto(`${b.preview.url}${path}`, { waitUntil: "load" });
          return page.evaluate(
            ({ chrome, region, column, active, state, siteH1s }) => {
              const ACTIVE = new RegExp(active, "i");
              const STATE = new RegExp(state, "i");
              const text = (el: Element | null) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
              const chromeTexts = chrome.map((sel: string) => {
                try {
                  return text(document.querySelector(sel.replace(/ /g, " ")));
                } catch {
                  return "";
                }
              });
              const ourText = document.querySelector(".sl-article > p, .sl-posts");
              let own: Element | null = null;
              try {
                const regionEl = document.querySelector(region);
                own = regionEl?.matches("article")
                  ? regionEl.querySelector("p")
                  : (regionEl?.querySelector("p") ?? null);
              } catch {
                own = null;
              }
              const box = (el: Element | null) => {
                const r = el?.getBoundingClientRect();
                return r ? { left: Math.round(r.left), width: Math.round(r.width) } : null;
              };
              // A configured column is measured inside its padding: where the theme lets text run.
              const columnEl = column ? document.querySelector(column) : null;
              const padded = (el: Element) => {
                const r = el.getBoundingClientRect();
                const s = getComputedStyle(el);
                const [pl, pr] = [Number.parseFloat(s.paddingLeft), Number.parseFloat(s.paddingRight)];
                return { left: Math.round(r.left + pl), width: Math.round(r.width - pl - pr) };
              };
              // Text outside what we generated (and outside the site's chrome is judged by the caller).
              const rest = document.body.cloneNode(true) as HTMLElement;
              for (const c of Array.from(rest.querySelectorAll(".sl-categories"))) c.previousElementSibling?.remove();
              const ours =
                ".sl-article, .sl-crumbs, .sl-posts, .sl-related, .sl-prevnext-nav, .sl-pager-nav, .sl-categories, .sl-feeds, h1";
              for (const el of Array.from(rest.querySelectorAll(ours))) el.remove();
              // "You are here" markers and previous/next links outside what we generated.
              const inOurs = (el: Element) => el.closest(ours.replace(", h1", "")) !== null;
              const blog = new URL("/blog/", location.href).href;
              const navs = "nav, [role=navigation], .navbar, .nav, .menu, .navigation, .main-navigation";
              const marked = Array.from(document.querySelectorAll(`:is(${navs}) :is(a, li)`))
                .filter((el) => !inOurs(el))
                .filter((el) => el.hasAttribute("aria-current") || Array.from(el.classList).some((c) => ACTIVE.test(c)))
                .map((el) => {
                  const a = el.matches("a") ? (el as HTMLAnchorElement) : el.querySelector("a");
                  return { text: text(el).slice(0, 40), blog: a?.href === blog };
                });
              const stateLinks = Array.from(document.querySelectorAll("a[href]"))
                .filter(
                  (a) => !inOurs(a) && (/\b(?:prev|next)\b/.test(a.getAttribute("rel") ?? "") || STATE.test(text(a))),
                )
                .map((a) => `${text(a).slice(0, 40)} -> ${a.getAttribute("href")}`);
              // In-page links of the chrome ("#team") whose target is not on this page.
              const deadFragments = Array.from(document.querySelectorAll("a[href^='#']"))
                .filter((a) => !inOurs(a))
                .map((a) => (a.getAttribute("href") ?? "").slice(1))
                .filter((f) => {
                  if (f === "" || f.toLowerCase() === "top") return false;
                  try {
                    return document.getElementById(decodeURIComponent(f)) === null;
                  } catch {
                    return document.getElementById(f) === null;
                  }
                });
              const h1s = Array.from(document.querySelectorAll("h1"));
              return {
                outside: rest.textContent ?? "",
                marked,
                stateLinks,
                deadFragments,
                // h1 texts: the site's (one every page of the site has, outside what we generated), and the others.
                chromeH1s: h1s.filter((h) => !inOurs(h) && siteH1s.includes(text(h))).map(text),
                ownH1s: h1s.filter((h) => inOurs(h) || !siteH1s.includes(text(h))).map(text),
                overflow: document.documentElement.scrollWidth - window.innerWidth,
                chromeTexts,
                ours: box(ourText),
                own: columnEl ? padded(columnEl) : box(own),
              };
            },
            {
              chrome: b.report.layout[kind].chrome,
              region: b.report.layout[kind].region,
              column: b.site.column,
              active: ACTIVE_CLASS.source,
              state: STATE_TEXT.source,
              siteH1s: b.siteH1s,
            },
          );
        };
        const url = (p: string) => p.replace(/index\.html$/, "");
        const layouts = {
          article: await measure(url(layoutPage), "article"),
          listing: await measure(url(b.report.layout.listing.page), "listing"),
        };
        if (width === WIDTHS[0]) {
          for (const [kind, l] of Object.entries(layouts)) {
            layoutState.push(
              `${b.site.name} ${kind} layout: ${l.marked.length} current-item markers, ${l.stateLinks.length} prev/next links, chrome h1s ${JSON.stringify(l.chromeH1s)}`,
            );
            layoutMarks += l.marked.length;
            layoutStateLinks += l.stateLinks.length;
          }
        }
        for (const [label, path] of [
          ["article", ARTICLE],
          ["listing", "blog/"],
        ] as const) {
          const m = await measure(path, label);
          const own = layouts[label];
          const where = `${b.site.name} ${label} @${width}`;
          await page.screenshot({ path: join(SHOTS, `${b.site.name}-${label}-${width}.png`), fullPage: true });
          // The site's chrome keeps the h1s it has on the site's own pages (a site name set as h1); besides those,
          // exactly one h1: the article's title, or the listing's heading.
          if (JSON.stringify(m.chromeH1s) !== JSON.stringify(own.chromeH1s)) {
            problems.push(
              `${where}: chrome h1s ${JSON.stringify(m.chromeH1s)}, the site's own ${JSON.stringify(own.chromeH1s)}`,
            );
          }
          const heading = label === "article" ? ARTICLE_TITLE : "Blog";
          if (m.ownH1s.length !== 1 || m.ownH1s[0] !== heading) {
            problems.push(`${where}: h1s besides the chrome's ${JSON.stringify(m.ownH1s)}, want ["${heading}"]`);
          }
          // Only the Blog link may be marked current; the layout page's previous/next links are not ours.
          for (const x of m.marked) if (!x.blog) problems.push(`${where}: "${x.text}" is marked as the current page`);
          for (const x of m.stateLinks) problems.push(`${where}: the layout page's link ${x}`);
          if (label === "article" && navLinkSites.has(b.site.name) && !m.marked.some((x) => x.blog)) {
            problems.push(`${where}: the Blog link is not marked current`);
          }
          for (const f of m.deadFragments) {
            if (!own.deadFragments.includes(f)) problems.push(`${where}: the link #${f} leads nowhere on this page`);
          }
          if (m.overflow > 1) problems.push(`${where}: overflows by ${m.overflow}px`);
          m.chromeTexts.forEach((t, i) => {
            if (!_sameText(t, own.chromeTexts[i]))
              problems.push(`${where}: chrome ${b.report.layout[label].chrome[i]} differs`);
          });
          // Another page's masthead or title: shown outside our content, and not part of the site's chrome.
          const chromeText = own.chromeTexts.join(" ");
          for (const title of b.ownTitles) {
            if (m.outside.includes(title) && !chromeText.includes(title)) problems.push(`${where}: shows "${title}"`);
          }
          if (label === "article" && own.own && m.ours) {
            const dl = Math.abs(own.own.left - m.ours.left);
            const dw = Math.abs(own.own.width - m.ours.width);
            figures.push(`${where}: left ${m.ours.left} vs ${own.own.left}, width ${m.ours.width} vs ${own.own.width}`);
            if (dl > 8 || dw > 8) problems.push(`${where}: column off by ${dl}px left, ${dw}px width`);
          }
        }
        await context.close();
      }
    }
    console.info(`${figures.join("\n")}\nlayout pages:\n${layoutState.join("\n")}`);
    expect(problems).toEqual([]);
    // The layout pages do have state to leave behind: the checks above can fail.
    expect(layoutMarks).toBeGreaterThan(0);
    expect(layoutStateLinks).toBeGreaterThan(0);
  }, 900_000); // a dozen sites × 2 widths in one browser: over 300 s at a load average of 30 on 2 cores

  it("introduces no broken internal link, image, stylesheet or script", async () => {
    for (const b of built) {
      const check = await runCheck({
        output: b.output,
        exportDir: join(b.output, "..", "export"),
        baseUrl: b.preview.url,
      });
      expect(check.references, b.site.name).toBeGreaterThan(20);
      expect(
        check.introduced.map((r) => `${b.site.name} ${r.page}: ${r.url}`),
        b.site.name,
      ).toEqual([]);
    }
  }, 120_000);

  it("the Nu HTML checker finds no error kind on generated pages that the site's own pages do not have", async () => {
    const files: string[] = [];
    for (const b of built) {
      files.push(join(b.output, ARTICLE, "index.html"), join(b.output, "blog/index.html"));
      for (const f of await walkTree(join(b.output, "..", "export"))) {
        if (/\.html?$/.test(f.path)) files.push(join(b.output, "..", "export", f.path));
      }
    }
    const { stdout, stderr } = await promisify(execFile)(
      "java",
      ["-jar", VNU, "--errors-only", "--format", "json", ...files],
      { maxBuffer: 64 << 20 },
    ).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }));
    const messages = (JSON.parse(stderr || stdout) as { messages: { type: string; url: string; message: string }[] })
      .messages;
    const kind = (m: string) => m.replace(/“[^”]*”/g, "“…”");
    const introduced: string[] = [];
    for (const b of built) {
      const exportDir = join(b.output, "..", "export");
      const own = new Set(messages.filter((m) => m.url.includes(exportDir)).map((m) => kind(m.message)));
      for (const m of messages) {
        if (!m.url.includes(`${b.output}/`)) continue;
        if (m.type !== "error" && m.type !== "non-document-error") continue;
        if (!own.has(kind(m.message)))
          introduced.push(`${b.site.name} ${m.url.slice(m.url.indexOf("/blog/"))}: ${m.message}`);
      }
    }
    expect(introduced).toEqual([]);
  }, 300_000);

  it("Lighthouse: SEO 100 and accessibility at least the site's own page's", async () => {
    const { default: lighthouse } = await import("lighthouse");
    const scores: string[] = [];
    const problems: string[] = [];
    const score = async (url: string) => {
      const started = performance.now();
      const result = await lighthouse(url, {
        port: debugPort,
        onlyCategories: ["seo", "accessibility"],
        logLevel: "error",
        output: "json",
        // Neither category reads timings: no throttling to simulate, no blank page between runs.
        throttlingMethod: "provided",
        skipAboutBlank: true,
        disableFullPageScreenshot: true,
      });
      const lhr = result!.lhr;
      const failed = Object.values(lhr.audits)
        .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary")
        .map((a) => a.id);
      return {
        seo: Math.round((lhr.categories.seo?.score ?? 0) * 100),
        a11y: Math.round((lhr.categories.accessibility?.score ?? 0) * 100),
        failed,
        ms: Math.round(performance.now() - started),
      };
    };
    // Lighthouse costs seconds a page: sites of different kinds and every WordPress theme, one page at a time (runs
    // sharing one browser in parallel disturb each other, and the machine has few cores).
    for (const b of built.filter((x) => LIGHTHOUSE_SITES.includes(x.site.name))) {
      const own = await score(`${b.preview.url}${b.site.ownPage.replace(/index\.html$/, "")}`);
      const article = await score(`${b.preview.url}${ARTICLE}`);
      scores.push(
        `${b.site.name}: own a11y ${own.a11y}, article SEO ${article.seo} a11y ${article.a11y} (${own.ms} + ${article.ms} ms)`,
      );
      if (article.seo !== 100) problems.push(`${b.site.name}: SEO ${article.seo} (${article.failed.join(", ")})`);
      if (article.a11y < own.a11y) {
        problems.push(`${b.site.name}: a11y ${article.a11y} < own ${own.a11y} (${article.failed.join(", ")})`);
      }
    }
    // Every Lighthouse site ran (a renamed site would otherwise drop out silently), bar those whose generator is missing.
    const missing = (name: string) => skipped.some((s) => name.startsWith(s.slice(0, s.indexOf(":"))));
    expect(scores.length).toBe(LIGHTHOUSE_SITES.filter((n) => !missing(n)).length);
    console.info(scores.join("\n"));
    expect(problems).toEqual([]);
  }, 600_000);
});

// --- internal ---

/** h1 texts of the site's own pages: those that differ from page to page, and those every page shows (a site name). */
async function _pageTitles(dir: string): Promise<{ varying: string[]; everywhere: string[] }> {
  const counts = new Map<string, number>();
  let pages = 0;
  for (const f of await walkTree(dir)) {
    if (!/\.html?$/.test(f.path) || f.path.startsWith("404")) continue;
    pages++;
    const doc = parseHtml(decodePage(await readFile(join(dir, f.path))).text);
    const seen = new Set(querySelectorAll(doc, "h1").map((h) => textContent(h).replace(/\s+/g, " ").trim()));
    for (const t of seen) if (t.length > 3) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  // A one-page site has nothing to compare with: its h1s are that page's own, not the chrome's.
  if (pages === 1) return { varying: [...counts.keys()], everywhere: [] };
  return {
    varying: [...counts].filter(([, n]) => n < pages).map(([t]) => t),
    everywhere: [...counts].filter(([, n]) => n === pages).map(([t]) => t),
  };
}

/**
 * Whether a chrome text of ours is the site's: the same, or the same but where the site's own page shows U+FFFD — a
 * page that declares UTF-8 but is written in windows-1252 shows one for each non-ASCII byte, and our UTF-8 page must
 * show the character itself there.
 */
function _sameText(ours: string, own: string | undefined): boolean {
  if (ours === own) return true;
  const [a, b] = [[...ours], [...(own ?? "")]];
  return a.length === b.length && b.every((c, i) => (c === "\uFFFD" ? a[i] !== "\uFFFD" : c === a[i]));
}

function _freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as import("node:net").AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
