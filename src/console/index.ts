import type { FastifyPluginAsync } from "fastify";
import type { ConsoleContext } from "./context.ts";
import { articleRoutes } from "./routes/articles.ts";
import { eventRoutes } from "./routes/events.ts";
import { inspectRoutes } from "./routes/inspect.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { previewRoutes } from "./routes/preview.ts";
import { sessionRoutes } from "./routes/session.ts";
import { staticRoutes } from "./routes/static.ts";

export { CONSOLE_CSP, consoleAssetsDir } from "./routes/static.ts";
export { createSessionStore, SESSION_COOKIE, type SessionStore } from "./sessions.ts";

/** What the console needs from the server: the workspace, its live configuration, store, sessions and run events. */
export type ConsolePluginOptions = ConsoleContext;

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
