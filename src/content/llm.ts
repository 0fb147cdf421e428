import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import {
  APICallError,
  generateText,
  JSONParseError,
  type LanguageModel,
  NoObjectGeneratedError,
  NoOutputGeneratedError,
  Output,
  TypeValidationError,
} from "ai";
import type { z } from "zod";
import type { LlmConfig } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { parseRetryAfter, runWithRetry, sleep } from "../retry.ts";
import type { Secret } from "../secret.ts";
import type { CallLimiter } from "../store/index.ts";

/** Ollama's OpenAI-compatible endpoint on the local machine. */
export const OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1";
/** Longest `retry-after` honoured; a provider asking for more is treated as a failure. */
const MAX_RETRY_AFTER_MS = 300_000;
/** Problems of one answer named to the model and the user; the rest are counted. */
const MAX_PROBLEMS = 8;
const CUT_OFF = "the answer was cut off at the output-token limit";
/** Socket errors worth another try (Node's and undici's codes). */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

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
  /** Every request goes through it (llm.concurrency, llm.requestsPerMinute: see llm-limits.ts). @default none */
  limiter?: Pick<CallLimiter, "run">;
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
  /** Output-token cap of this call (the bound a budget reservation is computed from). @default llm.maxOutputTokens */
  maxOutputTokens?: number;
}

/** The outcome of one structured-output call that reached the provider. */
export interface LlmResult<T> {
  /** The parsed, schema-valid object; absent when the output was unusable. */
  value?: T;
  /** Why the output was unusable (cut off, not JSON, not matching the schema), as one line. */
  problem?: string;
  /** The same, one "path: rule" entry per problem (for the repair prompt). */
  problems?: string[];
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
      const failures = new WeakMap<SiteloomError, Failure>();
      let attempts = 0;
      try {
        return await runWithRetry(
          async () => {
            attempts++;
            const wait = pausedUntil - Date.now();
            if (wait > 0) await sleep(wait, request.signal);
            try {
              const call = () => _call(model, config, request);
              return await (options.limiter ? options.limiter.run(call, request.signal) : call());
            } catch (error) {
              if (request.signal?.aborted) throw error;
              const failure = _classify(error, config);
              failures.set(failure.error, failure);
              throw failure.error;
            }
          },
          {
            retries: config.maxRetries,
            baseMs: retryBaseMs,
            maxMs: retryMaxMs,
            signal: request.signal,
            classify: (error) => {
              const failure = failures.get(error as SiteloomError);
              return { retry: failure?.retry ?? false, afterMs: failure?.retryAfterMs };
            },
            onRetry: ({ attempt, delayMs, reason, error }) => {
              if (failures.get(error as SiteloomError)?.retryAfterMs !== undefined) {
                pausedUntil = Math.max(pausedUntil, Date.now() + delayMs);
              }
              options.onRetry?.({ attempt, delayMs, reason });
            },
          },
        );
      } catch (error) {
        const failure = failures.get(error as SiteloomError);
        if (request.signal?.aborted || !failure?.retry) throw error;
        throw new SiteloomError(
          failure.error.code,
          `${failure.error.message} (gave up after ${attempts} attempts; llm.maxRetries is ${config.maxRetries})`,
          { cause: failure.error.cause ?? failure.error },
        );
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
      maxOutputTokens: request.maxOutputTokens ?? config.maxOutputTokens,
      maxRetries: 0,
      abortSignal: signal,
    });
    const usage = _usage(result.usage);
    if (result.finishReason === "length") {
      return { problem: CUT_OFF, problems: [CUT_OFF], text: result.text, finishReason: "length", usage };
    }
    try {
      return { value: result.output as T, finishReason: result.finishReason, usage };
    } catch (error) {
      // the answer came (and was paid for) but holds no structured output, e.g. plain text instead of the json tool
      if (!NoOutputGeneratedError.isInstance(error) && !NoObjectGeneratedError.isInstance(error)) throw error;
      const problems = _problemsOf(error);
      return { problem: problems.join("; "), problems, text: result.text, finishReason: result.finishReason, usage };
    }
  } catch (error) {
    if (NoObjectGeneratedError.isInstance(error)) {
      const usage = _usage(error.usage);
      const finishReason = error.finishReason ?? "unknown";
      const problems = finishReason === "length" ? [CUT_OFF] : _problemsOf(error.cause ?? error);
      return {
        problem: problems.join("; "),
        problems,
        ...(error.text !== undefined ? { text: error.text } : {}),
        finishReason,
        usage,
      };
    }
    if (timeout.aborted && !request.signal?.aborted) {
      throw new SiteloomError(
        "ERR_LLM_REQUEST",
        `${_where(config)}: request timed out after ${config.timeoutMs} ms (llm.timeoutMs)`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

function _usage(usage: { inputTokens?: number | undefined; outputTokens?: number | undefined } | undefined) {
  return { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 };
}

/**
 * What was wrong with an answer, as a list of "path: rule" lines (the model's repair prompt and the user's message
 * both need these; the answer itself is long and goes only to --debug output).
 */
function _problemsOf(cause: unknown): string[] {
  for (let error = cause, depth = 0; error && depth < 5; error = (error as { cause?: unknown }).cause, depth++) {
    const issues = Array.isArray(error) ? error : (error as { issues?: unknown }).issues;
    if (Array.isArray(issues) && issues.length > 0) return issues.slice(0, MAX_PROBLEMS).map(_describeIssue);
    if (JSONParseError.isInstance(error)) {
      const reason = error.cause instanceof Error ? error.cause.message : "not JSON";
      return [`the answer is not valid JSON (${reason.replace(/\s+/g, " ").slice(0, 120)})`];
    }
    if (NoOutputGeneratedError.isInstance(error)) return ["the answer holds no JSON object (plain text only)"];
    if (TypeValidationError.isInstance(error) && !(error as { cause?: unknown }).cause) break;
  }
  return ["the answer did not match the schema"];
}

function _describeIssue(issue: { path?: PropertyKey[]; code?: string; message?: string; expected?: string }): string {
  const path = issue.path?.length ? issue.path.map(String).join(".") : "(the answer)";
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message ?? "")) {
    return `${path}: missing (must be ${_article(issue.expected ?? "a value")})`;
  }
  if (issue.code === "invalid_type" && issue.expected) {
    const received = /received (\w+)/.exec(issue.message ?? "")?.[1];
    return `${path}: must be ${_article(issue.expected)}${received ? `, got ${_article(received)}` : ""}`;
  }
  if (issue.code === "unrecognized_keys") return `${path}: ${issue.message ?? "unknown keys"}`;
  return `${path}: ${(issue.message ?? "invalid").replace(/^Invalid input: /, "")}`;
}

function _article(type: string): string {
  return /^(a|an) /.test(type) || type === "undefined" || type === "null"
    ? type
    : `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

function _where(config: LlmConfig): string {
  return `${config.provider} ${config.model}`;
}

interface Failure {
  error: SiteloomError;
  retry: boolean;
  retryAfterMs?: number;
}

function _classify(error: unknown, config: LlmConfig): Failure {
  const where = _where(config);
  if (error instanceof SiteloomError)
    return { error, retry: error.code === "ERR_LLM_REQUEST" && /timed out/.test(error.message) };
  const network = _networkCode(error);
  if (network) {
    // a reset, a premature close or a truncated body: the SDK reports some as an API error with status 200
    const refused = network === "ECONNREFUSED" || network === "ENOTFOUND" || network === "EAI_AGAIN";
    const text = refused
      ? `cannot connect (${network}); check llm.baseUrl and the network`
      : `the connection dropped before the answer was complete (${network})`;
    return { error: new SiteloomError("ERR_LLM_REQUEST", `${where}: ${text}`, { cause: error }), retry: true };
  }
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    const detail = _apiMessage(error);
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(
        error.responseHeaders?.["retry-after"],
        error.responseHeaders?.["retry-after-ms"],
      );
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
          "ERR_LLM_AUTH",
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
  return {
    error: new SiteloomError("ERR_LLM_REQUEST", `${where}: ${message}; check llm.baseUrl and the network`, {
      cause: error,
    }),
    // bodies that are not a valid API response are worth another try
    retry: true,
  };
}

/** The socket-level code behind an SDK error (undici wraps it one or two causes deep), if any. */
function _networkCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    if (e instanceof TypeError && e.message === "terminated") return "terminated";
  }
  return undefined;
}

function _apiMessage(error: APICallError): string {
  const data = error.data as { error?: { message?: string } } | undefined;
  const text = (data?.error?.message ?? error.message)?.trim().replace(/[.\s]+$/, "");
  return text ? `: ${text.slice(0, 300)}` : "";
}
