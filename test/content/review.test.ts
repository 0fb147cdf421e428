import { appendFile, chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAuditLog } from "../../src/audit/log.ts";
import { applyArticleEdit, formatArticleForEdit, loadArticle, reviewRequired } from "../../src/content/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { type LlmServer, startLlmServer } from "./support/llm-server.ts";
import { testApiKey, testLlmConfig, writeTestWorkspace } from "./support/workspace.ts";

let server: LlmServer;
let dir: string;
const key = testApiKey();

beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
});

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(["--workspace", dir, ...args], { env: { LLM_KEY: key, SITELOOM_ACTOR: "alice", ...env } });
const articleFile = (slug: string) => join(dir, "sites/shop/articles", `${slug}.json`);

describe("content: editorial review (built CLI)", () => {
  beforeAll(async () => {
    dir = await useTempDir("siteloom-review-");
    await writeTestWorkspace(dir, {
      llm: testLlmConfig(server.url),
      content: { review: "required" },
      topics: "topic\nBaking bread\nKeeping a starter\nProofing dough\n",
    });
    // draft previews are asked for, but under review they must stay out of output/ (what deploy uploads)
    await appendFile(join(dir, "sites/shop/site.yaml"), "enrich:\n  drafts: preview\n");
    const generated = await cli(["generate", "shop", "--json"]);
    expect(generated.code, generated.stderr).toBe(0);
  });

  it("with content.review: required, generated articles start as drafts and list shows them", async () => {
    const list = await cli(["articles", "list", "--status", "draft", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout).articles as { slug: string; status: string; costUsd: number }[];
    expect(rows.map((r) => r.slug)).toEqual(["baking-bread", "keeping-a-starter", "proofing-dough"]);
    expect(rows.every((r) => r.status === "draft" && r.costUsd > 0)).toBe(true);
    const text = await cli(["articles", "list"]);
    expect(text.stdout).toMatch(/shop\s+baking-bread\s+draft\s+\d+/);
    const bad = await cli(["articles", "list", "--status", "published"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--status expects draft, ready, rejected");
  });

  it("show prints the text with words, links and cost", async () => {
    const show = await cli(["articles", "show", "shop", "baking-bread"]);
    expect(show.code, show.stderr).toBe(0);
    const article = await loadArticle(articleFile("baking-bread"));
    expect(show.stdout).toContain(article.title);
    expect(show.stdout).toContain(`${article.wordCount} words`);
    expect(show.stdout).toContain(`links (${article.internalLinks.length})`);
    expect(show.stdout).toContain(`$${article.usage.costUsd.toFixed(4)}`);
    const missing = await cli(["articles", "show", "shop", "no-such-post"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('site shop has no article "no-such-post"');
  });

  it("approve records who, when and from what status, audits it, and enrich takes only the approved one", async () => {
    const approve = await cli(["articles", "approve", "shop", "baking-bread"]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toContain("shop/baking-bread: approved (was draft)");
    const article = await loadArticle(articleFile("baking-bread"));
    expect(article.status).toBe("ready");
    expect(article.review).toEqual([
      { action: "approve", from: "draft", to: "ready", by: "alice", at: expect.any(String) },
    ]);
    const again = await cli(["articles", "approve", "shop", "baking-bread"]);
    expect(again.stdout).toContain("already ready");
    const audit = readAuditLog(join(dir, ".siteloom/audit.log"), { action: "articles.approve" });
    expect(audit.map((e) => [e.actor, e.ref, e.outcome])).toEqual([["alice", "article://shop/baking-bread", "ok"]]);

    const reject = await cli(["articles", "reject", "shop", "keeping-a-starter", "--reason", "off topic"]);
    expect(reject.code, reject.stderr).toBe(0);
    expect((await loadArticle(articleFile("keeping-a-starter"))).review?.[0]).toMatchObject({
      action: "reject",
      from: "draft",
      to: "rejected",
      reason: "off topic",
    });

    await writeFile(join(dir, "sites/shop/export/index.html"), PAGE);
    const enrich = await cli(["enrich", "shop"]);
    expect(enrich.code, enrich.stderr).toBe(0);
    const output = join(dir, "sites/shop/output/blog");
    await expect(readFile(join(output, "baking-bread/index.html"), "utf8")).resolves.toContain("<html");
    await expect(readFile(join(output, "keeping-a-starter/index.html"))).rejects.toThrow(/ENOENT/);
    await expect(readFile(join(output, "proofing-dough/index.html"))).rejects.toThrow(/ENOENT/);
  });

  it("a rejected topic is not generated again unless --force", async () => {
    const run = await cli(["generate", "shop", "--json"]);
    const skipped = JSON.parse(run.stdout).skipped as { slug: string; reason: string }[];
    expect(skipped.find((s) => s.slug === "keeping-a-starter")?.reason).toBe("rejected");
    expect(skipped.find((s) => s.slug === "proofing-dough")?.reason).toBe("exists");
  });

  it("approve --all-drafts approves every remaining draft and leaves rejected ones alone", async () => {
    const all = await cli(["articles", "approve", "shop", "--all-drafts", "--json"]);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).changes).toEqual([
      { slug: "proofing-dough", from: "draft", to: "ready", changed: true },
    ]);
    expect((await loadArticle(articleFile("keeping-a-starter"))).status).toBe("rejected");
  });

  it("edit saves a valid edit and keeps the file unchanged on an invalid one", async () => {
    const editor = join(dir, "editor.sh");
    // the "editor" is a script that rewrites the title line of the file it is given
    await writeFile(editor, '#!/bin/sh\nsed -i "s/^title: .*/title: $NEW_TITLE/" "$1"\n');
    await chmod(editor, 0o755);
    const before = await readFile(articleFile("proofing-dough"), "utf8");
    const bad = await cli(["articles", "edit", "shop", "proofing-dough"], { EDITOR: editor, NEW_TITLE: '""' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("the edit of proofing-dough is not valid; nothing was saved");
    expect(bad.stderr).toContain("title:");
    expect(await readFile(articleFile("proofing-dough"), "utf8")).toBe(before);

    const good = await cli(["articles", "edit", "shop", "proofing-dough"], { EDITOR: editor, NEW_TITLE: "Proofing" });
    expect(good.code, good.stderr).toBe(0);
    const edited = await loadArticle(articleFile("proofing-dough"));
    expect(edited.title).toBe("Proofing");
    expect(edited.review?.at(-1)).toMatchObject({ action: "edit", from: "ready", to: "ready", by: "alice" });
    expect(readAuditLog(join(dir, ".siteloom/audit.log"), { action: "articles.edit" })).toHaveLength(1);
  });
});

describe("content: review rules", () => {
  it("review is required by default in production only, and content.review overrides it", () => {
    expect(reviewRequired({ content: { review: undefined } as never }, "production")).toBe(true);
    expect(reviewRequired({ content: { review: undefined } as never }, "development")).toBe(false);
    expect(reviewRequired({ content: { review: "off" } as never }, "production")).toBe(false);
    expect(reviewRequired({ content: { review: "required" } as never }, "staging")).toBe(true);
  });

  it("an edit round-trips, and unknown or non-editable fields are refused", async () => {
    const article = await loadArticle(articleFile("baking-bread"));
    const text = formatArticleForEdit(article);
    const same = applyArticleEdit(article, text, "bob", new Date("2026-01-01T00:00:00Z"));
    expect({ ...same, review: undefined, updatedAt: undefined }).toEqual({
      ...article,
      review: undefined,
      updatedAt: undefined,
    });
    expect(() => applyArticleEdit(article, text.replace("---\n", "---\nstatus: ready\n"), "bob")).toThrow(
      expect.objectContaining({ details: [expect.stringContaining("status: not an editable field")] }),
    );
    expect(() => applyArticleEdit(article, "no front matter", "bob")).toThrow(/front matter/);
  });
});

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><header><nav><a href="/">Home</a></nav></header><main><h1>Welcome</h1><p>Bread and more.</p></main>
<footer>© Shop</footer></body></html>`;
