import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

/** One request as a local service saw it: checks on the wire format (method, path, headers) read these. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Handler = (req: SeenRequest, res: ServerResponse) => unknown;

export interface LocalService {
  /** `http://127.0.0.1:PORT` (or https). */
  url: string;
  port: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP(S) server on a free port that records every request; the cloud fakes build on it. A throw in a
 * handler is answered 500 with its message, so a fake's own bug shows up as a failing test, not a hang.
 */
export async function startLocalService(
  handler: Handler,
  tls?: { key: string; cert: string; host?: string },
): Promise<LocalService> {
  const requests: SeenRequest[] = [];
  const listener = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const seen = {
      method: req.method ?? "",
      path: req.url ?? "/",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    requests.push(seen);
    try {
      await handler(seen, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String((error as Error).stack ?? error));
    }
  };
  const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const host = tls?.host ?? "127.0.0.1";
  return {
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}
