import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCheck, runEnrich, startPreview } from "../../src/enrich/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { createSite, makeArticle } from "./support.ts";

describe("enrich: check and preview", () => {
  it("tells references broken on the live site from those enrichment introduced", async () => {
    const root = await useTempDir();
    const site = await createSite(root, {
      articles: [
        makeArticle(0, { bodyMarkdown: "Text with [a missing page](/no-such-page.html) in it." }),
        makeArticle(1),
      ],
    });
    // The live site already links to a stylesheet it does not have; the layout page carries that link along.
    const about = join(site.paths.export, "about.html");
    const { readFile } = await import("node:fs/promises");
    await writeFile(
      about,
      (await readFile(about, "utf8")).replace("</head>", '<link rel="stylesheet" href="css/gone.css">\n</head>'),
    );
    await runEnrich({ site });
    const report = await runCheck({
      output: site.paths.output,
      exportDir: site.paths.export,
      baseUrl: "https://www.example.com/",
    });
    expect(report.introduced.map((r) => [r.page, r.url, r.kind])).toEqual([
      ["blog/why-sourdough-needs-time/index.html", "../../no-such-page.html", "link"],
    ]);
    expect(report.alreadyBroken.map((r) => r.target)).toContain("css/gone.css");
    expect(report.alreadyBroken.some((r) => r.page.startsWith("blog/") && r.url === "../../css/gone.css")).toBe(true);
    expect(report.references).toBeGreaterThan(50);
  });

  it("preview serves output/ on loopback: folders, files, no escape above the root", async () => {
    const root = await useTempDir();
    const site = await createSite(root, { articles: [makeArticle(0)] });
    await runEnrich({ site });
    const preview = await startPreview({ dir: site.paths.output });
    try {
      expect(preview.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(`${preview.url}blog/why-sourdough-needs-time/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<h1>Why sourdough needs time</h1>");
      const folder = await fetch(`${preview.url}blog`, { redirect: "manual" });
      expect([folder.status, folder.headers.get("location")]).toEqual([301, "/blog/"]);
      expect((await fetch(`${preview.url}css/site.css`)).headers.get("content-type")).toBe("text/css");
      expect((await fetch(`${preview.url}..%2f..%2fexport/about.html`)).status).toBe(404);
    } finally {
      await preview.close();
    }
  });

  it("siteloom check exits 0 on a clean enrichment and non-zero with the page named when a link is broken", async () => {
    const root = await useTempDir();
    await writeFile(join(root, "siteloom.yaml"), "environment: development\n");
    const site = await createSite(root, {
      articles: [makeArticle(0, { bodyMarkdown: "See [this](/nowhere.html)." }), makeArticle(1)],
    });
    await writeFile(join(site.dir, "site.yaml"), "domain: www.example.com\n");
    const enrich = await runCli(["enrich", "demo"], { cwd: root });
    expect(enrich.code, enrich.stderr).toBe(0);
    const check = await runCli(["check", "demo"], { cwd: root });
    expect(check.code).not.toBe(0);
    expect(check.stdout).toContain("1 broken by enrichment");
    expect(check.stdout).toContain("introduced blog/why-sourdough-needs-time/index.html: link ../../nowhere.html");
    expect(check.stderr).toMatch(/check: 1 broken reference\(s\) introduced/);
  }, 180_000); // two CLI spawns: on a loaded 2-core machine one has taken 30 s
});
