import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { walkTree } from "../../src/enrich/files.ts";

/** sha256 of every file under a folder, by site-relative path. */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await walkTree(root)) {
    out.set(
      f.path,
      createHash("sha256")
        .update(await readFile(join(root, f.path)))
        .digest("hex"),
    );
  }
  return out;
}

/** mtime of every file under a folder. */
export async function mtimes(root: string): Promise<Map<string, number>> {
  return new Map((await walkTree(root)).map((f) => [f.path, f.mtimeMs]));
}

/** Runs xmllint; returns its exit code and output (it is a real, separate checker). */
export function xmllint(args: string[]): { code: number; output: string } {
  try {
    const output = execFileSync("xmllint", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { code: 0, output };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** Every `href`/`src` value of an HTML text. */
export function linksOf(html: string): string[] {
  return [...html.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
}

export const RFC822 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (GMT|[+-]\d{4})$/;
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Text of every element `name` (no nesting of the same name; enough for feeds we check). */
export function elements(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}\\b[^>]*?(?:/>|>([\\s\\S]*?)</${name}>)`, "g"))].map((m) => m[0]);
}

export function inner(el: string): string {
  return el.replace(/^<[^>]*>/, "").replace(/<\/[^>]+>$/, "");
}

export function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
