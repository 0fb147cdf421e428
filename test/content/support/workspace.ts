import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { createLedger, type LedgerEntry } from "../../../src/content/index.ts";

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
