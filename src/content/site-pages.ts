import { open, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { LinkTarget } from "./prompts.ts";

/** Only the head of a page is read: the title is near the top, and exports can hold thousands of pages. */
const HEAD_BYTES = 64 * 1024;
const MAX_PAGES = 10_000;

/**
 * Lists the HTML pages of an exported site with their titles (`<title>`, else the first `<h1>`, else the file
 * name) and their site-relative URLs (`index.html` → its folder). A missing export folder gives an empty list.
 */
export async function loadSitePages(exportDir: string): Promise<LinkTarget[]> {
  const files: string[] = [];
  await _walk(exportDir, files);
  const pages: LinkTarget[] = [];
  for (const file of files.sort()) {
    const rel = relative(exportDir, file).split(sep).join("/");
    const url = `/${rel}`.replace(/(^|\/)index\.html?$/i, "$1");
    pages.push({ url, title: (await _title(file)) ?? rel });
  }
  return pages;
}

/** Decodes the few HTML entities that appear in titles. */
export function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(Number.parseInt(n, 16)))
    .replace(/&nbsp;/g, " ")
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

// --- internal ---

async function _walk(dir: string, out: string[]): Promise<void> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) {
    if (out.length >= MAX_PAGES) return;
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await _walk(path, out);
    else if (entry.isFile() && /\.html?$/i.test(entry.name)) out.push(path);
  }
}

async function _title(file: string): Promise<string | undefined> {
  const handle = await open(file, "r");
  let head: string;
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    head = buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(head) ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(head);
  const title = match
    ? decodeEntities(match[1]!.replace(/<[^>]+>/g, ""))
        .replace(/\s+/g, " ")
        .trim()
    : "";
  return title || undefined;
}
