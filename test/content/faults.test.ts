// Issue 18: generation under faults, against the local OpenAI/Anthropic wire server with injected faults. Each test
// checks outcomes: requests the server saw, files on disk, ledger lines, exit codes and messages.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type GenerateEvent, parseTopics, runGenerate } from "../../src/content/index.ts";
import { loadWorkspace } from "../../src/workspace/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { type LlmServer, startLlmServer } from "./support/llm-server.ts";
import { readLedger, testApiKey, writeTestWorkspace } from "./support/workspace.ts";

const PAGES = {
  "index.html": "<html><head><title>Example Shop</title></head><body><h1>Home</h1></body></html>",
  "about.html": "<html><head><title>About us | Example Shop</title></head></html>",
};
const PRICE = { input: 1, output: 2 };

let server: LlmServer;
let dir: string;
let key: string;

// one server per file; each test gets an empty script and request list
beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  server.reset();
  dir = await useTempDir("siteloom-faults-");
  key = testApiKey();
});

function llm(extra: Record<string, unknown> = {}) {
  return {
    provider: "openai",
    model: "test-model",
    baseUrl: server.url,
    apiKey: "${LLM_KEY}",
    prices: { "test-model": PRICE },
    repairAttempts: 1,
    ...extra,
  };
}

async function setup(extra: Record<string, unknown> = {}, options: Parameters<typeof writeTestWorkspace>[1] = {}) {
  await writeTestWorkspace(dir, { llm: llm(extra), topics: "topic\nBaking bread\n", pages: PAGES, ...options });
  const workspace = await loadWorkspace({ workspace: dir, vars: { LLM_KEY: key } });
  return { workspace, site: await workspace.site("shop") };
}

const cli = (args: string[]) => runCli(["--workspace", dir, ...args], { env: { LLM_KEY: key } });
const ledger = () => readLedger(dir);
const articles = async () =>
  (await readdir(join(dir, "sites/shop/articles")).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));

describe("content faults: 1. schema failures name the problem", () => {
  it("sends the model the list of problems (path and rule), not the answer, and succeeds on the repair", async () => {
    const { workspace, site } = await setup();
    server.script({ omit: ["title"], set: { metaDescription: 5 } });
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toEqual([]);
    expect(server.requests.map((r) => r.kind)).toEqual(["outline", "outline", "article"]);
    const repair = server.requests[1]!.prompt;
    expect(repair).toContain("- title: missing (must be a string)");
    expect(repair).toContain("- metaDescription: must be a string, got a number");
    // the broken answer is not pasted back
    expect(repair).not.toContain("Basics of Baking bread");
    expect((await ledger()).map((e) => [e.step, e.ok])).toEqual([
      ["outline", false],
      ["outline-repair", true],
      ["article", true],
    ]);
  });

  it("tells the user which fields were wrong when the repairs run out", async () => {
    const { workspace, site } = await setup({ repairAttempts: 0 });
    server.script({ omit: ["title", "faqQuestions"] });
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toHaveLength(1);
    const message = report.failed[0]!.message;
    expect(message).toContain("title: missing (must be a string)");
    expect(message).toContain("faqQuestions: missing (must be an array)");
    expect(message.length).toBeLessThan(300);
    expect(await articles()).toEqual([]);
  });
});

describe("content faults: 2. a response cut off mid-way is retried", () => {
  it("retries a body cut off after the status line, saying the connection dropped", async () => {
    const { workspace, site } = await setup();
    server.script({ truncateBody: true }, {}, { truncateBody: true });
    const events: GenerateEvent[] = [];
    const report = await runGenerate({ workspace, site, retryBaseMs: 5, onEvent: (e) => events.push(e) });
    expect(report.failed).toEqual([]);
    expect(server.requests).toHaveLength(4);
    const retries = events.filter((e) => e.type === "retry");
    expect(retries).toHaveLength(2);
    for (const retry of retries) expect(retry.type === "retry" && retry.reason).toMatch(/connection dropped/);
    // only the answers received whole are paid for
    expect(await ledger()).toHaveLength(2);
    expect(await articles()).toEqual(["baking-bread.json"]);
  });

  it("gives up after llm.maxRetries with the provider, model and attempts in the message", async () => {
    const { workspace, site } = await setup({ maxRetries: 1, provider: "anthropic", model: "claude-sonnet-4-5" });
    server.script({ truncateBody: true }, { hangUp: true });
    const report = await runGenerate({ workspace, site, retryBaseMs: 5 });
    expect(server.requests).toHaveLength(2);
    expect(report.failed[0]!.message).toMatch(
      /^anthropic claude-sonnet-4-5: the connection dropped before the answer was complete \(.+\) \(gave up after 2 attempts; llm.maxRetries is 1\)$/,
    );
  });
});

describe("content faults: 3. dry runs check budgets", () => {
  it("reports that the run would be refused, exits 6 and spends nothing", async () => {
    await setup({}, { budgets: { maxMonthlyCost: 0.0001 } });
    const run = await cli(["generate", "shop", "--dry-run"]);
    expect(run.code).toBe(6);
    expect(run.stdout).toContain("would generate line 2 baking-bread");
    expect(run.stderr).toMatch(/^error: the run would be refused \(exit 6\): budgets.maxMonthlyCost is \$0.0001/);
    const json = await cli(["generate", "shop", "--dry-run", "--json"]);
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout).stopped.code).toBe("ERR_BUDGET_EXCEEDED");
    expect(server.requests).toHaveLength(0);
    expect(await articles()).toEqual([]);
  });

  it("passes with the budget line when the plan fits", async () => {
    await setup({}, { budgets: { maxMonthlyCost: 5 } });
    const run = await cli(["generate", "shop", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/monthly budget \$5: \$0.0000 spent, \$5.0000 left, ~\$0.0\d+ of it needed/);
  });
});

describe("content faults: 4. temp files of killed writers are removed", () => {
  it("removes the temp file a killed process left, keeps one of a live writer", async () => {
    const { workspace, site } = await setup();
    await mkdir(site.paths.articles, { recursive: true });
    // a real process writes a temp file with writeFileAtomic's naming and is killed before its rename
    const child = spawn(
      process.execPath,
      [
        "-e",
        `require("fs").writeFileSync(process.argv[1] + "/.baking-bread.json.tmp-" + process.pid + "-0badc0de", "{"); console.log("written"); setInterval(() => {}, 1000);`,
        site.paths.articles,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await once(child.stdout!, "data");
    const orphan = `.baking-bread.json.tmp-${child.pid}-0badc0de`;
    child.kill("SIGKILL");
    await once(child, "exit");
    const live = `.other.json.tmp-${process.pid}-12345678`;
    await writeFile(join(site.paths.articles, live), "{");
    const report = await runGenerate({ workspace, site });
    expect(report.generated).toHaveLength(1);
    const names = await readdir(site.paths.articles);
    expect(names).not.toContain(orphan);
    expect(names).toContain(live);
    expect(names.filter((n) => n.includes(".tmp-"))).toEqual([live]);
  });
});

describe("content faults: 5. a refused key stops the run", () => {
  it("sends no more than the requests already in flight, writes nothing, exits 4 with one message", async () => {
    const topics = `topic\n${Array.from({ length: 10 }, (_, i) => `Topic number ${i + 1}`).join("\n")}\n`;
    await setup({ concurrency: 4 }, { topics });
    server.script(...Array.from({ length: 10 }, () => ({ status: 401, delayMs: 20 })));
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(4);
    expect(server.requests.length).toBeLessThanOrEqual(4);
    const errors = run.stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toEqual([
      "error: openai test-model: the API key was refused (HTTP 401): scripted 401; check llm.apiKey",
    ]);
    expect(run.stdout).toContain("0 generated, 0 skipped, 0 failed, 10 not started");
    expect(run.stdout + run.stderr).not.toContain(key);
    expect(await articles()).toEqual([]);
    expect(await ledger()).toEqual([]);
  });
});

describe("content faults: 6. an unterminated quote is reported where it opens", () => {
  it("names the line of the opening quote, and the CLI exits 3 (invalid input)", async () => {
    const rows = Array.from({ length: 21 }, (_, i) => `Row ${i + 1},kw`);
    rows[1] = '"Row 2, unterminated,kw';
    const text = `topic,keywords\n${rows.join("\n")}\n`;
    expect(() => parseTopics(text)).toThrow(/^topics.csv line 3: a quoted field opens here and is never closed/);
    await setup({}, { topics: text });
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("topics.csv line 3: a quoted field opens here");
  });
});

describe("content faults: 8. smaller ones", () => {
  it("refuses absurd row values with the line and column", () => {
    expect(() => parseTopics("topic,min_words\nA,100000000000000000000000\n")).toThrow(
      /line 2, column 2 \(min_words\): 100000000000000000000000 words is not a sensible length/,
    );
    expect(() => parseTopics("topic,publish_at\nA,5\n")).toThrow(/line 2, column 2 \(publish_at\): "5" is not a date/);
    expect(parseTopics("topic,publish_at\nA,2026-05-01\n").topics[0]!.publishAt).toBe("2026-05-01T00:00:00.000Z");
  });

  it("prints the report on stdout with --json when a budget refuses the run at the start, and exits 6", async () => {
    await setup({}, { budgets: { maxMonthlyCost: 0.0001 } });
    const run = await cli(["generate", "shop", "--json"]);
    expect(run.code).toBe(6);
    const report = JSON.parse(run.stdout);
    expect(report.stopped.code).toBe("ERR_BUDGET_EXCEEDED");
    expect(report.skipped.map((s: { reason: string }) => s.reason)).toEqual(["stopped"]);
    expect(server.requests).toHaveLength(0);
  });

  it("shows a site's own monthly budget in siteloom costs, with amounts never rounded past it", async () => {
    await setup();
    await writeFile(
      join(dir, "sites/shop/site.yaml"),
      "name: Example Shop\ndomain: shop.example.com\ncontent: { minWords: 120, maxWords: 400 }\nbudgets: { maxMonthlyCost: 0.098 }\n",
    );
    expect((await cli(["generate", "shop"])).code).toBe(0);
    const spent = (await ledger()).reduce((s, e) => s + e.costUsd, 0);
    const costs = await cli(["costs"]);
    expect(costs.code).toBe(0);
    expect(costs.stdout).toContain(
      `shop: monthly budget $0.098: $${spent.toFixed(4)} spent, $${(0.098 - spent).toFixed(4)} left`,
    );
    const json = JSON.parse((await cli(["costs", "--json"])).stdout);
    expect(json.budgets).toEqual([
      {
        site: "shop",
        maxMonthlyCost: 0.098,
        spentUsd: expect.closeTo(spent, 6),
        leftUsd: expect.closeTo(0.098 - spent, 6),
      },
    ]);
  });

  it("says which provider, model and how many attempts when requests time out", async () => {
    const { workspace, site } = await setup({ timeoutMs: 150, maxRetries: 1 });
    server.script({ delayMs: 1000 }, { delayMs: 1000 });
    const report = await runGenerate({ workspace, site, retryBaseMs: 5 });
    expect(report.failed[0]!.message).toBe(
      "openai test-model: request timed out after 150 ms (llm.timeoutMs) (gave up after 2 attempts; llm.maxRetries is 1)",
    );
  });
});

describe("content faults: a generated title that duplicates a page", () => {
  it("is caught after the outline call and repaired before the article is paid for", async () => {
    const { workspace, site } = await setup();
    server.script({ set: { title: "About us" } });
    const report = await runGenerate({ workspace, site });
    expect(report.failed).toEqual([]);
    expect(server.requests.map((r) => r.kind)).toEqual(["outline", "outline", "article"]);
    expect(server.requests[1]!.prompt).toContain('- title: "About us" is already used by the page /about.html');
    expect((await ledger()).map((e) => e.step)).toEqual(["outline", "outline-repair", "article"]);
    const info = await stat(join(site.paths.articles, "baking-bread.json"));
    expect(info.isFile()).toBe(true);
  });

  it("fails the topic without an article call when the model keeps the duplicate title", async () => {
    const { workspace, site } = await setup({ repairAttempts: 0 });
    server.script({ set: { title: "Example Shop" } });
    const report = await runGenerate({ workspace, site });
    expect(report.failed[0]!.message).toContain('title: "Example Shop" is already used by the page /;');
    expect(server.requests.map((r) => r.kind)).toEqual(["outline"]);
    expect(await articles()).toEqual([]);
  });
});
