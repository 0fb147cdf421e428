/**
 * robots.txt with the site's rules kept byte for byte: only a `Sitemap:` line is appended when the file does not
 * name this sitemap yet. Returns the bytes to write, or the original bytes when nothing changes.
 */
export function mergeRobots(existing: Buffer | undefined, sitemapUrl: string): Buffer {
  if (!existing) return Buffer.from(`User-agent: *\nAllow: /\n\nSitemap: ${sitemapUrl}\n`);
  const text = existing.toString("latin1");
  const listed = text.split(/\r?\n|\r/).some((line) => {
    const m = /^\s*sitemap\s*:\s*(\S+)/i.exec(line);
    return m?.[1] === sitemapUrl;
  });
  if (listed) return existing;
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const sep = text.length === 0 || text.endsWith("\n") || text.endsWith("\r") ? "" : eol;
  return Buffer.concat([existing, Buffer.from(`${sep}Sitemap: ${sitemapUrl}${eol}`)]);
}
