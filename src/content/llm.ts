import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { APICallError, generateText, type LanguageModel, NoObjectGeneratedError, Output } from "ai";
import type { z } from "zod";
import type { LlmConfig } from "../config/schema.ts";
import { SiteloomError } from "../errors.ts";
import type { Secret } from "../secret.ts";

/** Ollama's OpenAI-compatible endpoint on the local machine. */
export const OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1";
/** Longest `retry-after` honoured; a provider asking for more is treated as a failure. */
const MAX_RETRY_AFTER_MS = 300_000;

export interface LlmClientOptions {
  /** The resolved `llm` config section. */
  config: LlmConfig;
  /** API key resolved from `llm.apiKey` (revealed only when handed to the SDK). */
  apiKey?: Secret | undefined;
  /** fetch used by the SDK (tests, proxies). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Base delay of the exponential backoff on 5xx/network errors. @default 1000 */
  retryBaseMs?: number;
  /** Longest backoff delay. @default 30000 */
  retryMaxMs?: number;
  /** Called before waiting to retry (progress output). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Provider warnings (unsupported settings); each distinct one once. @default dropped */
  onWarning?: (message: string) => void;
}

export interface LlmRequest<T> {
  system: string;
  prompt: string;
  /** zod schema of the structured output; sent to the provider as JSON Schema. */
  schema: z.ZodType<T>;
  /** Name of the output (JSON-schema name / tool name hints). */
  schemaName: string;
  /** Aborts the call (the run is stopping). */
  signal?: AbortSignal;
}

/** The outcome of one structured-output call that reached the provider. */
export interface LlmResult<T> {
  /** The parsed, schema-valid object; absent when the output was unusable. */
  value?: T;
  /** Why the output was unusable (cut off, not JSON, not matching the schema). */
  problem?: string;
  /** The raw text, when unusable (used for repair prompts). */
  text?: string;
  finishReason: string;
  usage: { inputTokens: number; outputTokens: number };
}

/** A provider-neutral structured-output client with its own retry policy (the SDK's retries are off). */
export interface LlmClient {
  readonly provider: string;
  readonly model: string;
  generate<T>(request: LlmRequest<T>): Promise<LlmResult<T>>;
}

/** Builds the client for `llm.provider`; `offline` has no client (it never calls a model). */
export function createLlmClient(options: LlmClientOptions): LlmClient {
  const { config } = options;
  const model = _model(options);
  _routeSdkWarnings(options.onWarning);
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  // a 429 pauses every worker, not just the one that saw it
  let pausedUntil = 0;
  return {
    provider: config.provider,
    model: config.model,
    async generate<T>(request: LlmRequest<T>): Promise<LlmResult<T>> {
      for (let attempt = 0; ; attempt++) {
        const wait = pausedUntil - Date.now();
        if (wait > 0) await _sleep(wait, request.signal);
        try {
          return await _call(model, config, request);
        } catch (error) {
          if (request.signal?.aborted) throw error;
          const failure = _classify(error, config);
          if (!failure.retry || attempt >= config.maxRetries) throw failure.error;
          const backoff = Math.min(retryMaxMs, retryBaseMs * 2 ** attempt) * (0.5 + Math.random());
          const delayMs = failure.retryAfterMs ?? backoff;
          if (failure.retryAfterMs !== undefined) pausedUntil = Math.max(pausedUntil, Date.now() + delayMs);
          options.onRetry?.({ attempt: attempt + 1, delayMs, reason: failure.error.message });
          await _sleep(delayMs, request.signal);
        }
      }
    },
  };
}

// --- internal ---

let sdkWarningHandler: ((message: string) => void) | undefined;
const seenWarnings = new Set<string>();

/** The SDK prints warnings with console.info/warn; they go to our warning output instead, once each. */
function _routeSdkWarnings(handler: ((message: string) => void) | undefined): void {
  sdkWarningHandler = handler;
  (globalThis as { AI_SDK_LOG_WARNINGS?: unknown }).AI_SDK_LOG_WARNINGS = (options: {
    warnings: { type: string; feature?: string; details?: string; message?: string }[];
  }) => {
    for (const warning of options.warnings) {
      const text = warning.message ?? [warning.feature, warning.details].filter(Boolean).join(": ");
      const message = `provider warning (${warning.type}): ${text}`;
      if (seenWarnings.has(message)) continue;
      seenWarnings.add(message);
      sdkWarningHandler?.(message);
    }
  };
}

function _model(options: LlmClientOptions): LanguageModel {
  const { config } = options;
  // never undefined: the SDKs would then read OPENAI_API_KEY/ANTHROPIC_API_KEY behind the config's back
  const apiKey = options.apiKey?.reveal() ?? "";
  const common = { ...(options.fetch ? { fetch: options.fetch } : {}) };
  switch (config.provider) {
    case "openai":
      return createOpenAI({ apiKey, ...(config.baseUrl ? { baseURL: config.baseUrl } : {}), ...common }).chat(
        config.model,
      );
    case "anthropic":
      return createAnthropic({ apiKey, ...(config.baseUrl ? { baseURL: config.baseUrl } : {}), ...common })(
        config.model,
      );
    case "ollama":
    case "openai-compatible": {
      const baseURL = config.baseUrl ?? (config.provider === "ollama" ? OLLAMA_BASE_URL : undefined);
      if (!baseURL) {
        throw new SiteloomError(
          "ERR_CONFIG_INVALID",
          "llm.baseUrl is required for provider openai-compatible (e.g. http://127.0.0.1:8000/v1 for vLLM)",
        );
      }
      return createOpenAICompatible({
        name: config.provider,
        baseURL,
        ...(apiKey ? { apiKey } : {}),
        supportsStructuredOutputs: true,
        includeUsage: true,
        ...common,
      }).chatModel(config.model);
    }
    default:
      throw new SiteloomError("ERR_INTERNAL", `provider ${config.provider} has no model client`);
  }
}

async function _call<T>(model: LanguageModel, config: LlmConfig, request: LlmRequest<T>): Promise<LlmResult<T>> {
  const timeout = AbortSignal.timeout(config.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  try {
    const result = await generateText({
      model,
      system: request.system,
      prompt: request.prompt,
      output: Output.object({ schema: request.schema, name: request.schemaName }),
      temperature: config.temperature,
      maxOutputTokens: config.maxOutputTokens,
      maxRetries: 0,
      abortSignal: signal,
    });
    const usage = _usage(result.usage);
    if (result.finishReason === "length") {
      return {
        problem: "the answer was cut off at the output-token limit",
        text: result.text,
        finishReason: "length",
        usage,
      };
    }
    return { value: result.output as T, finishReason: result.finishReason, usage };
  } catch (error) {
    if (NoObjectGeneratedError.isInstance(error)) {
      const usage = _usage(error.usage);
      const finishReason = error.finishReason ?? "unknown";
      const problem =
        finishReason === "length"
          ? "the answer was cut off at the output-token limit"
          : _describeInvalid(error.cause ?? error);
      return { problem, ...(error.text !== undefined ? { text: error.text } : {}), finishReason, usage };
    }
    if (timeout.aborted && !request.signal?.aborted) {
      throw new SiteloomError("ERR_LLM_REQUEST", `request timed out after ${config.timeoutMs} ms (llm.timeoutMs)`, {
        cause: error,
      });
    }
    throw error;
  }
}

function _usage(usage: { inputTokens?: number | undefined; outputTokens?: number | undefined } | undefined) {
  return { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 };
}

function _describeInvalid(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  // zod's message is a JSON array of issues; keep it short for the repair prompt and the report
  return `the answer did not match the schema: ${message.replace(/\s+/g, " ").slice(0, 600)}`;
}

interface Failure {
  error: SiteloomError;
  retry: boolean;
  retryAfterMs?: number;
}

function _classify(error: unknown, config: LlmConfig): Failure {
  const where = `${config.provider} ${config.model}`;
  if (error instanceof SiteloomError)
    return { error, retry: error.code === "ERR_LLM_REQUEST" && /timed out/.test(error.message) };
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    const detail = _apiMessage(error);
    if (status === 429) {
      const retryAfterMs = _retryAfter(error.responseHeaders);
      const tooLong = retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS;
      return {
        error: new SiteloomError("ERR_LLM_RATE_LIMITED", `${where}: rate limited (HTTP 429)${detail}`, {
          cause: error,
        }),
        retry: !tooLong,
        ...(retryAfterMs !== undefined && !tooLong ? { retryAfterMs } : {}),
      };
    }
    if (status === 401 || status === 403) {
      return {
        error: new SiteloomError(
          "ERR_LLM_REQUEST",
          `${where}: the API key was refused (HTTP ${status})${detail}; check llm.apiKey`,
          { cause: error },
        ),
        retry: false,
      };
    }
    const retry = status === undefined || status >= 500 || status === 408 || status === 409;
    return {
      error: new SiteloomError("ERR_LLM_REQUEST", `${where}: HTTP ${status ?? "error"}${detail}`, { cause: error }),
      retry,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return {
    error: new SiteloomError(
      "ERR_LLM_REQUEST",
      `${where}: ${message}${cause?.code ? ` (${cause.code})` : ""}; check llm.baseUrl and the network`,
      { cause: error },
    ),
    // network failures, resets and bodies that are not a valid API response are worth another try
    retry: true,
  };
}

function _apiMessage(error: APICallError): string {
  const data = error.data as { error?: { message?: string } } | undefined;
  const text = data?.error?.message ?? error.message;
  return text ? `: ${text.slice(0, 300)}` : "";
}

function _retryAfter(headers: Record<string, string> | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers["retry-after-ms"];
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms);
  const value = headers["retry-after"];
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function _sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
