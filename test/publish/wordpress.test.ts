/**
 * `siteloom publish` against a real WordPress (Debian's wordpress + Apache/mod_php over HTTPS + MariaDB, started once
 * for this file by test/support/wordpress.ts, ~10 s). Articles are written by `siteloom generate` (offline provider),
 * then made ready, given tags, links between each other and images made by PHP's GD at test time.
 * Requests are counted in Apache's access log.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { BIN, runCli } from "../support/cli.ts";
import {
  type AccessEntry,
  countWrites,
  startWordpress,
  type WordpressServer,
  writePublishingSite,
} from "../support/wordpress.ts";

let wp: WordpressServer;
let dir: string;
const env = () => ({ WP_APP_PASSWORD: wp.admin.appPassword, NO_COLOR: "1" });

beforeAll(async () => {
  wp = await startWordpress();
  dir = join(wp.dir, "workspace");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "siteloom.yaml"), stringify({ llm: { provider: "offline" }, env: ["WP_APP_PASSWORD"] }));
}, 180_000);

afterAll(async () => {
  await wp?.stop();
});

interface Post {
  id: number;
  slug: string;
  status: string;
  link: string;
  date_gmt: string;
  title: { raw: string };
  content: { raw: string };
  categories: number[];
  tags: number[];
  featured_media: number;
}

describe("publish: a real WordPress", () => {
  it("publishes 12 articles: titles, slugs, dates, terms, featured images with alt text, working links", async () => {
    await makeSite("shop", 12, { status: "publish" });
    const mark = await settledLog();
    const res = await publish(["publish", "shop", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.created).toHaveLength(12);
    const articles = await loadArticles("shop");
    const posts = await postsOf(articles.map((a) => a.slug));
    expect(posts).toHaveLength(12);
    const requests = (await wp.accessLog()).slice(mark.length);
    expect(requests.filter((r) => r.status >= 400)).toEqual([]);

    const cats = (await wp.rest("GET", "/wp/v2/categories?per_page=100")).json as { id: number; name: string }[];
    const tags = (await wp.rest("GET", "/wp/v2/tags?per_page=100")).json as { id: number; name: string }[];
    for (const article of articles) {
      const post = posts.find((p) => p.slug === article.slug)!;
      expect(post.title.raw).toBe(article.title);
      expect(post.status).toBe("publish");
      expect(`${post.date_gmt}Z`).toBe(new Date(article.publishedAt).toISOString().replace(/\.\d+Z$/, "Z"));
      expect(post.categories.map((id) => cats.find((c) => c.id === id)?.name)).toEqual([article.category]);
      expect(post.tags.map((id) => tags.find((t) => t.id === id)?.name).sort()).toEqual([...article.tags].sort());
      if (article.image) {
        const media = (await wp.rest("GET", `/wp/v2/media/${post.featured_media}?context=edit`)).json as {
          alt_text: string;
          source_url: string;
        };
        expect(media.alt_text).toBe(article.image.alt);
        expect((await wp.get(media.source_url)).status).toBe(200);
      } else expect(post.featured_media).toBe(0);
      // every link into this WordPress resolves to one of the posts
      const hrefs = [...post.content.raw.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
      const internal = hrefs.filter((h) => h.startsWith(wp.url));
      expect(internal.length).toBeGreaterThan(0);
      for (const href of internal) {
        expect(posts.some((p) => p.link === href.split("#")[0])).toBe(true);
        expect((await wp.get(href)).status).toBe(200);
      }
      expect(post.content.raw).not.toMatch(/href="\/blog\//);
      expect(post.content.raw).toContain("FAQ");
    }
    // one featured image was used by two articles: uploaded once
    const media = (await wp.rest("GET", "/wp/v2/media?per_page=100")).json as unknown[];
    expect(media).toHaveLength(2);
  });

  it("rerun: zero requests; one changed article: exactly one write", async () => {
    let mark = await settledLog();
    let res = await publish(["publish", "shop"]);
    expect(res.code, res.stderr).toBe(0);
    expect(since(mark, await wp.accessLog())).toEqual([]);
    expect(res.stdout).toContain("12 unchanged");

    const [first] = await loadArticles("shop");
    await editArticle("shop", first!.slug, (a) => ({ ...a, title: `${a.title} (revised)` }));
    mark = await settledLog();
    res = await publish(["publish", "shop", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const requests = since(mark, await wp.accessLog());
    expect(countWrites(requests)).toBe(1);
    expect(JSON.parse(res.stdout).updated).toEqual([first!.slug]);
    const [post] = await postsOf([first!.slug]);
    expect(post!.title.raw).toBe(`${first!.title} (revised)`);
  });

  it("wiped state: posts and media are found again (slug + marker), nothing duplicated", async () => {
    await rm(join(dir, ".siteloom", "state.db"), { force: true });
    await rm(join(dir, ".siteloom", "state.db-wal"), { force: true });
    await rm(join(dir, ".siteloom", "state.db-shm"), { force: true });
    const res = await publish(["publish", "shop", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.adopted).toHaveLength(12);
    expect(report.created).toHaveLength(0);
    expect(await postsOf((await loadArticles("shop")).map((a) => a.slug))).toHaveLength(12);
    expect(await countAll("posts")).toBe(12 + 1); // + WordPress's own "Hello world!"
    expect((await wp.rest("GET", "/wp/v2/media?per_page=100")).json).toHaveLength(2);
  });

  it("hostile article content never reaches a post", async () => {
    await makeSite("hostile", 1, { status: "publish" });
    const [article] = await loadArticles("hostile");
    await editArticle("hostile", article!.slug, (a) => ({
      ...a,
      title: `<script>alert(1)</script>Safe title`,
      bodyMarkdown: `${a.bodyMarkdown}\n\n<script>alert(2)</script>\n\n[click](javascript:alert(3))\n\n<img src="/x.png" alt="x" onerror="alert(4)">\n\n<a href="JaVaScRiPt:alert(5)" onclick="alert(6)">y</a>\n\n<iframe src="https://evil.example/"></iframe>\n`,
      faq: [{ question: "<b onmouseover=alert(7)>Q</b>", answer: "<script>alert(8)</script>A" }],
    }));
    const res = await publish(["publish", "hostile"]);
    expect(res.code, res.stderr).toBe(0);
    const [post] = await postsOf([article!.slug]);
    const html = `${post!.title.raw}\n${post!.content.raw}`;
    // no active markup: no script or iframe element, no event handler attribute, no javascript: URL
    expect(html).not.toMatch(/<script|<iframe/i);
    expect(html).not.toMatch(/<[^>]*\son\w+\s*=/i);
    expect(html).not.toMatch(/(?:href|src)\s*=\s*["']?\s*javascript:/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;"); // the title's text stays text
    expect(post!.title.raw).toContain("Safe title");
  });

  it("wrong password: one request, a clear error, exit code 5, the password nowhere", async () => {
    const mark = await settledLog();
    const wrong = `${wp.admin.appPassword.slice(0, -4)}zzzz`;
    const res = await runCli(["--workspace", dir, "publish", "shop", "--force"], {
      env: { ...env(), WP_APP_PASSWORD: wrong },
    });
    expect(res.code).toBe(5);
    expect(res.stderr).toContain("check wordpress.user / wordpress.appPassword");
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(since(mark, await wp.accessLog())).toHaveLength(1);
    expect(res.stdout + res.stderr).not.toContain(wrong);
    expect(res.stdout + res.stderr).not.toContain(Buffer.from(`${wp.admin.user}:${wrong}`).toString("base64"));
  });

  it("plain http is refused outside development, with the reason", async () => {
    await makeSite("plain", 1, { status: "publish", url: wp.url.replace("https:", "http:") });
    const res = await publish(["--env", "staging", "publish", "plain"]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/plain http:\/\/ .*unencrypted.*https:\/\//);
  });

  it("kill -9 in the middle: the rerun completes with no duplicate post or media item", async () => {
    await makeSite("killed", 12, { status: "publish", concurrency: 1 });
    const mediaBefore = await countAll("media");
    const mark = await settledLog();
    const child = spawn(process.execPath, [BIN, "--workspace", dir, "publish", "killed"], {
      env: { ...process.env, ...env() },
      stdio: "ignore",
    });
    // kill once a few posts are reserved and some are filled in
    await waitFor(
      async () =>
        since(mark, await wp.accessLog()).filter((r) => r.path.startsWith("/wp-json/wp/v2/posts/")).length >= 2,
    );
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const res = await publish(["publish", "killed", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    // the killed run had not finished: the rerun still had posts to fill in
    const rerun = JSON.parse(res.stdout);
    expect(rerun.created.length + rerun.updated.length + rerun.adopted.length).toBeGreaterThan(0);
    const slugs = (await loadArticles("killed")).map((a) => a.slug);
    const posts = await postsOf(slugs);
    expect(posts).toHaveLength(12);
    expect(new Set(posts.map((p) => p.slug)).size).toBe(12);
    expect(posts.every((p) => p.status === "publish")).toBe(true);
    // the featured images of this site are the shop's (same bytes): found, not uploaded again
    expect(await countAll("media")).toBe(mediaBefore);
  });

  it("WordPress stopped mid-run: retries, then a clear failure; the rerun finishes without duplicates", async () => {
    await makeSite("outage", 6, { status: "publish", concurrency: 1, retries: 2, retryBaseMs: 50, retryMaxMs: 200 });
    const mark = await settledLog();
    const child = runCli(["--workspace", dir, "publish", "outage"], { env: env() });
    await waitFor(async () => since(mark, await wp.accessLog()).some((r) => r.path.startsWith("/xmlrpc.php")));
    await wp.stopWeb();
    const res = await child;
    await wp.startWeb();
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(/cannot reach https:\/\/127\.0\.0\.1:\d+: \w+/);
    expect(res.stderr).toMatch(/gave up after 3 tries|UND_ERR|ECONNRESET/);
    const again = await publish(["publish", "outage", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    const posts = await postsOf((await loadArticles("outage")).map((a) => a.slug));
    expect(posts).toHaveLength(6);
    const runs = JSON.parse((await publish(["runs", "--site", "outage", "--json"])).stdout) as {
      status: string;
      steps: string[];
    }[];
    // newest first; the generate run that wrote the articles is left out
    expect(runs.filter((r) => r.steps.includes("publish")).map((r) => r.status)).toEqual(["succeeded", "failed"]);
  });

  it("--dry-run sends nothing, --limit defers, author and otherLinks: text apply, --force resends, onRemoved drafts then trashes", async () => {
    const author = Number(
      (
        await wp.php(
          "echo wp_insert_user(['user_login' => 'writer', 'user_pass' => wp_generate_password(24), 'role' => 'author']);",
        )
      )
        .trim()
        .split("\n")
        .at(-1),
    );
    expect(author).toBeGreaterThan(1);
    await makeSite("opts", 4, { status: "publish", otherLinks: "text", author, onRemoved: "draft" });
    const run = (args: string[]) => runCli(["--workspace", dir, ...args], { env: env() });

    let mark = await settledLog();
    const dry = await run(["publish", "opts", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).dryRun).toBe(true);
    expect(since(mark, await settledLog())).toEqual([]);

    const limited = await run(["publish", "opts", "--limit", "2", "--json"]);
    expect(limited.code, limited.stderr).toBe(0);
    const first = JSON.parse(limited.stdout);
    expect(first.created).toHaveLength(2);
    expect(first.deferred).toBe(2);
    const rest = JSON.parse((await run(["publish", "opts", "--json"])).stdout);
    expect(rest.created).toHaveLength(2);
    const articles = await loadArticles("opts");
    const posts = await postsOf(articles.map((a) => a.slug));
    expect(posts).toHaveLength(4);
    for (const post of posts) {
      expect((post as Post & { author: number }).author).toBe(author);
      // the home page is not on WordPress: with otherLinks: text its link is gone, its words stay
      expect(post.content.raw).toContain("the home page");
      expect(post.content.raw).not.toMatch(/href="[^"]*index\.html/);
    }

    mark = await settledLog();
    const forced = await run(["publish", "opts", "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout).updated).toHaveLength(4);
    expect(countWrites(since(mark, await settledLog()))).toBeGreaterThanOrEqual(4);

    await rm(join(dir, "sites", "opts", "articles", `${articles[0]!.slug}.json`));
    const drafted = JSON.parse((await run(["publish", "opts", "--json"])).stdout);
    expect(drafted.removed).toMatchObject([{ slug: articles[0]!.slug, to: "draft" }]);
    expect((await postsOf([articles[0]!.slug]))[0]!.status).toBe("draft");

    const yaml = join(dir, "sites", "opts", "site.yaml");
    await writeFile(yaml, (await readFile(yaml, "utf8")).replace("onRemoved: draft", "onRemoved: trash"));
    await rm(join(dir, "sites", "opts", "articles", `${articles[1]!.slug}.json`));
    const trashed = JSON.parse((await run(["publish", "opts", "--json"])).stdout);
    // onRemoved now says trash: the post drafted before is trashed too
    expect(trashed.removed.map((r: { slug: string; to: string }) => `${r.slug}:${r.to}`).sort()).toEqual(
      [`${articles[0]!.slug}:trash`, `${articles[1]!.slug}:trash`].sort(),
    );
    // WordPress renames a trashed post's slug (<slug>__trashed): ask by id
    for (const r of trashed.removed as { postId: string }[]) {
      const post = await wp.rest("GET", `/wp/v2/posts/${r.postId}?context=edit`);
      expect((post.json as Post).status).toBe("trash");
    }
  });

  it("onRemoved keep (the default) leaves a removed article's post as it was; the run history and audit log record the publish", async () => {
    await makeSite("keep", 2, { status: "publish" });
    const first = await publish(["publish", "keep", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const { runId } = JSON.parse(first.stdout) as { runId: string };
    const articles = await loadArticles("keep");
    const [before] = await postsOf([articles[0]!.slug]);

    // the run history: the publish step with what it did
    const shown = await publish(["runs", "show", runId, "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const run = JSON.parse(shown.stdout) as {
      status: string;
      stepResults: { step: string; status: string; counts: Record<string, number> }[];
    };
    expect(run.status).toBe("succeeded");
    const step = run.stepResults.find((r) => r.step === "publish")!;
    expect(step.status).toBe("succeeded");
    expect(step.counts).toMatchObject({ created: 2, updated: 0, unchanged: 0, removed: 0, failed: 0 });
    // the audit log: who published which post where, never the password
    const audit = await publish(["audit", "--action", "wordpress.publish", "--json"]);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = JSON.parse(audit.stdout) as { action: string; ref: string; actor: string; outcome: string }[];
    for (const article of articles) {
      const entry = entries.find((e) => e.ref.endsWith(` ${article.slug} (publish)`));
      expect(entry, article.slug).toMatchObject({ action: "wordpress.publish", outcome: "ok" });
      expect(entry!.ref).toMatch(new RegExp(`^${wp.url.replace(/[.:/]/g, "\\$&")} post \\d+ `));
      expect(entry!.actor).toBeTruthy();
    }
    expect(audit.stdout).not.toContain(wp.admin.appPassword);

    // an article removed from articles/: its post is left alone, published and unchanged; the one write is the
    // other article, whose link to the removed one now points elsewhere
    await rm(join(dir, "sites", "keep", "articles", `${articles[0]!.slug}.json`));
    const mark = await settledLog();
    const kept = await publish(["publish", "keep", "--json"]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout)).toMatchObject({ removed: [], updated: [articles[1]!.slug] });
    const writes = since(mark, await settledLog()).filter((r) => !["GET", "HEAD", "OPTIONS"].includes(r.method));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.path).not.toContain(`/posts/${before!.id}`);
    const [after] = await postsOf([articles[0]!.slug]);
    expect(after).toMatchObject({ id: before!.id, status: "publish", link: before!.link });
    expect((after as Post & { modified_gmt: string }).modified_gmt).toBe(
      (before as Post & { modified_gmt: string }).modified_gmt,
    );
  });

  it("429 with Retry-After: the wait the server asked for is honoured, then the publish completes", async () => {
    // a test-only mu-plugin answers the next REST requests 429 with Retry-After: 2 (as rate-limiting plugins do)
    const control = join(wp.root, "wp-content", "uploads", "siteloom-faults.json");
    await mkdir(join(wp.root, "wp-content", "mu-plugins"), { recursive: true });
    await writeFile(join(wp.root, "wp-content", "mu-plugins", "siteloom-faults.php"), FAULTS_PLUGIN);
    await writeFile(control, JSON.stringify({ throttle: 2, log: [] }), { mode: 0o666 });
    await chmod(control, 0o666);
    try {
      await makeSite("limited", 1, { status: "publish", retryBaseMs: 50 });
      const res = await runCli(["--workspace", dir, "publish", "limited", "--json"], { env: env() });
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout).created).toHaveLength(1);
      const log = (JSON.parse(await readFile(control, "utf8")) as { log: [number, boolean][] }).log;
      expect(log.slice(0, 3).map((l) => l[1])).toEqual([true, true, false]);
      // each retry came no sooner than the 2 s the server asked for (retryBaseMs alone would be 50 ms)
      expect(log[1]![0] - log[0]![0]).toBeGreaterThanOrEqual(1.9);
      expect(log[2]![0] - log[1]![0]).toBeGreaterThanOrEqual(1.9);
    } finally {
      await rm(join(wp.root, "wp-content", "mu-plugins", "siteloom-faults.php"), { force: true });
      await rm(control, { force: true });
    }
  });

  it("a request that stalls past wordpress.timeoutMs is abandoned and retried; stalling on: a clear failure, nothing written", async () => {
    const control = join(wp.root, "wp-content", "uploads", "siteloom-faults.json");
    await writeFile(join(wp.root, "wp-content", "mu-plugins", "siteloom-faults.php"), FAULTS_PLUGIN);
    await writeFile(control, JSON.stringify({ stall: 1, log: [] }), { mode: 0o666 });
    await chmod(control, 0o666);
    try {
      await makeSite("stalled", 1, { status: "publish", timeoutMs: 1000, retries: 1, retryBaseMs: 50 });
      const ok = await runCli(["--workspace", dir, "publish", "stalled", "--json"], { env: env() });
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout).retries).toBeGreaterThanOrEqual(1);
      await editArticle("stalled", (await loadArticles("stalled"))[0]!.slug, (a) => ({ ...a, title: "Changed" }));
      await writeFile(control, JSON.stringify({ stall: 10, log: [] }));
      const mark = await settledLog();
      const bad = await runCli(["--workspace", dir, "publish", "stalled"], { env: env() });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/timeout|TIMEOUT/);
      expect(bad.stderr).toContain("gave up after 2 tries");
      expect(bad.stderr).not.toContain(wp.admin.appPassword);
      expect(countWrites(since(mark, await settledLog()))).toBe(0);
    } finally {
      await writeFile(control, JSON.stringify({ stall: 0, log: [] }));
      await rm(join(wp.root, "wp-content", "mu-plugins", "siteloom-faults.php"), { force: true });
      await rm(control, { force: true });
    }
  });

  it("staging and production publish with their own status", async () => {
    await makeSite("envs", 1, {
      status: "draft",
      environments: { production: { wordpress: { status: "publish" } } },
    });
    const slug = (await loadArticles("envs"))[0]!.slug;
    let res = await publish(["--env", "staging", "publish", "envs"]);
    expect(res.code, res.stderr).toBe(0);
    expect((await postsOf([slug]))[0]!.status).toBe("draft");
    res = await publish(["--env", "production", "publish", "envs"]);
    expect(res.code, res.stderr).toBe(0);
    expect((await postsOf([slug]))[0]!.status).toBe("publish");
  });
});

// --- helpers ---

function publish(args: string[]) {
  return runCli(["--workspace", dir, ...args], { env: env(), timeoutMs: 120_000 });
}

/** The access log once Apache has written the lines of requests already answered (it logs after responding). */
async function settledLog(): Promise<AccessEntry[]> {
  let before = await wp.accessLog();
  for (;;) {
    await new Promise((r) => setTimeout(r, 150));
    const now = await wp.accessLog();
    if (now.length === before.length) return now;
    before = now;
  }
}

function since(mark: AccessEntry[], now: AccessEntry[]): AccessEntry[] {
  return now.slice(mark.length);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function postsOf(slugs: string[]): Promise<Post[]> {
  const res = await wp.rest(
    "GET",
    `/wp/v2/posts?slug=${slugs.join(",")}&status=publish,future,draft,pending,private&context=edit&per_page=100`,
  );
  return res.json as Post[];
}

async function countAll(kind: "posts" | "media"): Promise<number> {
  const status = kind === "posts" ? "&status=publish,future,draft,pending,private" : "";
  const res = await wp.rest("GET", `/wp/v2/${kind}?per_page=1${status}`);
  return Number(res.headers.get("x-wp-total"));
}

/** Test-only mu-plugin: the next REST requests stall (4 s) or get 429 with Retry-After: 2, per siteloom-faults.json. */
const FAULTS_PLUGIN = `<?php
$f = WP_CONTENT_DIR . '/uploads/siteloom-faults.json';
if (PHP_SAPI !== 'cli' && strpos($_SERVER['REQUEST_URI'] ?? '', '/wp-json/') !== false && is_file($f)) {
  $h = fopen($f, 'c+'); flock($h, LOCK_EX);
  $s = json_decode(stream_get_contents($h), true) ?: [];
  $throttle = ($s['throttle'] ?? 0) > 0;
  if ($throttle) $s['throttle']--;
  $s['log'][] = [microtime(true), $throttle];
  ftruncate($h, 0); rewind($h); fwrite($h, json_encode($s)); fflush($h); flock($h, LOCK_UN); fclose($h);
  if (($s['stall'] ?? 0) > 0) { $s['stall']--; file_put_contents($f, json_encode($s)); sleep(4); }
  if ($throttle) { http_response_code(429); header('Retry-After: 2'); header('Content-Type: application/json'); echo '{"code":"rate_limited"}'; exit; }
}
`;

interface TestArticle {
  id: string;
  slug: string;
  title: string;
  bodyMarkdown: string;
  category?: string;
  tags: string[];
  publishedAt: string;
  image?: { url: string; alt: string };
  [key: string]: unknown;
}

async function loadArticles(site: string): Promise<TestArticle[]> {
  const folder = join(dir, "sites", site, "articles");
  const names = (await readdir(folder)).filter((n) => n.endsWith(".json")).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(folder, n), "utf8")) as TestArticle));
}

async function editArticle(site: string, slug: string, edit: (a: TestArticle) => TestArticle): Promise<void> {
  const file = join(dir, "sites", site, "articles", `${slug}.json`);
  await writeFile(file, JSON.stringify(edit(JSON.parse(await readFile(file, "utf8"))), null, 2));
}

/**
 * A site whose articles `siteloom generate` writes (offline provider), then made ready with tags, dates, links to
 * each other and, for some, a featured image (PNG files drawn by PHP's GD).
 */
async function makeSite(
  name: string,
  count: number,
  wordpress: Record<string, unknown> & { environments?: Record<string, unknown> },
): Promise<void> {
  const { environments, ...rest } = wordpress;
  const siteDir = join(dir, "sites", name);
  await writePublishingSite(wp, siteDir, rest, environments ? { environments } : {});
  const topics = [
    "topic,keywords,category",
    ...Array.from(
      { length: count },
      (_, i) => `${name} bread topic ${i + 1},flour;water,${i % 2 ? "Bread" : "Pantry"}`,
    ),
  ];
  await writeFile(join(siteDir, "topics.csv"), `${topics.join("\n")}\n`);
  const gen = await runCli(["--workspace", dir, "generate", name], { env: env() });
  expect(gen.code, gen.stderr).toBe(0);
  await wp.php(
    `foreach ($input as $i => $file) { $im = imagecreatetruecolor(40, 30); imagefill($im, 0, 0, imagecolorallocate($im, 40 * $i, 120, 200)); imagepng($im, $file); }`,
    [join(siteDir, "export", "img", "one.png"), join(siteDir, "export", "img", "two.png")],
  );
  const articles = await loadArticles(name);
  for (const [i, a] of articles.entries()) {
    const next = articles[(i + 1) % articles.length]!;
    await editArticle(name, a.slug, (x) => ({
      ...x,
      status: "ready",
      tags: i % 3 === 0 ? ["Crust", "Oven"] : ["Crust"],
      publishedAt: new Date(Date.UTC(2026, 0, 1 + i, 9, 30)).toISOString(),
      bodyMarkdown: `${x.bodyMarkdown}\n\nRead also [${next.title}](/blog/${next.slug}/) and [the home page](/index.html).\n`,
      // one picture shared by two articles (same file, same description): one media item
      ...(i < 3
        ? { image: { url: `/img/${i === 2 ? "two" : "one"}.png`, alt: `Loaf picture ${i === 2 ? 2 : 1}` } }
        : {}),
    }));
  }
}
