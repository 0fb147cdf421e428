import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RemoteFS } from "../../../src/transfer/index.ts";

/** Writes a small site with the awkward cases: spaces, UTF-8, empty files and directories, a deep tree, a binary. */
export async function writeSite(
  dir: string,
  options: { bigBytes?: number; extra?: Record<string, string | Buffer> } = {},
) {
  const files: Record<string, string | Buffer> = {
    "index.html": "<!doctype html><title>home</title><link rel=stylesheet href=css/site.css>",
    "about us.html": "<p>about</p>",
    "blog/naïve café.html": "<p>UTF-8 name</p>",
    "blog/index.html": "<p>blog</p>",
    "css/site.css": "body{margin:0}",
    "js/app.js": "console.log(1)",
    "img/logo.png": Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256)),
    "fonts/a.woff2": Buffer.alloc(1500, 3),
    "empty.txt": "",
    "a/b/c/d/e/deep.html": "<p>deep</p>",
    "sitemap.xml": "<urlset/>",
    "robots.txt": "User-agent: *",
    "feed.xml": "<rss/>",
    ...options.extra,
  };
  if (options.bigBytes) files["media/big.bin"] = _pseudoRandom(options.bigBytes);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await mkdir(join(dir, "empty-dir/inner"), { recursive: true });
  return files;
}

/** path → sha256 of every file, and the set of directories; `skip` leaves paths out (e.g. the manifest folder). */
export async function snapshot(
  dir: string,
  skip: (path: string) => boolean = (p) => p === ".siteloom" || p.startsWith(".siteloom/"),
): Promise<{ files: Record<string, string>; dirs: string[] }> {
  const files: Record<string, string> = {};
  const dirs: string[] = [];
  const walk = async (rel: string) => {
    for (const name of (await readdir(rel ? join(dir, rel) : dir)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (skip(path)) continue;
      const st = await lstat(join(dir, path));
      if (st.isDirectory()) {
        dirs.push(path);
        await walk(path);
      } else {
        files[path] = createHash("sha256")
          .update(await readFile(join(dir, path)))
          .digest("hex");
      }
    }
  };
  await walk("");
  return { files, dirs };
}

export interface OpLog {
  ops: { op: string; path: string; startAt?: number }[];
  count(op?: string): number;
  reset(): void;
}

/** Wraps a RemoteFS (the pool's `connect` seam) and records every operation made through it. */
export function recordOps(
  log: OpLog,
  fs: RemoteFS,
  hooks: { before?: (op: string, path: string) => void } = {},
): RemoteFS {
  const wrapped = {} as Record<string, unknown>;
  const keys = ["list", "stat", "download", "read", "upload", "rename", "remove", "removeDir", "mkdir"] as const;
  // the optional fast paths only where the backend has them, so that callers take the same path as without the log
  const optional = (["put", "flush", "mkdirMany", "removeEmptyDir"] as const).filter((key) => fs[key] !== undefined);
  for (const key of [...keys, ...optional]) {
    wrapped[key] = async (...args: unknown[]) => {
      const path = key === "upload" ? String(args[1]) : key === "put" ? String(args[2]) : String(args[0] ?? "");
      const startAt = key === "upload" ? (args[2] as { startAt?: number } | undefined)?.startAt : undefined;
      log.ops.push(startAt === undefined ? { op: key, path } : { op: key, path, startAt });
      hooks.before?.(key, path);
      return (fs[key] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return { ...wrapped, protocol: fs.protocol, close: () => fs.close() } as RemoteFS;
}

export function createOpLog(): OpLog {
  const log: OpLog = {
    ops: [],
    count: (op) => (op === undefined ? log.ops.length : log.ops.filter((o) => o.op === op).length),
    reset: () => {
      log.ops.length = 0;
    },
  };
  return log;
}

function _pseudoRandom(size: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = 123456789;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}
