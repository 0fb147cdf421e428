import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";

/** Options of `startPreview`. */
export interface PreviewOptions {
  /** Folder served as the site root (sites/<name>/output/). */
  dir: string;
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
}

/** A running preview: its URL and how to stop it. */
export interface Preview {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves a folder on loopback the way a plain shared host does: files as they are, `index.html` for a folder, a
 * redirect to the slash for a folder asked without it. HTML is sent without a charset in the header, so each page's
 * own declaration decides (as on most hosts). Nothing outside the folder is reachable.
 */
export async function startPreview(options: PreviewOptions): Promise<Preview> {
  const root = resolve(options.dir);
  const server = createServer((req, res) => {
    void _serve(root, req.url ?? "/", res);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, "127.0.0.1", ok);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    server,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

// --- internal ---

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".xml": "application/xml",
  ".txt": "text/plain",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".eot": "application/vnd.ms-fontobject",
};

async function _serve(root: string, url: string, res: import("node:http").ServerResponse): Promise<void> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, "http://x").pathname);
  } catch {
    res.writeHead(400).end("bad request");
    return;
  }
  const file = resolve(join(root, pathname));
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(404).end("not found");
    return;
  }
  try {
    let target = file;
    let s = await stat(target);
    if (s.isDirectory()) {
      if (!pathname.endsWith("/")) {
        res.writeHead(301, { location: `${pathname}/` }).end();
        return;
      }
      target = join(target, "index.html");
      s = await stat(target);
    }
    if (!s.isFile()) throw new Error("not a file");
    res.writeHead(200, { "content-type": TYPES[extname(target).toLowerCase()] ?? "application/octet-stream" });
    createReadStream(target).pipe(res);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
}
