import { describe, expect, it } from "vitest";
import { resolveBackupRoot } from "../../src/transfer/deploy/backup-root.ts";
import { createManifest, type DeployBackup, type ManifestEntry } from "../../src/transfer/deploy/manifest.ts";
import { planRollback } from "../../src/transfer/deploy/rollback.ts";

const e = (hash: string): ManifestEntry => ({ size: hash.length, hash, mtime: 0 });
const backup = (id: string, previousId: string | undefined, fields: Partial<DeployBackup>): DeployBackup => ({
  id,
  previousId,
  finishedAt: "2026-01-01T00:00:00.000Z",
  dir: `.siteloom/backups/${id.slice(0, 8)}`,
  saved: {},
  added: [],
  addedDirs: [],
  ...fields,
});
// three deploys: A (first), B (changes a.html, adds b/new.html), C (deletes old.txt, changes a.html again)
const B = backup("bbbbbbbb-1", "aaaaaaaa-1", {
  saved: { "a.html": e("a1") },
  added: ["b/new.html"],
  addedDirs: ["b"],
});
const C = backup("cccccccc-1", "bbbbbbbb-1", { saved: { "a.html": e("a2"), "old.txt": e("o1") } });
const now = createManifest({
  id: "cccccccc-1",
  previousId: "bbbbbbbb-1",
  site: "demo",
  env: "test",
  files: { "a.html": e("a3"), "b/new.html": e("n1"), "keep.css": e("k1") },
  dirs: ["b"],
  backups: [C, B],
});

describe("transfer: planRollback", () => {
  it.each([
    {
      name: "the last deploy",
      to: undefined,
      undo: ["cccccccc-1"],
      restore: [".siteloom/backups/cccccccc/a.html", ".siteloom/backups/cccccccc/old.txt"],
      remove: [],
      removeDirs: [],
      files: { "a.html": "a2", "b/new.html": "n1", "keep.css": "k1", "old.txt": "o1" },
    },
    {
      name: "two deploys, by manifest id prefix: the oldest saved copy wins, added files go",
      to: "aaaaaaaa",
      undo: ["cccccccc-1", "bbbbbbbb-1"],
      restore: [".siteloom/backups/bbbbbbbb/a.html", ".siteloom/backups/cccccccc/old.txt"],
      remove: ["b/new.html"],
      removeDirs: ["b"],
      files: { "a.html": "a1", "keep.css": "k1", "old.txt": "o1" },
    },
    {
      name: "to a kept deploy by run id (the backup folder's name)",
      to: "bbbbbbbb",
      undo: ["cccccccc-1"],
      restore: [".siteloom/backups/cccccccc/a.html", ".siteloom/backups/cccccccc/old.txt"],
      remove: [],
      removeDirs: [],
      files: { "a.html": "a2", "b/new.html": "n1", "keep.css": "k1", "old.txt": "o1" },
    },
  ])("$name", ({ to, undo, restore, remove, removeDirs, files }) => {
    const plan = planRollback(now, ".siteloom", to);
    expect(plan.undo).toEqual(undo);
    expect(plan.restore.map((r) => r.from)).toEqual(restore);
    expect(plan.remove).toEqual(remove);
    expect(plan.removeDirs).toEqual(removeDirs);
    expect(Object.fromEntries(Object.entries(plan.next.files).map(([p, f]) => [p, f.hash]))).toEqual(files);
    expect(plan.next.backups ?? []).toEqual([C, B].slice(undo.length));
    expect(plan.next.previousId).toBe(now.id);
  });

  it.each([
    { name: "the current deploy", to: "cccccccc", error: /is the deploy on the server now/ },
    { name: "an unknown run", to: "deadbeef", error: /no deploy "deadbeef" among the ones kept.*cccccccc/ },
    { name: "a prefix too short to mean anything", to: "a", error: /no deploy "a"/ },
  ])("refuses $name", ({ to, error }) => {
    expect(() => planRollback(now, ".siteloom", to)).toThrow(error);
  });

  it("refuses a manifest without backups", () => {
    const bare = createManifest({ previousId: undefined, site: "demo", env: "test", files: {}, dirs: [] });
    expect(() => planRollback(bare, ".siteloom")).toThrow(/nothing to roll back/);
  });

  // the manifest comes from the server: the folders it names are used only when exactly <backup root>/<run id>
  it.each([
    "../../etc",
    ".siteloom/backups/cccccccc/..",
    ".siteloom/backups/../../cccccccc",
    "/etc/cccccccc",
    ".siteloom-backups/www/cccccccc",
    ".siteloom-backups/other/cccccccc",
    ".siteloom-backups/www/x/cccccccc",
    ".siteloom-backups/www/CCCCCCCC",
  ])("refuses the tampered backup folder %s", (dir) => {
    const forged = { ...now, backups: [{ ...C, dir }, B] };
    expect(() => planRollback(forged, ".siteloom")).toThrow(/names the backup folder .* refusing to use it/);
    const outside = { inside: ".siteloom/backups", outside: ".siteloom-backups/www" };
    if (dir !== ".siteloom-backups/www/cccccccc") {
      expect(() => planRollback(forged, outside)).toThrow(/not <backup root>\/<run id> of ".siteloom\/backups" or/);
    }
  });

  it("reads from the backup root outside remote.root (relative to it) when the manifest names it", () => {
    const outside = { inside: ".siteloom/backups", outside: "/home/u/.siteloom-backups/www" };
    const there = { ...now, backups: [{ ...C, dir: "/home/u/.siteloom-backups/www/cccccccc" }, B] };
    const plan = planRollback(there, outside);
    expect(plan.restore.map((r) => r.from)).toEqual([
      "/home/u/.siteloom-backups/www/cccccccc/a.html",
      "/home/u/.siteloom-backups/www/cccccccc/old.txt",
    ]);
    expect([...plan.sources.values()].map((s) => [s.folder.outside, s.path])).toEqual([
      [true, "cccccccc/a.html"],
      [true, "cccccccc/old.txt"],
    ]);
  });
});

describe("transfer: deploy.backupDir", () => {
  it.each([
    ["public_html", "auto", ".siteloom-backups/public_html"],
    ["/home/u/www", "auto", "/home/u/.siteloom-backups/www"],
    ["/home/u/www/", "auto", "/home/u/.siteloom-backups/www"],
    ["/www", "auto", "/.siteloom-backups/www"],
    ["/", "auto", undefined],
    [".", "auto", undefined],
    ["/home/u/www", "inside", undefined],
    ["/home/u/www", "/home/u/backups", "/home/u/backups"],
    ["/home/u/www", "backups", "backups"],
    ["public_html", "/var/backups/site", "/var/backups/site"],
  ])("remote.root %s, backupDir %s → %s", (root, backupDir, expected) => {
    expect(resolveBackupRoot(root, backupDir)).toBe(expected);
  });

  it.each([
    ["/home/u/www", "/home/u/www/.backups"],
    ["/home/u/www", "/home/u/www"],
    ["/home/u/www", "/home/u"],
    ["public_html", "public_html/old"],
    [".", "backups"],
    ["/", "/backups"],
    ["/home/u/www", "/home/u/x/../www/sub"],
  ])("refuses remote.root %s with backupDir %s", (root, backupDir) => {
    expect(() => resolveBackupRoot(root, backupDir)).toThrow(/must be a folder outside remote.root/);
  });
});
