// A run killed with SIGKILL at any point leaves output/ the old tree or (once settled, as every reader of output/
// does first) the new one: never some files of each. The kills are real: a child process running runEnrich is
// killed by itself at a known phase, or by this test as soon as it reports one.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { type EnrichSiteInput, runEnrich, settleOutput } from "../../src/enrich/index.ts";
import { stagingDirFor } from "../../src/enrich/staging.ts";
import { useTempDir } from "../support/cli.ts";
import { hashTree } from "./helpers.ts";
import { createSite, makeArticle, writeArticle } from "./support.ts";

const CHILD = fileURLToPath(new URL("./crash-child.ts", import.meta.url));
/** Enough pages that every phase of the run takes a while, so an outside kill can land in the middle of one. */
const PAGES = 200;
/** One child run, on a 2-core machine shared with the rest of the suite: generous, never the thing that fails. */
const TIMEOUT = 240_000;

let root: string;
/** The site before the change (already enriched once), copied for each kill. */
let template: string;
/** The template site's input, for copies to adapt. */
let base: EnrichSiteInput;
let oldTree: Map<string, string>;
let newTree: Map<string, string>;

// Each kill works on its own copy of the site; one child at a time, so they do not fight for the 2 cores.
describe("enrich: a run killed with SIGKILL leaves output/ old or new, never half", () => {
  beforeAll(async () => {
    root = await useTempDir();
    template = join(root, "template");
    const site = await createSite(template, { articles: Array.from({ length: 12 }, (_, i) => makeArticle(i)) });
    base = site;
    const about = await readFile(join(site.paths.export, "about.html"), "utf8");
    await mkdir(join(site.paths.export, "pages"), { recursive: true });
    for (let i = 0; i < PAGES; i++) {
      const page = about.replace(/About/g, `Page ${i}`).replace(/href="(?!https?:|#)([^"]*)"/g, 'href="../$1"');
      await writeFile(join(site.paths.export, "pages", `page-${i}.html`), page);
    }
    await runEnrich({ site, cacheFile: join(template, "cache.json") });
    oldTree = await hashTree(site.paths.output);
    // The change: a new article, and the Blog link added to every page's navigation (every page is rewritten).
    const reference = await copySite("reference");
    await runEnrich({ site: reference, cacheFile: join(reference.dir, "..", "..", "cache.json") });
    newTree = await hashTree(reference.paths.output);
    expect(newTree.has("blog/new-oven/index.html") && !oldTree.has("blog/new-oven/index.html")).toBe(true);
    const changed = [...oldTree].filter(([path, hash]) => newTree.get(path) !== hash);
    expect(changed.length).toBeGreaterThan(PAGES); // every page got the Blog link
  }, 2 * TIMEOUT);

  for (const phase of ["rendered", "synced"]) {
    it(
      `killed at "${phase}" (before the commit record): output/ stays the old tree`,
      async () => {
        const site = await copySite(phase);
        const { code, signal } = await runChild(site, phase);
        expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
        expect(await hashTree(site.paths.output)).toEqual(oldTree);
        expect(await settleOutput(site.paths.output)).toBe(phase === "rendered" ? "clean" : "rolled-back");
        expect(existsSync(stagingDirFor(site.paths.output))).toBe(false);
        expect(await hashTree(site.paths.output)).toEqual(oldTree);
      },
      TIMEOUT,
    );
  }

  it(
    'killed at "recorded" (commit record durable, nothing moved yet): settling finishes the run',
    async () => {
      const site = await copySite("recorded");
      const { signal } = await runChild(site, "recorded");
      expect(signal).toBe("SIGKILL");
      expect(await hashTree(site.paths.output)).toEqual(oldTree);
      expect(await settleOutput(site.paths.output)).toBe("rolled-forward");
      expect(existsSync(stagingDirFor(site.paths.output))).toBe(false);
      expect(await hashTree(site.paths.output)).toEqual(newTree);
    },
    TIMEOUT,
  );

  it(
    "killed half-way through the moves (some staged files already in output/): settling finishes the rest",
    async () => {
      const site = await copySite("half-moved");
      const { signal } = await runChild(site, "recorded");
      expect(signal).toBe("SIGKILL");
      // What a kill in the middle of the moves leaves: the record, the first half moved, the rest still staged.
      const stage = stagingDirFor(site.paths.output);
      const record = JSON.parse(await readFile(join(stage, ".commit.json"), "utf8")) as { moves: string[] };
      expect(record.moves.length).toBeGreaterThan(PAGES);
      for (const path of record.moves.slice(0, record.moves.length / 2)) {
        await mkdir(dirname(join(site.paths.output, path)), { recursive: true });
        await rename(join(stage, path), join(site.paths.output, path));
      }
      const mixed = await hashTree(site.paths.output);
      expect(mixed).not.toEqual(oldTree);
      expect(mixed).not.toEqual(newTree);
      expect(await settleOutput(site.paths.output)).toBe("rolled-forward");
      expect(existsSync(stage)).toBe(false);
      expect(await hashTree(site.paths.output)).toEqual(newTree);
    },
    TIMEOUT,
  );

  it(
    "killed from outside while the new tree is moved into place: the next run finishes it and writes nothing more",
    async () => {
      const site = await copySite("outside");
      // SIGKILL as soon as the child reports the commit record; it is then somewhere in its moves (or done).
      const { signal, lines } = await runChild(site, "none", "recorded");
      const finished = lines.some((l) => l.includes('"done"'));
      if (!finished) expect(signal).toBe("SIGKILL");
      const report = await runEnrich({ site, cacheFile: join(site.dir, "..", "..", "cache.json") });
      expect(existsSync(stagingDirFor(site.paths.output))).toBe(false);
      expect(await hashTree(site.paths.output)).toEqual(newTree);
      // The killed run's files were moved by settling, not written again.
      expect(report.written).toEqual([]);
      expect(report.removed).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "a first run (no output/ yet) killed once its staged tree is durable leaves no output/; finished, the whole tree",
    async () => {
      const site = await copySite("first-run");
      await rm(site.paths.output, { recursive: true });
      await rm(join(site.dir, "..", "..", "cache.json"));
      const { signal } = await runChild(site, "synced");
      expect(signal).toBe("SIGKILL");
      expect(existsSync(site.paths.output)).toBe(false);
      expect(existsSync(stagingDirFor(site.paths.output))).toBe(true);
      expect(await settleOutput(site.paths.output)).toBe("rolled-back");
      expect(existsSync(site.paths.output)).toBe(false);
      // Not killed: the staged tree became output/ whole, the same tree as a run over the old output/ makes.
      const { lines } = await runChild(site, "none");
      expect(lines.some((l) => l.includes('"phase":"recorded"'))).toBe(false);
      expect(existsSync(stagingDirFor(site.paths.output))).toBe(false);
      expect(await hashTree(site.paths.output)).toEqual(newTree);
    },
    TIMEOUT,
  );

  it(
    "a kill at any other moment (from outside, right after rendering) also leaves old or new",
    async () => {
      const site = await copySite("early");
      await runChild(site, "none", "rendered");
      await settleOutput(site.paths.output);
      const tree = await hashTree(site.paths.output);
      expect([oldTree, newTree]).toContainEqual(tree);
    },
    TIMEOUT,
  );
});

// --- internal ---

/** A copy of the enriched template site with the change applied, under its own folder. */
async function copySite(name: string): Promise<EnrichSiteInput> {
  const dir = join(root, name);
  await cp(template, dir, { recursive: true, preserveTimestamps: true });
  const siteDir = join(dir, "sites", "demo");
  const enrich = { ...base.config.enrich, navLink: { ...base.config.enrich.navLink, enabled: true } };
  const site: EnrichSiteInput = {
    ...base,
    dir: siteDir,
    config: { ...base.config, enrich },
    paths: { export: join(siteDir, "export"), articles: join(siteDir, "articles"), output: join(siteDir, "output") },
  };
  await writeArticle(
    site.paths.articles,
    makeArticle(12, { slug: "new-oven", title: "Our new oven", publishedAt: "2026-06-01T09:00:00+02:00" }),
  );
  return site;
}

/**
 * Runs one enrichment in a child process; with `killAt` it kills itself at that phase, with `killOn` this process
 * kills it (SIGKILL) as soon as it reports that phase.
 */
async function runChild(
  site: EnrichSiteInput,
  killAt: string,
  killOn?: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[] }> {
  const siteFile = join(site.dir, "..", "..", "site.json");
  await writeFile(siteFile, JSON.stringify(site));
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", CHILD, siteFile, join(site.dir, "..", "..", "cache.json"), killAt],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (killOn && line.includes(`"phase":"${killOn}"`)) child.kill("SIGKILL");
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (c, s) => resolve([c, s])),
  );
  if (code !== null && code !== 0) throw new Error(`enrich child failed (${code}): ${stderr}`);
  return { code, signal, lines };
}
