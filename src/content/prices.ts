/** USD per 1M tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

/**
 * Shipped list prices (USD per 1M tokens, standard tier, no caching), checked November 2026. Users override or add
 * models with `llm.prices`. Versioned model names (gpt-4o-mini-2024-07-18) match their family by longest prefix.
 */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-opus-4-1": { input: 15, output: 75 },
  "claude-opus-4-5": { input: 5, output: 25 },
};

/** Providers that run on the user's machine cost nothing per token. */
const FREE_PROVIDERS = new Set(["ollama", "offline"]);

/**
 * The price of a model: `llm.prices` overrides first, then the shipped table; exact name, then longest prefix.
 * Undefined when unknown (the cost cannot be computed, so budgets cannot be enforced).
 */
export function resolvePrice(
  provider: string,
  model: string,
  overrides: Record<string, ModelPrice> = {},
): ModelPrice | undefined {
  for (const table of [overrides, DEFAULT_PRICES]) {
    const hit = _lookup(table, model) ?? _lookup(table, `${provider}/${model}`);
    if (hit) return hit;
  }
  if (FREE_PROVIDERS.has(provider)) return { input: 0, output: 0 };
  return undefined;
}

/** Cost in USD of a call, rounded to a millionth of a dollar. */
export function costOf(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  return Math.round(((inputTokens * price.input + outputTokens * price.output) / 1_000_000) * 1e6) / 1e6;
}

// --- internal ---

function _lookup(table: Record<string, ModelPrice>, model: string): ModelPrice | undefined {
  if (table[model]) return table[model];
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (model.startsWith(`${key}-`) && (!best || key.length > best.length)) best = key;
  }
  return best ? table[best] : undefined;
}
