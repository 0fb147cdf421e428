import { createHash } from "node:crypto";
import { mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanTree } from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";

describe("transfer: scanTree", () => {
  it("lists regular files with size, time and hash, folders, and skips symlinks; a cached entry is not read again", async () => {
    const root = await useTempDir("siteloom-scan-");
    await mkdir(join(root, "css/fonts"), { recursive: true });
    await writeFile(join(root, "index.html"), "<p>home</p>");
    await writeFile(join(root, "css/site.css"), "body{}");
    await writeFile(join(root, "css/fonts/a.woff"), "font");
    await symlink("index.html", join(root, "alias.html"));
    await symlink("css", join(root, "styles"));
    await utimes(join(root, "css/site.css"), 1_700_000_000, 1_700_000_000);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const tree = await scanTree(root, {
      // the cache vouches for site.css by size and time: its (made-up) hash is taken as it is
      cache: new Map([["css/site.css", { size: 6, mtime: 1_700_000_000_000, hash: "cached" }]]),
    });
    expect([...tree.files.keys()]).toEqual(["css/fonts/a.woff", "css/site.css", "index.html"]);
    expect(tree.files.get("index.html")).toMatchObject({ size: 11, hash: sha("<p>home</p>") });
    expect(tree.files.get("css/site.css")).toMatchObject({ size: 6, mtime: 1_700_000_000_000, hash: "cached" });
    expect(tree.dirs).toEqual(["css", "css/fonts"]);
    expect(tree.skipped.sort()).toEqual(["alias.html", "styles"]);
  });
});
