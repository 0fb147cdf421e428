export { createMetrics, METRICS_CONTENT_TYPE, type Metrics, type MetricsOptions } from "./registry.ts";
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from "./server.ts";
