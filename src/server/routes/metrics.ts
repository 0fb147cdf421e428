import type { FastifyPluginAsync } from "fastify";
import { METRICS_CONTENT_TYPE, type Metrics } from "../../metrics/index.ts";

export interface MetricsRoutesOptions {
  metrics: Metrics;
}

/** GET /metrics: the Prometheus text format, for a viewer token (or on metrics.port without one, see serve). */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (fastify, { metrics }) => {
  fastify.get(
    "/metrics",
    {
      config: { access: { role: "viewer", action: "metrics.read" } },
      schema: { summary: "Prometheus metrics of this server (text format)", tags: ["metrics"] },
    },
    async (_request, reply) => {
      reply.type(METRICS_CONTENT_TYPE);
      return metrics.text();
    },
  );
};
