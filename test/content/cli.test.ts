import { spawn } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { type LlmServer, startLlmServer } from "./support/llm-server.ts";
import { generateKilledAfterOutline, readLedger, testApiKey, writeTestWorkspace } from "./support/workspace.ts";

let server: LlmServer;
let dir: string;
let key: string;

beforeEach(async () => {
  server = await startLlmServer();
  dir = await useTempDir("siteloom-content-cli-");
  key = testApiKey();
});
afterEach(async () => {
  await server.close();
});

const llm = () => ({
  provider: "openai",
  model: "test-model",
  baseUrl: server.url,
  apiKey: "${LLM_KEY}",
  prices: { "test-model": { input: 1, output: 2 } },
});
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(["--workspace", dir, ...args], { env: { LLM_KEY: key, ...env } });
const articles = async (site = "shop") =>
  (await readdir(join(dir, "sites", site, "articles")).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));

describe("content: siteloom generate (built CLI)", () => {
  it("writes offline sample drafts, then skips them on the next run", async () => {
    await writeTestWorkspace(dir, { topics: "topic,keywords\nBaking bread,flour;water\nKeeping a starter,feeding\n" });
    const first = await cli(["generate", "shop"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("offline");
    expect(first.stdout).toContain("2 generated");
    expect(await articles()).toEqual(["baking-bread.json", "keeping-a-starter.json"]);
    const article = JSON.parse(await readFile(join(dir, "sites/shop/articles/baking-bread.json"), "utf8"));
    expect(article).toMatchObject({ status: "draft", generatedBy: { provider: "offline" } });
    const second = await cli(["generate", "shop", "--json"]);
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report.generated).toEqual([]);
    expect(report.skipped.map((s: { reason: string }) => s.reason)).toEqual(["exists", "exists"]);
  });

  it("generates through an OpenAI-compatible server and reports the ledger with siteloom costs", async () => {
    await writeTestWorkspace(dir, { llm: llm(), topics: "topic\nBaking bread\nKeeping a starter\n" });
    const run = await cli(["generate", "shop", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.generated).toHaveLength(2);
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${key}`)).toBe(true);
    expect(run.stdout).not.toContain(key);

    const ledger = await readLedger(dir);
    const costs = await cli(["costs", "--json"]);
    expect(costs.code).toBe(0);
    const summary = JSON.parse(costs.stdout);
    expect(summary.total.calls).toBe(4);
    expect(summary.total.costUsd).toBeCloseTo(
      ledger.reduce((s, e) => s + e.costUsd, 0),
      6,
    );
    expect(summary.rows).toEqual([expect.objectContaining({ site: "shop", model: "test-model", calls: 4 })]);
    const text = await cli(["costs", "--site", "shop"]);
    expect(text.stdout).toMatch(/^total\s+4\s/m);
    const other = await cli(["costs", "--month", "1999-01"]);
    expect(other.stdout).toContain("no model calls recorded");
    const bad = await cli(["costs", "--month", "May"]);
    expect(bad.code).toBe(2);
  });

  it("resolves llm.apiKey = secret://global/OPENAI_API_KEY from the configured secret store", async () => {
    await writeTestWorkspace(dir, {
      workspace: { secrets: { backend: "env" } },
      llm: { ...llm(), apiKey: "secret://global/OPENAI_API_KEY" },
      topics: "topic\nBaking bread\n",
    });
    const run = await cli(["generate", "shop"], { SITELOOM_SECRET_GLOBAL__OPENAI_API_KEY: key });
    expect(run.code).toBe(0);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${key}`, `Bearer ${key}`]);
    expect(run.stdout + run.stderr).not.toContain(key);
  });

  it("--dry-run lists topics with estimates and spends nothing", async () => {
    await writeTestWorkspace(dir, { llm: llm(), topics: "topic\nBaking bread\n" });
    const run = await cli(["generate", "shop", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/would generate line 2 baking-bread: ~\d+ input \+ ~\d+ output tokens, ~\$\d/);
    expect(run.stdout).toContain("nothing was spent");
    expect(server.requests).toHaveLength(0);
    expect(await articles()).toEqual([]);
  });

  it("exits 6 when the monthly budget would be exceeded, saying how much is left", async () => {
    await writeTestWorkspace(dir, { llm: llm(), budgets: { maxMonthlyCost: 0.0001 }, topics: "topic\nBaking bread\n" });
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(
      /^error: budgets\.maxMonthlyCost is \$0\.0001: \$0\.00 spent this month, \$0\.0001 left/,
    );
    expect(run.stderr).not.toContain("    at ");
    expect(server.requests).toHaveLength(0);
  });

  it("names line and column of a CSV error in one line, and warns about unknown columns", async () => {
    await writeTestWorkspace(dir, { topics: "topic,min_words\nBread,300\nCake,lots\n" });
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(3);
    expect(run.stderr.trim()).toBe(
      'error: topics.csv line 3, column 2 (min_words): expected a whole number of words, got "lots"',
    );
    await writeTestWorkspace(dir, { topics: "topic,colour\nBread,red\n" });
    const warned = await cli(["generate", "shop"]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain('unknown column "colour"');
  });

  it("rejects a bad --limit and an unknown provider key setup with readable errors", async () => {
    await writeTestWorkspace(dir, { llm: { ...llm(), apiKey: undefined } });
    expect((await cli(["generate", "shop", "--limit", "x"])).code).toBe(2);
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("llm.apiKey is not set for provider openai");
  });

  it("stops cleanly on SIGINT with exit code 130 and resumes on the next run", async () => {
    const topics = `topic\n${Array.from({ length: 4 }, (_, i) => `Topic number ${i + 1}`).join("\n")}\n`;
    await writeTestWorkspace(dir, { llm: { ...llm(), concurrency: 1 }, topics });
    server.latencyMs = 300;
    const child = spawn(process.execPath, [BIN, "--workspace", dir, "generate", "shop"], {
      env: { ...process.env, LLM_KEY: key, SITELOOM_WORKSPACE: undefined },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 400 && (await articles()).length < 1; i++) await new Promise((r) => setTimeout(r, 25));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toContain("interrupted; run the same command again to resume");
    const done = (await articles()).length;
    expect(done).toBeLessThan(4);
    server.latencyMs = 0;
    const rerun = await cli(["generate", "shop", "--json"]);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).generated).toHaveLength(4 - done);
  });

  it("after kill -9 between a paid call and the article file, the rerun uses the paid answer and pays nothing again", async () => {
    await writeTestWorkspace(dir, { llm: { ...llm(), concurrency: 1 }, topics: "topic\nBaking bread\n" });
    // the article request is only sent once the outline's settle (ledger entry and answer) has committed
    expect(await generateKilledAfterOutline(server, dir, { LLM_KEY: key })).toEqual(["outline", "article"]);
    expect(await articles()).toEqual([]);
    expect((await readLedger(dir)).map((e) => e.step)).toEqual(["outline"]);

    server.reset();
    const rerun = await cli(["generate", "shop", "--json"]);
    expect(rerun.code).toBe(0);
    // only the article is asked for; the outline paid before the kill is not bought again
    expect(server.requests.map((r) => r.kind)).toEqual(["article"]);
    const ledger = await readLedger(dir);
    expect(ledger.map((e) => e.step)).toEqual(["outline", "article"]);
    const report = JSON.parse(rerun.stdout);
    expect(report.costUsd).toBeCloseTo(ledger[1]!.costUsd, 9);
    // the article still records everything it cost, and it follows the paid outline
    const article = JSON.parse(await readFile(join(dir, "sites/shop/articles/baking-bread.json"), "utf8"));
    expect(article.usage.costUsd).toBeCloseTo(ledger[0]!.costUsd + ledger[1]!.costUsd, 6);
    expect(article.usage.inputTokens).toBe(ledger[0]!.inputTokens + ledger[1]!.inputTokens);
    expect(server.requests[0]!.prompt).toContain(article.outline[0]);
    // once the article is written its kept answers are gone: --force buys a fresh outline
    server.reset();
    expect((await cli(["generate", "shop", "--force"])).code).toBe(0);
    expect(server.requests.map((r) => r.kind)).toEqual(["outline", "article"]);
  });

  it("resumes after being killed: finished articles stay, only unfinished topics are redone", async () => {
    const topics = `topic\n${Array.from({ length: 6 }, (_, i) => `Topic number ${i + 1}`).join("\n")}\n`;
    await writeTestWorkspace(dir, { llm: { ...llm(), concurrency: 2 }, topics });
    server.latencyMs = 300;
    const child = spawn(process.execPath, [BIN, "--workspace", dir, "generate", "shop"], {
      env: { ...process.env, LLM_KEY: key, SITELOOM_WORKSPACE: undefined },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 400 && (await articles()).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    child.kill("SIGKILL");
    await exited;
    const done = await articles();
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(6);
    const before = new Map<string, number>();
    for (const name of done) before.set(name, (await stat(join(dir, "sites/shop/articles", name))).mtimeMs);
    // every finished file is a complete, valid article
    for (const name of done) JSON.parse(await readFile(join(dir, "sites/shop/articles", name), "utf8"));

    server.latencyMs = 0;
    const requestsBefore = server.requests.length;
    const rerun = await cli(["generate", "shop", "--json"]);
    expect(rerun.code).toBe(0);
    const report = JSON.parse(rerun.stdout);
    expect(report.generated).toHaveLength(6 - done.length);
    expect(report.skipped.filter((s: { reason: string }) => s.reason === "exists")).toHaveLength(done.length);
    // no call is bought twice: an answer settled before the kill is used by the rerun
    expect(server.requests.length - requestsBefore).toBeLessThanOrEqual((6 - done.length) * 2);
    const ledger = await readLedger(dir);
    expect(ledger.map((e) => e.step).sort()).toEqual([...Array(6).fill("article"), ...Array(6).fill("outline")]);
    expect(new Set(ledger.map((e) => `${e.topicId}/${e.step}`)).size).toBe(12);
    expect(await articles()).toHaveLength(6);
    for (const [name, mtime] of before)
      expect((await stat(join(dir, "sites/shop/articles", name))).mtimeMs).toBe(mtime);
  });
});
