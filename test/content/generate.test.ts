import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type GenerateEvent, loadArticle, runGenerate } from "../../src/content/index.ts";
import { envVarName, workspaceSecrets } from "../../src/secrets/index.ts";
import { loadWorkspace } from "../../src/workspace/index.ts";
import { useTempDir } from "../support/cli.ts";
import { type LlmServer, startLlmServer } from "./support/llm-server.ts";
import { readLedger, testApiKey, writeTestWorkspace } from "./support/workspace.ts";

const PAGES = {
  "index.html": "<html><head><title>Example Shop</title></head><body><h1>Home</h1></body></html>",
  "about.html": "<html><head><title>About us | Example Shop</title></head></html>",
  "guides/flour.html": "<html><head><title>Choosing flour &amp; water</title></head></html>",
};
const TOPICS =
  "topic,keywords,category\nBaking sourdough bread,starter;flour,Bread\nKeeping a starter alive,feeding,Bread\n";
const PRICE = { input: 1, output: 2 };

let server: LlmServer;
let dir: string;
let key: string;

beforeEach(async () => {
  server = await startLlmServer();
  dir = await useTempDir("siteloom-content-");
  key = testApiKey();
});
afterEach(async () => {
  await server.close();
});

async function setup(llm: Record<string, unknown> = {}, extra: Parameters<typeof writeTestWorkspace>[1] = {}) {
  await writeTestWorkspace(dir, {
    llm: {
      provider: "openai",
      model: "test-model",
      baseUrl: server.url,
      apiKey: "${LLM_KEY}",
      prices: { "test-model": PRICE },
      repairAttempts: 1,
      ...llm,
    },
    topics: TOPICS,
    pages: PAGES,
    ...extra,
  });
  const workspace = await loadWorkspace({ workspace: dir, vars: { LLM_KEY: key } });
  return { workspace, site: await workspace.site("shop") };
}

function ledgerLines() {
  return readLedger(dir);
}

describe("content: generation through the OpenAI wire format", () => {
  it("sends model, JSON schema and the key from the reference; writes valid articles and the ledger", async () => {
    const { workspace, site } = await setup();
    const report = await runGenerate({ workspace, site, retryBaseMs: 10 });
    expect(report.failed).toEqual([]);
    expect(report.generated.map((g) => g.slug)).toEqual(["baking-sourdough-bread", "keeping-a-starter-alive"]);
    expect(server.requests).toHaveLength(4);
    for (const req of server.requests) {
      expect(req.path).toBe("/v1/chat/completions");
      expect(req.body.model).toBe("test-model");
      expect(req.headers.authorization).toBe(`Bearer ${key}`);
      expect(req.schemaVia).toBe("response_format");
    }
    const kinds = server.requests.map((r) => r.kind).sort();
    expect(kinds).toEqual(["article", "article", "outline", "outline"]);
    const articleReq = server.requests.find((r) => r.kind === "article")!;
    expect(Object.keys(articleReq.schema!.properties as object).sort()).toEqual(
      ["bodyMarkdown", "excerpt", "faq", "internalLinks", "metaDescription", "title"].sort(),
    );
    // the model is told about the exported pages and the other article
    expect(articleReq.prompt).toContain("/about.html — About us | Example Shop");
    expect(articleReq.prompt).toMatch(/\/blog\/(keeping-a-starter-alive|baking-sourdough-bread)\//);

    const article = await loadArticle(join(site.paths.articles, "baking-sourdough-bread.json"));
    expect(article.generatedBy).toMatchObject({ provider: "openai", model: "test-model" });
    expect(article.category).toBe("Bread");
    expect(article.keywords).toEqual(["starter", "flour"]);
    expect(article.wordCount).toBeGreaterThanOrEqual(120);
    expect(article.wordCount).toBeLessThanOrEqual(400);
    expect(article.metaDescription.length).toBeLessThanOrEqual(160);
    expect(article.status).toBe("ready");
    // the link to a page that does not exist is removed (its text kept) and reported
    expect(article.bodyMarkdown).not.toContain("/no-such-page.html");
    expect(article.bodyMarkdown).toContain("a missing page");
    expect(article.internalLinks.map((l) => l.url)).not.toContain("/no-such-page.html");
    expect(article.internalLinks.length).toBeGreaterThan(0);
    expect(report.generated[0]!.removedLinks).toEqual(["/no-such-page.html"]);

    const ledger = await ledgerLines();
    expect(ledger).toHaveLength(4);
    const first = ledger[0]!;
    expect(first).toMatchObject({ site: "shop", model: "test-model", provider: "openai", ok: true });
    expect(first.costUsd).toBeCloseTo((first.inputTokens * PRICE.input + first.outputTokens * PRICE.output) / 1e6, 6);
    const articleCost = ledger.filter((e) => e.topicId === article.id).reduce((s, e) => s + e.costUsd, 0);
    expect(article.usage.costUsd).toBeCloseTo(articleCost, 6);
    // the key appears nowhere on disk
    const files = [join(dir, ".siteloom/state.db"), ...report.generated.map((g) => g.file)];
    for (const file of files) expect(await readFile(file, "utf8")).not.toContain(key);
  });

  it("skips finished topics on a rerun and regenerates them with force", async () => {
    const { workspace, site } = await setup();
    await runGenerate({ workspace, site });
    const again = await runGenerate({ workspace, site });
    expect(again.generated).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(["exists", "exists"]);
    expect(server.requests).toHaveLength(4);
    const original = await loadArticle(join(site.paths.articles, "baking-sourdough-bread.json"));
    const later = new Date(Date.parse(original.publishedAt) + 86_400_000);
    const forced = await runGenerate({ workspace, site, force: true, limit: 1, now: () => later });
    expect(forced.generated.map((g) => g.slug)).toEqual(["baking-sourdough-bread"]);
    const regenerated = await loadArticle(join(site.paths.articles, "baking-sourdough-bread.json"));
    expect(regenerated.publishedAt).toBe(original.publishedAt);
    expect(regenerated.updatedAt).toBe(later.toISOString());
    expect(server.requests).toHaveLength(6);
  });

  it("skips duplicates of exported pages, of other rows and of existing articles without paying", async () => {
    const topics = "topic\nAbout us\nChoosing flour & water\nBaking sourdough bread\nBaking Sourdough Bread!\n";
    const { workspace, site } = await setup({}, { topics });
    const report = await runGenerate({ workspace, site });
    expect(report.generated.map((g) => g.slug)).toEqual(["baking-sourdough-bread"]);
    expect(report.skipped.map((s) => [s.line, s.reason])).toEqual([
      [2, "duplicate"],
      [3, "duplicate"],
      [5, "duplicate"],
    ]);
    expect(report.skipped[0]!.detail).toContain("/about.html");
    expect(server.requests).toHaveLength(2);
  });

  it("waits for retry-after on 429 and backs off on 500, then succeeds", async () => {
    const { workspace, site } = await setup({}, { topics: "topic\nOne topic\n" });
    server.script({ status: 429, headers: { "retry-after": "1" } }, { status: 500 });
    const events: GenerateEvent[] = [];
    const report = await runGenerate({ workspace, site, retryBaseMs: 5, onEvent: (e) => events.push(e) });
    expect(report.generated).toHaveLength(1);
    expect(server.requests).toHaveLength(4);
    const retries = events.filter((e) => e.type === "retry");
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatchObject({ delayMs: 1000 });
    expect(retries[0]!.type === "retry" && retries[0]!.reason).toContain("429");
  });

  it("fails one topic after maxRetries server errors while the others go on", async () => {
    const { workspace, site } = await setup({ maxRetries: 1, concurrency: 1 });
    server.script({ status: 500 }, { status: 503 });
    const report = await runGenerate({ workspace, site, retryBaseMs: 5 });
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ line: 2, code: "ERR_LLM_REQUEST" });
    expect(report.failed[0]!.message).toContain("503");
    expect(report.generated.map((g) => g.slug)).toEqual(["keeping-a-starter-alive"]);
    expect(await readdir(site.paths.articles)).toEqual(["keeping-a-starter-alive.json"]);
  });

  it("removes links to another topic of the run when that topic failed", async () => {
    const { workspace, site } = await setup({ maxRetries: 0, concurrency: 1 });
    // the first topic fails; the second links to it (the server links the first article listed)
    server.script({ status: 500 });
    const report = await runGenerate({ workspace, site });
    expect(report.failed.map((f) => f.slug)).toEqual(["baking-sourdough-bread"]);
    const article = await loadArticle(report.generated[0]!.file);
    expect(server.requests.at(-1)!.prompt).toContain("/blog/baking-sourdough-bread/ — Baking sourdough bread");
    expect(report.generated[0]!.removedLinks).toContain("/blog/baking-sourdough-bread/");
    expect(article.bodyMarkdown).not.toContain("/blog/baking-sourdough-bread/");
    expect(article.internalLinks.map((l) => l.url)).not.toContain("/blog/baking-sourdough-bread/");
  });

  it("never accepts an answer cut off at the token limit; repairs it within repairAttempts", async () => {
    const { workspace, site } = await setup({ concurrency: 1 }, { topics: "topic\nOne topic\n" });
    server.script({}, { cutOff: true });
    const report = await runGenerate({ workspace, site });
    expect(report.generated).toHaveLength(1);
    expect(server.requests.map((r) => r.kind)).toEqual(["outline", "article", "article"]);
    expect(server.requests[2]!.prompt).toContain("cut off");
    const ledger = await ledgerLines();
    expect(ledger.map((e) => [e.step, e.ok])).toEqual([
      ["outline", true],
      ["article", false],
      ["article-repair", true],
    ]);
  });

  it("reports a topic as failed when every attempt is unusable (cut off, malformed, wrong shape, too short)", async () => {
    const { workspace, site } = await setup({ repairAttempts: 2, concurrency: 1 }, { topics: "topic\nOne topic\n" });
    server.script({}, { cutOff: true }, { malformed: true }, { words: 20 });
    const report = await runGenerate({ workspace, site });
    expect(report.generated).toEqual([]);
    expect(report.failed[0]).toMatchObject({ code: "ERR_LLM_OUTPUT" });
    expect(report.failed[0]!.message).toContain("between 120 and 400");
    expect(await readdir(site.paths.articles).catch(() => [])).toEqual([]);
    expect((await ledgerLines()).map((e) => e.ok)).toEqual([true, false, false, false]);
  });

  it("repairs output that does not match the schema", async () => {
    const { workspace, site } = await setup({}, { topics: "topic\nOne topic\n" });
    server.script({ wrongShape: true });
    const report = await runGenerate({ workspace, site });
    expect(report.generated).toHaveLength(1);
    expect(server.requests[1]!.prompt).toContain("could not be used");
  });

  it("retries when the connection drops without an answer", async () => {
    const { workspace, site } = await setup({}, { topics: "topic\nOne topic\n" });
    server.script({ hangUp: true });
    const report = await runGenerate({ workspace, site, retryBaseMs: 5 });
    expect(report.generated).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
  });

  it("times out slow responses and retries them", async () => {
    const { workspace, site } = await setup({ timeoutMs: 200 }, { topics: "topic\nOne topic\n" });
    server.script({ delayMs: 1500 });
    const report = await runGenerate({ workspace, site, retryBaseMs: 5 });
    expect(report.generated).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
  });

  it("dry run estimates tokens and cost and spends nothing", async () => {
    const { workspace, site } = await setup();
    const report = await runGenerate({ workspace, site, dryRun: true });
    expect(report.planned).toHaveLength(2);
    expect(report.estimate.inputTokens).toBeGreaterThan(0);
    expect(report.estimate.costUsd).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(0);
    expect(await ledgerLines()).toEqual([]);
    expect(await readdir(site.paths.articles).catch(() => [])).toEqual([]);
  });

  it("refuses to start when the month's budget cannot cover the estimate, saying what is left", async () => {
    const { workspace, site } = await setup({}, { budgets: { maxMonthlyCost: 0.0001 } });
    const report = await runGenerate({ workspace, site });
    expect(report.stopped).toMatchObject({ code: "ERR_BUDGET_EXCEEDED", message: expect.stringContaining("left") });
    expect(report.skipped.map((s) => s.reason)).toEqual(["stopped", "stopped"]);
    expect(server.requests).toHaveLength(0);
  });

  it("refuses an article estimated over maxCostPerArticle", async () => {
    const { workspace, site } = await setup({}, { budgets: { maxCostPerArticle: 0.00001 } });
    const report = await runGenerate({ workspace, site });
    expect(report.stopped).toMatchObject({ code: "ERR_BUDGET_EXCEEDED" });
    expect(report.stopped!.message).toContain("maxCostPerArticle");
    expect(server.requests).toHaveLength(0);
  });

  it("stops before the next call when actual spend reaches the monthly budget", async () => {
    const { workspace, site } = await setup({ concurrency: 1 }, { budgets: { maxMonthlyCost: 0.5 } });
    server.script({ usage: { input: 497_000, output: 1500 } });
    const report = await runGenerate({ workspace, site });
    expect(server.requests).toHaveLength(1);
    expect(report.budgetStop).toContain("left");
    expect(report.failed).toEqual([]);
    expect(report.skipped.map((s) => s.reason)).toEqual(["stopped", "stopped"]);
    expect(report.costUsd).toBeCloseTo(0.5, 6);
  });

  it("requires an API key reference for openai and never falls back to offline", async () => {
    const { workspace, site } = await setup({ apiKey: undefined });
    await expect(runGenerate({ workspace, site })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringContaining("llm.apiKey"),
    });
    expect(await readdir(site.paths.articles).catch(() => [])).toEqual([]);
  });
});

describe("content: API key from the secret store", () => {
  it("resolves llm.apiKey = secret://global/OPENAI_API_KEY through the configured store", async () => {
    await writeTestWorkspace(dir, {
      workspace: { secrets: { backend: "env" } },
      llm: {
        provider: "openai",
        model: "gpt-4o-mini",
        baseUrl: server.url,
        apiKey: "secret://global/OPENAI_API_KEY",
      },
      topics: "topic\nOne topic\n",
    });
    const vars = { [envVarName("SITELOOM_SECRET_", "global", "OPENAI_API_KEY")]: key };
    const workspace = await loadWorkspace({ workspace: dir, vars, secrets: workspaceSecrets({ vars }) });
    const report = await runGenerate({ workspace, site: await workspace.site("shop") });
    expect(report.failed).toEqual([]);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${key}`, `Bearer ${key}`]);
    // shipped price of gpt-4o-mini
    const ledger = await ledgerLines();
    expect(ledger[0]!.costUsd).toBeCloseTo((ledger[0]!.inputTokens * 0.15 + ledger[0]!.outputTokens * 0.6) / 1e6, 6);
  });
});

describe("content: generation through the Anthropic wire format", () => {
  it("sends x-api-key, the model and the schema; writes the article", async () => {
    const { workspace, site } = await setup(
      { provider: "anthropic", model: "claude-sonnet-4-5", prices: {} },
      { topics: "topic\nOne topic\n" },
    );
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toEqual([]);
    expect(server.requests).toHaveLength(2);
    for (const req of server.requests) {
      expect(req.path).toBe("/v1/messages");
      expect(req.headers["x-api-key"]).toBe(key);
      expect(req.body.model).toBe("claude-sonnet-4-5");
      expect(req.schemaVia === "output_config" || req.schemaVia === "tool").toBe(true);
    }
    const ledger = await ledgerLines();
    // shipped price of claude-sonnet-4-5: $3 / $15 per 1M tokens
    expect(ledger[0]!.costUsd).toBeCloseTo((ledger[0]!.inputTokens * 3 + ledger[0]!.outputTokens * 15) / 1e6, 6);
    expect(report.generated[0]!.costUsd).toBeGreaterThan(0);
  });

  it("honours retry-after-ms on 429 and stops at a 401 with a hint about llm.apiKey", async () => {
    const { workspace, site } = await setup(
      { provider: "anthropic", model: "claude-sonnet-4-5", prices: {}, concurrency: 1 },
      { topics: "topic\nOne topic\nTwo topic\n" },
    );
    server.script({ status: 429, headers: { "retry-after-ms": "50" } }, {}, {}, { status: 401 });
    const events: GenerateEvent[] = [];
    const report = await runGenerate({ workspace, site, onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === "retry")).toMatchObject({ delayMs: 50 });
    expect(report.generated.map((g) => g.line)).toEqual([2]);
    expect(report.stopped).toMatchObject({ code: "ERR_LLM_AUTH" });
    expect(report.stopped!.message).toContain("(HTTP 401): scripted 401; check llm.apiKey");
    expect(report.stopped!.message).not.toContain(key);
    expect(report.skipped.map((s) => [s.line, s.reason])).toEqual([[3, "stopped"]]);
    expect(server.requests).toHaveLength(4);
  });

  it("answers through the json tool when structured output is off", async () => {
    const { workspace, site } = await setup(
      { provider: "anthropic", model: "claude-3-5-haiku-20241022", prices: {} },
      { topics: "topic\nOne topic\n" },
    );
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toEqual([]);
    expect(server.requests[0]!.schemaVia === "tool" || server.requests[0]!.schemaVia === "output_config").toBe(true);
  });
});

describe("content: ollama and the offline provider", () => {
  it("talks to an OpenAI-compatible base URL without a key", async () => {
    const { workspace, site } = await setup(
      { provider: "ollama", model: "llama3.1", apiKey: undefined, prices: {} },
      { topics: "topic\nOne topic\n" },
    );
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toEqual([]);
    expect(server.requests[0]!.body.model).toBe("llama3.1");
    expect(server.requests[0]!.schemaVia).toBe("response_format");
    expect(report.costUsd).toBe(0);
  });

  it("writes clearly-marked sample drafts without any request", async () => {
    const { workspace, site } = await setup({ provider: "offline", apiKey: undefined });
    const report = await runGenerate({ workspace, site });
    expect(report.generated).toHaveLength(2);
    expect(server.requests).toHaveLength(0);
    const article = await loadArticle(report.generated[0]!.file);
    expect(article.status).toBe("draft");
    expect(article.generatedBy.provider).toBe("offline");
    expect(article.bodyMarkdown).toContain("Sample draft");
    expect(article.bodyMarkdown).toMatch(/^## /m);
    expect(article.faq.length).toBeGreaterThan(0);
    expect(article.metaDescription.length).toBeLessThanOrEqual(160);
    expect(article.wordCount).toBeGreaterThanOrEqual(120);
    expect(report.warnings.join("\n")).toContain("offline");
  });
});

describe("content: offline word bounds", () => {
  it("keeps sample drafts within small and large word bounds", async () => {
    const dir2 = await useTempDir("siteloom-content-offline-");
    await writeTestWorkspace(dir2, {
      topics: "topic,keywords,min_words,max_words\nTiny,a;b;c;d,40,60\nHuge,x,900,1000\n",
    });
    const workspace = await loadWorkspace({ workspace: dir2 });
    const report = await runGenerate({ workspace, site: await workspace.site("shop") });
    const [tiny, huge] = report.generated;
    expect(tiny!.wordCount).toBeLessThanOrEqual(60);
    expect(huge!.wordCount).toBeGreaterThanOrEqual(900);
    expect(huge!.wordCount).toBeLessThanOrEqual(1000);
  });
});
