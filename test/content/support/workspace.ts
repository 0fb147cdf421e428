import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { createLedger, type LedgerEntry } from "../../../src/content/index.ts";
import { BIN } from "../../support/cli.ts";
import type { LlmServer } from "./llm-server.ts";

export interface TestWorkspaceOptions {
  /** `llm` section of siteloom.yaml. */
  llm?: Record<string, unknown>;
  budgets?: Record<string, unknown>;
  /** `content` section of the site. */
  content?: Record<string, unknown>;
  /** topics.csv text. */
  topics?: string;
  /** Exported pages: path → HTML. */
  pages?: Record<string, string>;
  site?: string;
  /** Further top-level keys of siteloom.yaml (secrets, ...). */
  workspace?: Record<string, unknown>;
}

/** Writes siteloom.yaml, sites/<site>/site.yaml, topics.csv and export/ pages into `dir`. */
export async function writeTestWorkspace(dir: string, options: TestWorkspaceOptions = {}): Promise<string> {
  const site = options.site ?? "shop";
  const siteDir = join(dir, "sites", site);
  await mkdir(join(siteDir, "export"), { recursive: true });
  await writeFile(
    join(dir, "siteloom.yaml"),
    stringify({
      // the test LLM key is read through ${LLM_KEY}, which the workspace must declare
      env: ["LLM_KEY"],
      ...options.workspace,
      llm: options.llm ?? { provider: "offline" },
      ...(options.budgets ? { budgets: options.budgets } : {}),
    }),
  );
  await writeFile(
    join(siteDir, "site.yaml"),
    stringify({
      name: "Example Shop",
      domain: "shop.example.com",
      content: { minWords: 120, maxWords: 400, ...options.content },
    }),
  );
  await writeFile(
    join(siteDir, "topics.csv"),
    options.topics ?? "topic,keywords\nBaking sourdough bread,starter;flour\n",
  );
  for (const [path, html] of Object.entries(options.pages ?? {})) {
    await mkdir(join(siteDir, "export", path, ".."), { recursive: true });
    await writeFile(join(siteDir, "export", path), html);
  }
  return siteDir;
}

/** A fresh API key for a test run (never a real one, never hard-coded). */
export function testApiKey(): string {
  return `sk-test-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}

/** The workspace's cost ledger (in its state store), in time order. */
export async function readLedger(dir: string): Promise<LedgerEntry[]> {
  const ledger = createLedger(join(dir, ".siteloom"));
  try {
    return await ledger.read();
  } finally {
    await ledger.close();
  }
}

/** The `llm` section pointing at the test LLM server (OpenAI wire format, key read from ${LLM_KEY}). */
export function testLlmConfig(baseUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    provider: "openai",
    model: "test-model",
    baseUrl,
    apiKey: "${LLM_KEY}",
    prices: { "test-model": { input: 1, output: 2 } },
    ...extra,
  };
}

/**
 * Runs `siteloom generate shop` in a child process and kills it with SIGKILL once the article call of the first topic
 * reached `llm`: the outline was paid and settled (the article request is sent only after that commit), the article
 * file not written. Scripts the server to answer the outline at once and to hold the article.
 */
export async function generateKilledAfterOutline(llm: LlmServer, dir: string, env: Record<string, string>) {
  llm.script({}, { delayMs: 20_000 });
  const child = spawn(process.execPath, [BIN, "--workspace", dir, "generate", "shop"], {
    env: { ...process.env, ...env, SITELOOM_WORKSPACE: undefined },
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  for (let i = 0; i < 800 && llm.requests.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  const kinds = llm.requests.map((r) => r.kind);
  child.kill("SIGKILL");
  await exited;
  return kinds;
}
