import { cp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runEnrich } from "../../src/enrich/index.ts";
import { useTempDir } from "../support/cli.ts";
import { hashTree } from "./helpers.ts";
import { createSite, EXAMPLE_SITE, FIXTURES, makeArticle } from "./support.ts";

// After a deploy, the next export mirrors the live site, which is enrich's own output: enrich run on it must give
// that output again, byte for byte, or every deploy is followed by one more (the site's steady state then takes an
// extra run; issue 17). The layouts: the example site (a plain nav list), a theme whose current item has active
// classes and aria-current (bootstrap-masthead), a navbar inside <main> (navbar-in-main).
const CASES = [
  { name: "example", from: EXAMPLE_SITE, enrich: { navLink: { enabled: true } } },
  { name: "bootstrap-masthead", from: join(FIXTURES, "bootstrap-masthead"), enrich: { navLink: { enabled: true } } },
  { name: "navbar-in-main", from: join(FIXTURES, "navbar-in-main"), enrich: { navLink: { enabled: true } } },
  { name: "example, no articles", from: EXAMPLE_SITE, enrich: { navLink: { enabled: true } }, articles: 0 },
  { name: "example, no Blog link", from: EXAMPLE_SITE, enrich: { navLink: { enabled: false } } },
];

describe("enrich: its own deployed output is a fixed point", () => {
  it.each(CASES)("$name: enrich of the output (as the next export brings it back) writes the same bytes", async (c) => {
    const root = await useTempDir();
    const articles = Array.from({ length: c.articles ?? 3 }, (_, i) => makeArticle(i));
    const site = await createSite(root, { from: c.from, articles, enrich: c.enrich });
    await runEnrich({ site });
    const first = await hashTree(site.paths.output);
    // what the next export downloads: the live site is now output/, with new file times
    await rm(site.paths.export, { recursive: true });
    await cp(site.paths.output, site.paths.export, { recursive: true });
    const second = await runEnrich({ site });
    const again = await hashTree(site.paths.output);
    const differ = [...first.keys()].filter((p) => again.get(p) !== first.get(p));
    expect(differ, differ[0] && (await readFile(join(site.paths.output, differ[0]), "utf8"))).toEqual([]);
    expect(again).toEqual(first);
    expect(second.removed).toEqual([]);
  });
});
