// The users' own tools judge the output: the Nu HTML checker, xmllint with the sitemaps.org XSDs, Lighthouse, and
// the RSS 2.0 / Atom rules. Needs scripts/setup-check-tools.sh (java, chromium, xmllint).
import { execFile } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { walkTree } from "../../src/enrich/files.ts";
import { runEnrich } from "../../src/enrich/index.ts";
import { elements, inner, RFC822, RFC3339, unescapeXml, xmllint } from "./helpers.ts";
import { createSite, makeArticle } from "./support.ts";

const VNU = fileURLToPath(new URL("../../node_modules/vnu-jar/build/dist/vnu.jar", import.meta.url));
const XSD = fileURLToPath(new URL("../../schema/sitemaps/", import.meta.url));
const CHROMIUM = process.env.CHROME_PATH ?? "/usr/bin/chromium";

let root: string;
let server: Server;
let origin: string;
let output: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "siteloom-enrich-check-"));
  // The site is served on loopback and configured with that origin, as it would be on its own domain.
  server = createServer((req, res) => _serve(output, req.url ?? "/", res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const site = await createSite(root, {
    url: origin,
    // 14 articles in English, a German translation of the first (hreflang pairs), and a draft preview (its noindex
    // page and the listing of previews are checked too).
    articles: [
      ...Array.from({ length: 14 }, (_, i) => makeArticle(i, i === 0 ? { translationKey: "sourdough" } : {})),
      makeArticle(14, {
        slug: "warum-sauerteig-zeit-braucht",
        title: "Warum Sauerteig Zeit braucht",
        language: "de",
        translationKey: "sourdough",
      }),
      makeArticle(15, { status: "draft" }),
    ],
    enrich: { navLink: { enabled: true }, perPage: 5, languages: ["en", "de"], drafts: "preview" },
  });
  output = site.paths.output;
  await runEnrich({ site });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

describe("enrich: checked by the Nu HTML checker", () => {
  it("finds 0 errors on every page of the enriched example site", async () => {
    const pages = (await walkTree(output)).filter((f) => f.path.endsWith(".html")).map((f) => join(output, f.path));
    expect(pages.length).toBeGreaterThan(20);
    // Archive pages, the German translation, the draft and the listing of previews are among them.
    for (const p of [
      "blog/page/1/index.html",
      "blog/warum-sauerteig-zeit-braucht/index.html",
      "blog/drafts/index.html",
    ]) {
      expect(pages).toContain(join(output, p));
    }
    const { stdout, stderr } = await _run("java", ["-jar", VNU, "--errors-only", "--format", "json", ...pages]);
    const report = JSON.parse(stderr || stdout) as { messages: { type: string; url: string; message: string }[] };
    const errors = report.messages.filter((m) => m.type === "error" || m.type === "non-document-error");
    expect(errors.map((e) => `${e.url.slice(e.url.indexOf("/output/"))}: ${e.message}`)).toEqual([]);
  }, 180_000);
});

describe("enrich: sitemap checked by xmllint", () => {
  it("validates against sitemap.xsd with absolute locs", async () => {
    const check = xmllint(["--noout", "--schema", join(XSD, "sitemap.xsd"), join(output, "sitemap.xml")]);
    expect(check.code, check.output).toBe(0);
    const xml = await readFile(join(output, "sitemap.xml"), "utf8");
    for (const loc of elements(xml, "loc"))
      expect(unescapeXml(inner(loc))).toMatch(/^(https:\/\/www\.example\.com\/|http:\/\/127\.0\.0\.1:)/);
  });
});

describe("enrich: feeds follow the RSS 2.0 and Atom rules", () => {
  it("RSS 2.0: required channel and item elements, RFC 822 dates, unique guids, absolute URLs, atom:link self", async () => {
    const file = join(output, "blog/feed.xml");
    expect(xmllint(["--noout", file]).code).toBe(0);
    const xml = await readFile(file, "utf8");
    const channel = xml.slice(xml.indexOf("<channel>"), xml.indexOf("<item>"));
    for (const name of ["title", "link", "description"])
      expect(inner(elements(channel, name)[0] ?? "").trim(), name).not.toBe("");
    expect(channel).toContain(`<atom:link href="${origin}blog/feed.xml" rel="self" type="application/rss+xml"/>`);
    expect(inner(elements(channel, "lastBuildDate")[0]!)).toMatch(RFC822);
    const items = elements(xml, "item");
    expect(items).toHaveLength(15); // the draft stays out
    const guids = new Set<string>();
    for (const item of items) {
      const guid = inner(elements(item, "guid")[0]!);
      guids.add(guid);
      expect(guid.startsWith(origin)).toBe(true);
      expect(inner(elements(item, "link")[0]!)).toBe(guid);
      expect(inner(elements(item, "pubDate")[0]!)).toMatch(RFC822);
      expect(inner(elements(item, "title")[0]!).length).toBeGreaterThan(0);
      const content = unescapeXml(inner(elements(item, "content:encoded")[0]!));
      for (const m of content.matchAll(/\b(?:href|src)="([^"]*)"/g)) expect(m[1]).toMatch(/^(https?:|mailto:|tel:)/);
    }
    expect(guids.size).toBe(items.length);
  });

  it("Atom: id/title/updated, RFC 3339 dates, unique entry ids, link rel=self, categories with term", async () => {
    const file = join(output, "blog/atom.xml");
    expect(xmllint(["--noout", file]).code).toBe(0);
    const xml = await readFile(file, "utf8");
    const head = xml.slice(0, xml.indexOf("<entry>"));
    expect(inner(elements(head, "id")[0]!)).toBe(`${origin}blog/`);
    expect(inner(elements(head, "updated")[0]!)).toMatch(RFC3339);
    expect(head).toContain(`<link rel="self" type="application/atom+xml" href="${origin}blog/atom.xml"/>`);
    const entries = elements(xml, "entry");
    expect(entries).toHaveLength(15);
    const ids = new Set(entries.map((e) => inner(elements(e, "id")[0]!)));
    expect(ids.size).toBe(entries.length);
    for (const e of entries) {
      expect(inner(elements(e, "updated")[0]!)).toMatch(RFC3339);
      expect(inner(elements(e, "published")[0]!)).toMatch(RFC3339);
      const categories = elements(e, "category");
      expect(categories.length).toBeGreaterThan(0);
      for (const c of categories) expect(c).toMatch(/ term="[^"]+"/);
      const content = unescapeXml(inner(elements(e, "content")[0]!));
      for (const m of content.matchAll(/\b(?:href|src)="([^"]*)"/g)) expect(m[1]).toMatch(/^(https?:|mailto:|tel:)/);
    }
  });
});

describe("enrich: checked by Lighthouse", () => {
  it("scores SEO 100 and accessibility ≥ 95 on an article page and the blog index", async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} missing: run scripts/setup-check-tools.sh`).toBe(true);
    const { default: lighthouse } = await import("lighthouse");
    const chromeLauncher = await import("chrome-launcher");
    const profile = await mkdtemp(join(tmpdir(), "siteloom-chromium-"));
    const chrome = await chromeLauncher.launch({
      chromePath: CHROMIUM,
      userDataDir: profile,
      chromeFlags: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const scores: Record<string, { seo: number; a11y: number; failed: string[] }> = {};
    try {
      for (const path of ["blog/why-sourdough-needs-time/", "blog/"]) {
        const result = await lighthouse(`${origin}${path}`, {
          port: chrome.port,
          onlyCategories: ["seo", "accessibility"],
          logLevel: "error",
          output: "json",
        });
        const lhr = result!.lhr;
        const failed = Object.values(lhr.audits)
          .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary")
          .map((a) => a.id);
        scores[path] = {
          seo: Math.round((lhr.categories.seo?.score ?? 0) * 100),
          a11y: Math.round((lhr.categories.accessibility?.score ?? 0) * 100),
          failed,
        };
      }
    } finally {
      await chrome.kill();
      await rm(profile, { recursive: true, force: true });
    }
    console.info(`lighthouse: ${JSON.stringify(scores)}`);
    for (const [path, s] of Object.entries(scores)) {
      expect(s.seo, `${path} SEO (failed: ${s.failed.join(", ")})`).toBe(100);
      expect(s.a11y, `${path} accessibility (failed: ${s.failed.join(", ")})`).toBeGreaterThanOrEqual(95);
    }
  }, 240_000);
});

// --- internal ---

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".xml": "application/xml",
  ".txt": "text/plain",
};

async function _serve(dir: string, url: string, res: import("node:http").ServerResponse): Promise<void> {
  let path = normalize(decodeURIComponent(new URL(url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  if (path.endsWith("/")) path += "index.html";
  const file = join(dir, path);
  try {
    if (!(await stat(file)).isFile()) throw new Error("not a file");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }
}

function _run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(cmd, args, { maxBuffer: 64 * 1024 * 1024 }).catch(
    (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
  );
}
