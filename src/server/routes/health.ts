import type { FastifyPluginAsync } from "fastify";
import type { ConfigRuntime } from "../runtime.ts";

export interface HealthRoutesOptions {
  runtime: ConfigRuntime;
  version: string;
}

/** GET /health: public liveness; says whether the last edit of the files was rejected, not why. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (fastify, { runtime, version }) => {
  const started = Date.now();
  fastify.get(
    "/health",
    { schema: { summary: "Liveness and the configuration version in force (no token needed)", tags: ["health"] } },
    async () => {
      const rejected = runtime.lastRejected();
      return {
        status: "ok",
        version,
        configVersion: runtime.current().version,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        lastEditRejected: rejected ? rejected.at : null,
      };
    },
  );
};
