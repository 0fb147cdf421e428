import type { FastifyPluginAsync } from "fastify";
import type { PipelineEvent } from "../../pipeline/index.ts";
import { principalOf } from "../../server/access.ts";
import { envAllows } from "../../tokens/index.ts";
import type { ConsoleContext } from "../context.ts";

/** A comment line sent this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * GET /console/events: the pipeline events of the runs this server starts (the ones `siteloom run` draws as
 * progress bars), as server-sent events, limited to the environments the token may use.
 */
export const eventRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  const open = new Set<() => void>();
  // streams never end on their own: close them before the server waits for its connections to finish
  fastify.addHook("preClose", async () => {
    for (const end of open) end();
  });
  fastify.get(
    "/console/events",
    {
      config: { access: { role: "viewer", action: "console.events" } },
      schema: { summary: "Live run progress (text/event-stream of pipeline events)", tags: ["console"] },
    },
    (request, reply) => {
      const principal = principalOf(request);
      const envs = new Map<string, string>();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        connection: "keep-alive",
      });
      res.write(": connected\n\n");
      const listener = (event: PipelineEvent) => {
        // only run-started carries the environment; the run's later events follow its decision
        if (event.type === "run-started") envs.set(event.runId, event.env);
        const env = envs.get(event.runId);
        if (env === undefined || !envAllows(principal, env)) return;
        res.write(`event: pipeline\ndata: ${JSON.stringify(event)}\n\n`);
        if (event.type === "run-finished") envs.delete(event.runId);
      };
      const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
      ctx.runEvents.on("event", listener);
      const stop = () => {
        clearInterval(keepalive);
        ctx.runEvents.off("event", listener);
        open.delete(end);
      };
      const end = () => {
        stop();
        res.end();
      };
      open.add(end);
      request.raw.on("close", stop);
    },
  );
};
