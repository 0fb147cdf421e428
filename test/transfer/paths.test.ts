import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  filterListing,
  joinLocal,
  joinRemote,
  normalizeRemotePath,
  symlinkStaysInside,
  type UnsafeEntry,
  unsafeNameReason,
} from "../../src/transfer/index.ts";

describe("transfer: path safety", () => {
  it("accepts ordinary names and refuses hostile ones", () => {
    for (const ok of ["index.html", "with space.html", "café.txt", ".htaccess", "..hidden", "a..b", "日本"]) {
      expect(unsafeNameReason(ok)).toBeUndefined();
    }
    expect(unsafeNameReason("")).toBe("empty name");
    expect(unsafeNameReason("..")).toMatch(/'\.\.'/);
    expect(unsafeNameReason(".")).toMatch(/'\.'/);
    expect(unsafeNameReason("../etc")).toMatch(/'\/'/);
    expect(unsafeNameReason("a\\b")).toMatch(/backslash/);
    expect(unsafeNameReason("a\u0000b")).toMatch(/NUL/);
    expect(unsafeNameReason("a\nb")).toMatch(/control/);
    expect(unsafeNameReason("a\u001bb")).toMatch(/control/);
    expect(unsafeNameReason("a\u0085b")).toMatch(/control/);
  });

  it("joins root-relative paths so the result never leaves the root", () => {
    expect(joinRemote("/", "")).toBe("/");
    expect(joinRemote("/", "a//b/./c")).toBe("/a/b/c");
    expect(joinRemote("/var/www/site/", "css/x.css")).toBe("/var/www/site/css/x.css");
    expect(joinRemote("www", "x")).toBe("www/x");
    expect(normalizeRemotePath("./a/b/")).toBe("a/b");
    for (const bad of ["/etc/passwd", "../x", "a/../../x", "a/..", "C:/x", "a\\..\\x", "a\r\nDELE b"]) {
      expect(() => joinRemote("/srv", bad)).toThrow(expect.objectContaining({ code: "ERR_TRANSFER_UNSAFE_PATH" }));
    }
  });

  it("joins on the local side inside the root only", () => {
    expect(joinLocal("/tmp/export", "a/b.html")).toBe(join("/tmp/export", "a", "b.html"));
    expect(joinLocal("/tmp/export", "")).toBe("/tmp/export");
    expect(() => joinLocal("/tmp/export", "../outside")).toThrow(/refusing to write/);
    expect(() => joinLocal("/tmp/export", "/etc/cron.d/x")).toThrow(/absolute paths are not allowed/);
  });

  it("tells symlinks that stay inside the root from escaping ones", () => {
    expect(symlinkStaysInside("/srv/site", "", "index.html")).toBe(true);
    expect(symlinkStaysInside("/srv/site", "a/b", "../../c.html")).toBe(true);
    expect(symlinkStaysInside("/srv/site", "a/b", "../../../c.html")).toBe(false);
    expect(symlinkStaysInside("/srv/site", "a", "/srv/site/img/x.png")).toBe(true);
    expect(symlinkStaysInside("/srv/site", "a", "/srv/site-other/x")).toBe(false);
    expect(symlinkStaysInside("/srv/site", "", "/etc")).toBe(false);
    // With root "/" (a chrooted FTP login) an absolute target cannot be placed: refused.
    expect(symlinkStaysInside("/", "", "/etc")).toBe(false);
    expect(symlinkStaysInside("/", "", "x/../../etc")).toBe(false);
  });

  it("filters a listing and reports what it dropped", () => {
    const reported: UnsafeEntry[] = [];
    const kept = filterListing(
      [
        { name: "ok.html", type: "file" },
        { name: "../evil", type: "file" },
        { name: "bell\u0007", type: "file" },
        { name: "etc", type: "symlink", target: "/etc" },
        { name: "alias.html", type: "symlink", target: "ok.html" },
        { name: "unknown", type: "symlink" },
      ],
      { root: "/srv/site", dir: "sub", onUnsafe: (entry) => reported.push(entry) },
    );
    expect(kept.map((e) => e.name)).toEqual(["ok.html", "alias.html"]);
    expect(reported).toEqual([
      { dir: "sub", name: "../evil", reason: "a '/' inside a name" },
      { dir: "sub", name: "bell\\x07", reason: "a control character" },
      { dir: "sub", name: "etc", reason: "a symlink pointing outside the remote root (to /etc)" },
      { dir: "sub", name: "unknown", reason: "a symlink whose target is unknown" },
    ]);
  });
});
