import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { SiteloomError } from "../../errors.ts";
import { findPackageRoot } from "../../package-info.ts";

/** The console's files, shipped in the package as they are (no build step). */
export function consoleAssetsDir(): string {
  return join(findPackageRoot(), "src", "console", "assets");
}

/** Only the console's own files, nothing inline, nothing from elsewhere; previews are framed from this origin. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** GET / (the console page) and GET /console/assets/:file, read once at start and served with ETags. */
export const staticRoutes: FastifyPluginAsync<{ dir?: string }> = async (fastify, options) => {
  const dir = options.dir ?? consoleAssetsDir();
  const files = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = await readFile(join(dir, name));
    files.set(name, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` });
  }
  const send =
    (name: string) => async (request: { headers: Record<string, unknown> }, reply: import("fastify").FastifyReply) => {
      const file = files.get(name);
      if (!file) throw new SiteloomError("ERR_NOT_FOUND", `no console file ${name}`);
      reply
        .header("content-type", file.type)
        .header("etag", file.etag)
        .header("cache-control", "no-cache")
        .header("content-security-policy", CONSOLE_CSP)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY");
      if (request.headers["if-none-match"] === file.etag) return reply.status(304).send();
      return reply.send(file.body);
    };
  // the page and its files are not API operations: left out of /openapi.json
  const hidden = { hidden: true } as never;
  fastify.get("/", { config: hidden }, send("index.html"));
  fastify.get<{ Params: { file: string } }>("/console/assets/:file", { config: hidden }, (request, reply) =>
    send(request.params.file)(request, reply),
  );
};
