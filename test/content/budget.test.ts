// Issue 17 (budgets are reservations, SQLite): no interleaving of calls, sites or processes may go over
// budgets.maxMonthlyCost. Real `siteloom` processes run at once against the local wire server; the ledger is summed.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openStateStore } from "../../src/store/index.ts";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { type LlmServer, startLlmServer } from "./support/llm-server.ts";
import { readLedger, testApiKey, writeTestWorkspace } from "./support/workspace.ts";

const BUDGET = 0.05;
// every call reports this usage (within its reservation): 1,000 + 4,000 tokens at $1/$2 per 1M = $0.009 per call
const USAGE = { input: 1000, output: 4000 };

let server: LlmServer;
let dir: string;
let key: string;

beforeAll(async () => {
  server = await startLlmServer({ latencyMs: 150 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  server.reset();
  server.latencyMs = 150;
  dir = await useTempDir("siteloom-budget-");
  key = testApiKey();
});

async function workspace(sites: string[], topicsPerSite: number, concurrency: number) {
  for (const site of sites) {
    await writeTestWorkspace(dir, {
      site,
      llm: {
        provider: "openai",
        model: "test-model",
        baseUrl: server.url,
        apiKey: "${LLM_KEY}",
        prices: { "test-model": { input: 1, output: 2 } },
        concurrency,
        maxOutputTokens: 4096,
      },
      budgets: { maxMonthlyCost: BUDGET },
      topics: `topic\n${Array.from({ length: topicsPerSite }, (_, i) => `${site} topic ${i + 1}`).join("\n")}\n`,
    });
  }
  server.script(...Array.from({ length: 500 }, () => ({ usage: USAGE })));
}

const cli = (args: string[]) => runCli(["--workspace", dir, ...args], { env: { LLM_KEY: key }, timeoutMs: 120_000 });

/** The start check only sees settled spend; make it pass so the run-time reservations are what is tested. */
async function spent(): Promise<number> {
  return (await readLedger(dir)).reduce((sum, e) => sum + e.costUsd, 0);
}

describe("content: budgets are reservations across calls, sites and processes", () => {
  it("llm.concurrency 8 never overspends the monthly budget", async () => {
    await workspace(["shop"], 12, 8);
    // the estimate at the start is small; the real usage is what the budget must stop
    const run = await cli(["generate", "shop", "--json"]);
    expect(run.code).toBe(6);
    const total = await spent();
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(BUDGET);
    const costs = JSON.parse((await cli(["costs", "--json"])).stdout);
    expect(costs.total.costUsd).toBeCloseTo(total, 6);
    expect(costs.total.calls).toBe(server.requests.length);
  });

  it("siteloom run a b c --steps generate stops at the budget and exits 6", async () => {
    await workspace(["a", "b", "c"], 4, 4);
    const run = await cli(["run", "a", "b", "c", "--steps", "generate", "--concurrency", "3"]);
    expect(run.code).toBe(6);
    expect(await spent()).toBeLessThanOrEqual(BUDGET);
  });

  it("three generate processes at once share one budget", async () => {
    await workspace(["a", "b", "c"], 4, 4);
    const runs = await Promise.all(["a", "b", "c"].map((site) => cli(["generate", site])));
    expect(runs.map((r) => r.code)).toContain(6);
    for (const r of runs) expect([0, 6]).toContain(r.code);
    const total = await spent();
    expect(total).toBeLessThanOrEqual(BUDGET);
    // every request the server answered is in the ledger: nothing was paid for off the books
    expect((await readLedger(dir)).length).toBe(server.requests.length);
  });

  it("a reservation left by a killed process expires, and the next run may spend it", async () => {
    await workspace(["shop"], 1, 1);
    server.latencyMs = 30_000;
    const child = spawn(process.execPath, [BIN, "--workspace", dir, "generate", "shop"], {
      env: { ...process.env, LLM_KEY: key },
      stdio: "ignore",
    });
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 50));
    const store = openStateStore({ stateDir: join(dir, ".siteloom") });
    const month = new Date().toISOString().slice(0, 7);
    const held = await store.budgetSpend(month);
    expect(held.reservedUsd).toBeGreaterThan(0);
    child.kill("SIGKILL");
    await once(child, "exit");
    // the reservation is still in the table, but it belongs to a dead process
    expect((await store.budgetSpend(month)).reservedUsd).toBe(held.reservedUsd);
    await store.close();
    server.reset();
    server.latencyMs = 0;
    server.script({ usage: USAGE }, { usage: USAGE });
    // a budget that fits the article only when the dead process's reservation no longer counts
    await writeTestWorkspace(dir, {
      llm: {
        provider: "openai",
        model: "test-model",
        baseUrl: server.url,
        apiKey: "${LLM_KEY}",
        prices: { "test-model": { input: 1, output: 2 } },
        concurrency: 1,
      },
      budgets: { maxMonthlyCost: held.reservedUsd + 0.03 },
      topics: "topic\nshop topic 1\n",
    });
    const run = await cli(["generate", "shop"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("shop: 1 generated");
    const after = openStateStore({ stateDir: join(dir, ".siteloom") });
    expect((await after.budgetSpend(month, () => false)).reservedUsd).toBe(0);
    await after.close();
  });
});
