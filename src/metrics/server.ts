import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { METRICS_CONTENT_TYPE, type Metrics } from "./registry.ts";

export interface MetricsServerOptions {
  metrics: Metrics;
  /** @default 0 (a free port) */
  port?: number;
  /** Keep it on loopback: the port has no token. @default "127.0.0.1" */
  host?: string;
}

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on its own port without a token (for `siteloom worker`, or `serve` with `metrics.port`): only
 * that path, only GET/HEAD, bound to loopback unless told otherwise.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(path === "/metrics" ? 405 : 404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    options.metrics.text().then(
      (text) =>
        response
          .writeHead(200, { "content-type": METRICS_CONTENT_TYPE })
          .end(request.method === "HEAD" ? undefined : text),
      () => response.writeHead(500, { "content-type": "text/plain" }).end("metrics failed\n"),
    );
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`,
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
