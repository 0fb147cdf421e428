import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP server on 127.0.0.1 speaking the OpenAI chat-completions (`POST /v1/chat/completions`) and Anthropic
 * messages (`POST /v1/messages`) wire formats as the AI SDK uses them: JSON-schema `response_format`, Anthropic
 * `output_config.format` and the `json` tool, `usage` in both dialects. By default it answers every request with a
 * valid outline or article for the requested schema; scripted steps make it misbehave (429 + retry-after, 500,
 * finish reason `length`, malformed JSON, a wrong shape, slow answers). Every request is recorded.
 */
export interface LlmServerOptions {
  /** Delay before every answer. @default 0 */
  latencyMs?: number;
  /** Address to listen on; `url` names it (containers reach the host's own address, not its loopback). @default 127.0.0.1 */
  host?: string;
}

/** One scripted answer, used by the next request instead of the default. */
export interface ScriptStep {
  /** HTTP status to answer with (an API error body in the right dialect). */
  status?: number;
  headers?: Record<string, string>;
  /** Answer with finish reason `length` (OpenAI) / `max_tokens` (Anthropic) and a truncated JSON text. */
  cutOff?: boolean;
  /** Answer with text that is not JSON. */
  malformed?: boolean;
  /** Answer with JSON that does not match the schema. */
  wrongShape?: boolean;
  /** Words in the article body (default: the middle of the bounds the prompt asks for). */
  words?: number;
  /** Delay of this answer. */
  delayMs?: number;
  /** Close the connection without answering. */
  hangUp?: boolean;
  /** Send the status line, headers and half of the body, then reset the connection (a response cut off mid-way). */
  truncateBody?: boolean;
  /** Drop these fields from the generated object (a schema failure that names them: "title: missing"). */
  omit?: string[];
  /** Overwrite fields of the generated object (wrong types, a chosen title). */
  set?: Record<string, unknown>;
  /** Token usage to report instead of the computed one. */
  usage?: { input: number; output: number };
}

export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  /** "openai" or "anthropic". */
  dialect: "openai" | "anthropic";
  /** "outline" or "article" (from the schema's properties). */
  kind: "outline" | "article";
  /** The JSON schema the client sent. */
  schema: Record<string, unknown> | undefined;
  /** How the schema was sent: response_format, output_config or the json tool. */
  schemaVia: "response_format" | "output_config" | "tool" | "none";
  /** All prompt text (system + user). */
  prompt: string;
  /** When the request arrived (Date.now()). */
  at: number;
}

export interface LlmServer {
  /** Base URL to configure as llm.baseUrl: http://127.0.0.1:<port>/v1 */
  url: string;
  requests: RecordedRequest[];
  /** Queues answers for the next requests, in order. */
  script(...steps: ScriptStep[]): void;
  /** Forgets the scripted answers not used yet and the recorded requests (one server per test file). */
  reset(): void;
  latencyMs: number;
  /** The most requests seen in flight at once since the start (or the last reset). */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export async function startLlmServer(options: LlmServerOptions = {}): Promise<LlmServer> {
  const queue: ScriptStep[] = [];
  const requests: RecordedRequest[] = [];
  const state = { latencyMs: options.latencyMs ?? 0, inFlight: 0, maxInFlight: 0 };
  let counter = 0;
  const server = createServer((req, res) => {
    _handle(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  async function _handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    const path = req.url ?? "/";
    const dialect = path.endsWith("/messages") ? "anthropic" : "openai";
    const { schema, via } = _schemaOf(body, dialect);
    const prompt = _promptOf(body, dialect);
    const kind = schema && "bodyMarkdown" in ((schema.properties as object | undefined) ?? {}) ? "article" : "outline";
    requests.push({ path, headers: req.headers, body, dialect, kind, schema, schemaVia: via, prompt, at: Date.now() });
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.once("close", () => state.inFlight--);
    const step = queue.shift() ?? {};
    const delay = step.delayMs ?? state.latencyMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (step.hangUp) {
      req.socket.destroy();
      return;
    }
    if (step.status && step.status >= 400) {
      res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
      res.end(
        JSON.stringify(
          dialect === "openai"
            ? { error: { message: `scripted ${step.status}`, type: "server_error", code: null } }
            : {
                type: "error",
                error: {
                  type: step.status === 429 ? "rate_limit_error" : "api_error",
                  message: `scripted ${step.status}`,
                },
              },
        ),
      );
      return;
    }
    const value: Record<string, unknown> = step.wrongShape
      ? { unexpected: true }
      : { ...(kind === "article" ? _article(prompt, step.words) : _outline(prompt)), ...step.set };
    for (const field of step.omit ?? []) delete value[field];
    let text = JSON.stringify(value);
    if (step.malformed) text = `Sure! Here is the article: ${text.slice(0, 40)}`;
    if (step.cutOff) text = text.slice(0, Math.floor(text.length / 2));
    const usage = { ...(step.usage ?? { input: Math.ceil(prompt.length / 4), output: Math.ceil(text.length / 4) }) };
    // like a real provider, never more output than the request's cap
    const cap = Number(body.max_tokens ?? body.max_completion_tokens ?? Number.POSITIVE_INFINITY);
    usage.output = Math.min(usage.output, cap);
    counter++;
    const end = (json: string) => {
      if (!step.truncateBody) return void res.end(json);
      // the full length is announced, half is sent, then the socket is reset: the client sees a premature close
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(json),
        ...step.headers,
      });
      res.write(json.slice(0, Math.floor(json.length / 2)), () => res.socket?.resetAndDestroy());
    };
    if (!step.truncateBody) res.writeHead(200, { "content-type": "application/json", ...step.headers });
    if (dialect === "openai") {
      end(
        JSON.stringify({
          id: `chatcmpl-${counter}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [
            { index: 0, message: { role: "assistant", content: text }, finish_reason: step.cutOff ? "length" : "stop" },
          ],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
          },
        }),
      );
      return;
    }
    const content =
      via === "tool" && !step.malformed && !step.cutOff
        ? [{ type: "tool_use", id: `toolu_${counter}`, name: "json", input: value }]
        : [{ type: "text", text }];
    end(
      JSON.stringify({
        id: `msg_${counter}`,
        type: "message",
        role: "assistant",
        model: body.model,
        content,
        stop_reason: step.cutOff ? "max_tokens" : via === "tool" ? "tool_use" : "end_turn",
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      }),
    );
  }
  const host = options.host ?? "127.0.0.1";
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/v1`,
    requests,
    script(...steps) {
      queue.push(...steps);
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      state.maxInFlight = state.inFlight;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(ms: number) {
      state.latencyMs = ms;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// --- internal ---

function _schemaOf(
  body: Record<string, unknown>,
  dialect: "openai" | "anthropic",
): { schema: Record<string, unknown> | undefined; via: RecordedRequest["schemaVia"] } {
  if (dialect === "openai") {
    const format = body.response_format as
      | { type?: string; json_schema?: { schema?: Record<string, unknown> } }
      | undefined;
    return format?.json_schema?.schema
      ? { schema: format.json_schema.schema, via: "response_format" }
      : { schema: undefined, via: "none" };
  }
  const output = body.output_config as { format?: { schema?: Record<string, unknown> } } | undefined;
  if (output?.format?.schema) return { schema: output.format.schema, via: "output_config" };
  const tool = (body.tools as { name?: string; input_schema?: Record<string, unknown> }[] | undefined)?.find(
    (t) => t.name === "json",
  );
  return tool?.input_schema ? { schema: tool.input_schema, via: "tool" } : { schema: undefined, via: "none" };
}

function _promptOf(body: Record<string, unknown>, dialect: "openai" | "anthropic"): string {
  const parts: string[] = [];
  const text = (content: unknown): string =>
    typeof content === "string"
      ? content
      : Array.isArray(content)
        ? content.map((c) => (c as { text?: string }).text ?? "").join("\n")
        : "";
  if (dialect === "anthropic" && body.system) parts.push(text(body.system));
  for (const message of (body.messages as { content: unknown }[] | undefined) ?? []) parts.push(text(message.content));
  return parts.join("\n");
}

function _topic(prompt: string): string {
  const match = /Topic: ("(?:[^"\\]|\\.)*")/.exec(prompt);
  return match ? (JSON.parse(match[1]!) as string) : "Untitled";
}

function _outline(prompt: string) {
  const topic = _topic(prompt);
  return {
    title: `${topic}: a practical guide`,
    metaDescription: `Everything about ${topic}, explained step by step.`.slice(0, 150),
    sections: ["Basics", "Choosing well", "Common mistakes", "Next steps"].map((heading) => ({
      heading,
      points: [`${heading} of ${topic}`],
    })),
    faqQuestions: [`What is ${topic}?`, `How long does ${topic} take?`, `Is ${topic} expensive?`],
  };
}

function _article(prompt: string, words?: number) {
  const topic = _topic(prompt);
  const bounds = /Length: (\d+) to (\d+) words/.exec(prompt);
  const min = Number(bounds?.[1] ?? 300);
  const max = Number(bounds?.[2] ?? 600);
  const target = words ?? Math.round((min + max) / 2);
  // the first listed page of the site, and one page that does not exist (the client must remove it)
  const firstPage = /Pages of the site \(URL — title\):\n(\S+) — (.*)/.exec(prompt);
  // and the first other article listed, as a model linking related posts would
  const firstArticle = /^(\/blog\/\S+) — (.*)$/m.exec(prompt);
  const links = [
    ...(firstPage ? [{ url: firstPage[1]!, anchor: firstPage[2]! }] : []),
    ...(firstArticle && firstArticle[1] !== firstPage?.[1]
      ? [{ url: firstArticle[1]!, anchor: firstArticle[2]! }]
      : []),
    { url: "/no-such-page.html", anchor: "a missing page" },
  ];
  const headings = ["Basics", "Choosing well", "Common mistakes", "Next steps"];
  const linkText = links.map((l) => `[${l.anchor}](${l.url})`).join(" and ");
  const fixed = `## ${headings[0]}\n\nSee ${linkText}.\n\n`;
  const fixedWords = fixed.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w.replace(/\[|\]\([^)]*\)/g, ""))).length;
  const pool = `${topic} works best when you plan ahead and check each step carefully`.split(/\s+/);
  let body = fixed;
  let count = fixedWords;
  const perSection = Math.ceil((target - fixedWords) / 3);
  for (const heading of headings.slice(1)) {
    if (count >= target) break;
    const headingWords = heading.split(" ").length;
    body += `## ${heading}\n\n`;
    count += headingWords;
    const n = Math.max(0, Math.min(perSection - headingWords, target - count));
    body += `${Array.from({ length: n }, (_, i) => pool[i % pool.length]).join(" ")}.\n\n`;
    count += n;
  }
  return {
    title: `${topic}: a practical guide`,
    metaDescription: `Everything about ${topic}, explained step by step.`.slice(0, 150),
    excerpt: `A practical guide to ${topic}.`,
    bodyMarkdown: body.trim(),
    faq: [{ question: `What is ${topic}?`, answer: `${topic} is explained in this article.` }],
    internalLinks: links,
  };
}
