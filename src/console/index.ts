import type { EventEmitter } from "node:events";
import type { FastifyPluginAsync } from "fastify";
import type { ConfigRuntime } from "../server/runtime.ts";
import type { StateStore } from "../store/index.ts";
import type { TokenStore } from "../tokens/index.ts";
import type { ConsoleContext } from "./context.ts";
import { articleRoutes } from "./routes/articles.ts";
import { eventRoutes } from "./routes/events.ts";
import { inspectRoutes } from "./routes/inspect.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { previewRoutes } from "./routes/preview.ts";
import { sessionRoutes } from "./routes/session.ts";
import { staticRoutes } from "./routes/static.ts";
import type { SessionStore } from "./sessions.ts";

export { CONSOLE_CSP, consoleAssetsDir } from "./routes/static.ts";
export { createSessionStore, SESSION_COOKIE, type SessionStore } from "./sessions.ts";

export interface ConsolePluginOptions {
  root: string;
  stateDir: string;
  runtime: ConfigRuntime;
  store: StateStore;
  tokens: TokenStore;
  sessions: SessionStore;
  vars: Record<string, string | undefined>;
  runEvents: EventEmitter;
  audit: ConsoleContext["audit"];
}

/**
 * The web console of `siteloom serve`: the page at `/`, sign-in sessions, the review API (`/articles`), and the
 * read models its screens need (sites, costs, provenance, live run events, previews).
 */
export const consolePlugin: FastifyPluginAsync<ConsolePluginOptions> = async (fastify, options) => {
  const ctx: ConsoleContext = { ...options };
  await fastify.register(staticRoutes);
  await fastify.register(sessionRoutes, { ctx });
  await fastify.register(articleRoutes, { ctx });
  await fastify.register(overviewRoutes, { ctx });
  await fastify.register(eventRoutes, { ctx });
  await fastify.register(previewRoutes, { ctx });
  await fastify.register(inspectRoutes, { ctx });
};
