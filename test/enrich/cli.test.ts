import { existsSync } from "node:fs";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";
import { EXAMPLE_SITE, makeArticle, writeArticle } from "./support.ts";

async function workspace(siteYaml: string): Promise<string> {
  const root = await useTempDir();
  await writeFile(join(root, "siteloom.yaml"), "environment: development\n");
  const site = join(root, "sites", "demo");
  await mkdir(join(site, "articles"), { recursive: true });
  await writeFile(join(site, "site.yaml"), siteYaml);
  await cp(EXAMPLE_SITE, join(site, "export"), { recursive: true, preserveTimestamps: true });
  for (let i = 0; i < 3; i++) await writeArticle(join(site, "articles"), makeArticle(i));
  return root;
}

/** Each test spawns the CLI once or twice; on a loaded 2-core machine one spawn has taken 30 s. */
const CLI_TIMEOUT = 180_000;

describe("cli: siteloom enrich", { timeout: CLI_TIMEOUT }, () => {
  it("builds output/, reports it, and writes nothing the second time", async () => {
    const root = await workspace("domain: www.example.com\nname: Harbor Light Bakery\n");
    const first = await runCli(["enrich", "demo"], { cwd: root });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("demo: 3 article(s) in the layout of about.html (utf-8)");
    expect(first.stdout).toMatch(/wrote \d+ file\(s\), 0 unchanged, removed 0, skipped 0/);
    const page = await readFile(join(root, "sites/demo/output/blog/why-sourdough-needs-time/index.html"), "utf8");
    expect(page).toContain("<h1>Why sourdough needs time</h1>");

    const second = await runCli(["enrich", "demo", "--json"], { cwd: root });
    expect(second.code, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report).toMatchObject({ site: "demo", dryRun: false, written: [], removed: [], template: "about.html" });
    expect(report.unchanged).toBeGreaterThan(15);
  });

  it("--dry-run lists what would be written and changes nothing", async () => {
    const root = await workspace("domain: www.example.com\n");
    const res = await runCli(["enrich", "demo", "--dry-run", "--json"], { cwd: root });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).written).toContain("blog/index.html");
    expect(existsSync(join(root, "sites/demo/output"))).toBe(false);
  });

  it("says in one line what is wrong when the site has no domain", async () => {
    const root = await workspace("name: Nameless\n");
    const res = await runCli(["enrich", "demo"], { cwd: root });
    expect(res.code).toBe(3);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/neither url nor domain.*site\.yaml/);
    expect(res.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it("a content selector that matches nothing: one line naming the page and the selector, nothing written", async () => {
    const root = await workspace("domain: www.example.com\nenrich:\n  contentSelector: div.no-such-column\n");
    const res = await runCli(["enrich", "demo"], { cwd: root });
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(
      /template about\.html has no element matching "div\.no-such-column".*enrich\.contentSelector/,
    );
    expect(res.stderr).not.toMatch(/\bat .*\.[jt]s:\d+/);
    expect(existsSync(join(root, "sites/demo/output"))).toBe(false);
  });

  it("the report says when the configured nav selector matches nothing", async () => {
    const root = await workspace(
      "domain: www.example.com\nenrich:\n  navLink:\n    enabled: true\n    selector: '#menu ul'\n",
    );
    const res = await runCli(["enrich", "demo", "--json"], { cwd: root });
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.warnings).toContainEqual(
      expect.stringMatching(/enrich\.navLink\.selector "#menu ul" matches nothing in about\.html/),
    );
    const plain = await runCli(["enrich", "demo"], { cwd: root });
    expect(plain.stdout + plain.stderr).toMatch(/"#menu ul" matches nothing/);
  });

  it("explains how to get an export when there is none", async () => {
    const root = await workspace("domain: www.example.com\n");
    await import("node:fs/promises").then((fs) => fs.rm(join(root, "sites/demo/export"), { recursive: true }));
    const res = await runCli(["enrich", "demo"], { cwd: root });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/run `siteloom export demo` first/);
  });

  it("has --help with an example", async () => {
    const res = await runCli(["enrich", "--help"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("$ siteloom enrich shop --dry-run");
  });
});

describe("cli: siteloom enrich --explain", { timeout: CLI_TIMEOUT }, () => {
  it("prints the layout page and why, the region, chrome and left-out parts, and writes nothing", async () => {
    const root = await workspace("domain: www.example.com\n");
    const res = await runCli(["enrich", "demo", "--explain"], { cwd: root });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain("article pages: layout about.html");
    expect(res.stdout).toMatch(/content region: main#content — /);
    expect(res.stdout).toMatch(/chrome header\.site-header/);
    expect(res.stdout).toContain("enrich.contentSelector");
    expect(existsSync(join(root, "sites/demo/output"))).toBe(false);
  });
});
