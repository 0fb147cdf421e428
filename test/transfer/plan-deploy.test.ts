import { describe, expect, it } from "vitest";
import type { JournalState } from "../../src/transfer/deploy/journal.ts";
import { createManifest, type Manifest, type ManifestEntry } from "../../src/transfer/deploy/manifest.ts";
import {
  createMatcher,
  type DeployListing,
  type DeployPlanOptions,
  planDeploy,
  tempNameFor,
} from "../../src/transfer/deploy/plan.ts";
import type { LocalFile } from "../../src/transfer/hash.ts";
import type { RemoteItem } from "../../src/transfer/walk.ts";

// A local tree of four files: an asset, a page, a page in a folder and the sitemap (each hash names its content).
const T = Date.UTC(2026, 0, 1, 12, 0, 0);
const file = (path: string, hash: string, size = hash.length): LocalFile => ({ path, size, mtime: T, hash });
const LOCAL_FILES = [
  file("style.css", "css1"),
  file("index.html", "home1"),
  file("blog/post.html", "post1"),
  file("sitemap.xml", "map1"),
];
const local = (files = LOCAL_FILES, dirs = ["blog"]) => ({
  files: new Map(files.map((f) => [f.path, f])),
  dirs,
});
const entry = (hash: string): ManifestEntry => ({ size: hash.length, hash, mtime: T });
const manifest = (files: Record<string, string>, dirs: string[], id = "base-0001"): Manifest =>
  createManifest({
    id,
    previousId: undefined,
    site: "demo",
    env: "test",
    files: Object.fromEntries(Object.entries(files).map(([p, h]) => [p, entry(h)])),
    dirs,
  });
// the server as the last deploy left it: the same tree, but index.html changed locally since, old.txt and the
// folder old/ gone locally
const BASE = manifest(
  { "style.css": "css1", "index.html": "home0", "blog/post.html": "post1", "sitemap.xml": "map1", "old/gone.txt": "g" },
  ["blog", "old"],
);
// what the server lists: the base, plus a stray file no manifest knows and a temp file of a crashed run
const item = (
  path: string,
  size: number,
  mtime: number | undefined,
  type: RemoteItem["type"] = "file",
): RemoteItem => ({
  path,
  name: path.split("/").at(-1) ?? path,
  type,
  size,
  mtime,
});
const listing = (items: RemoteItem[], offset = 0): DeployListing => ({
  remote: {
    files: new Map(items.filter((i) => i.type !== "dir").map((i) => [i.path, i])),
    dirs: new Map(items.filter((i) => i.type === "dir").map((i) => [i.path, i])),
  },
  offset,
});
const SERVER = [
  item("style.css", 9, T + 1000),
  item("index.html", 5, T + 1000),
  item("blog", 0, T, "dir"),
  item("blog/post.html", 5, T - 3_600_000), // same size, older than ours
  item("sitemap.xml", 4, T + 1000),
  item("stray.txt", 3, T),
  item(".in.index.html.0badc0de", 2, T),
];
const journal = (fields: Partial<JournalState> & { planned: string[]; baseId?: string }): JournalState => ({
  header: { kind: "start", runId: "0badc0de", baseId: fields.baseId, planned: fields.planned },
  done: fields.done ?? new Map(),
  deleted: fields.deleted ?? new Set(),
  temps: fields.temps ?? new Map(),
  stale: fields.stale ?? new Set(),
});
const keepRemote = (() => {
  const isProtected = createMatcher(["uploads/"]);
  return (path: string, isDir = false) =>
    path === ".siteloom" || path.startsWith(".siteloom/") || isProtected(path, isDir);
})();

interface Row {
  name: string;
  local?: ReturnType<typeof local>;
  remote: Manifest | undefined;
  journal?: JournalState;
  listing?: DeployListing;
  options?: Partial<DeployPlanOptions>;
  mode: "manifest" | "listing" | "purge";
  /** `path reason` per upload, in upload order. */
  uploads: string[];
  mkdirs?: string[];
  deletes?: string[];
  deleteDirs?: string[];
  temps?: string[];
  toHash?: string[];
  resumed?: number;
  notes?: string[];
}

const ROWS: Row[] = [
  {
    name: "empty remote, no manifest (first deploy): everything is missing, assets before pages before the sitemap",
    remote: undefined,
    listing: listing([]),
    mode: "listing",
    uploads: [
      "style.css missing on the server",
      "blog/post.html missing on the server",
      "index.html missing on the server",
      "sitemap.xml missing on the server",
    ],
    mkdirs: ["blog"],
  },
  {
    name: "manifest: a modified file is uploaded, unchanged ones are not, nothing deleted without --delete",
    remote: BASE,
    mode: "manifest",
    uploads: ["index.html changed"],
  },
  {
    name: "manifest with --delete: deleted files, then their folders",
    remote: BASE,
    options: { delete: true },
    mode: "manifest",
    uploads: ["index.html changed"],
    deletes: ["old/gone.txt"],
    deleteDirs: ["old"],
  },
  {
    name: "manifest: new files in a new folder, folders parents first",
    local: local([...LOCAL_FILES, file("a/b/new.css", "n1"), file("a/new.html", "n2")], ["blog", "a", "a/b"]),
    remote: BASE,
    mode: "manifest",
    uploads: ["a/b/new.css new", "a/new.html new", "index.html changed"],
    mkdirs: ["a", "a/b"],
  },
  {
    name: "manifest: a file of the same content but another size is uploaded",
    local: local([file("style.css", "css1", 99), ...LOCAL_FILES.slice(1)]),
    remote: BASE,
    mode: "manifest",
    uploads: ["style.css changed", "index.html changed"],
  },
  {
    name: "manifest: nothing changed is a plan with nothing in it",
    remote: manifest({ "style.css": "css1", "index.html": "home1", "blog/post.html": "post1", "sitemap.xml": "map1" }, [
      "blog",
    ]),
    options: { delete: true },
    mode: "manifest",
    uploads: [],
  },
  {
    name: "--delete never touches protected paths or the manifest folder",
    remote: manifest(
      {
        "style.css": "css1",
        "index.html": "home1",
        "blog/post.html": "post1",
        "sitemap.xml": "map1",
        "uploads/photo.jpg": "p",
        ".siteloom/manifest.json": "m",
      },
      ["blog", "uploads", ".siteloom"],
    ),
    options: { delete: true },
    mode: "manifest",
    uploads: [],
  },
  {
    name: "journal of a half-done run from the same manifest: its finished files are not uploaded again",
    remote: BASE,
    local: local([...LOCAL_FILES, file("blog/new.html", "new1")]),
    journal: journal({
      baseId: BASE.id,
      planned: ["index.html", "blog/new.html"],
      done: new Map([["blog/new.html", { kind: "done", path: "blog/new.html", size: 4, hash: "new1", mtime: T }]]),
    }),
    mode: "manifest",
    uploads: ["index.html changed"],
    temps: ["blog/.in.new.html.0badc0de"],
    resumed: 1,
    notes: ["resuming an interrupted deploy: 1 file(s) were already in place"],
  },
  {
    name: "journal: its deletions count as done, and temp files it does not resume are removed",
    remote: BASE,
    journal: journal({
      baseId: BASE.id,
      planned: ["index.html", "blog/post.html"],
      deleted: new Set(["old/gone.txt"]),
      temps: new Map([["blog/post.html", tempNameFor("blog/post.html", "0badc0de", "beef")]]),
      stale: new Set(["blog/.in.x.html.0badc0de"]),
    }),
    options: { delete: true },
    mode: "manifest",
    uploads: ["index.html changed"],
    deleteDirs: ["old"],
    temps: ["blog/.in.x.html.0badc0de", "blog/.in.post.html.0badc0de", "blog/.in.post.html.0badc0de-beef"],
  },
  {
    name: "journal of a run from another manifest: its done files are not trusted",
    remote: BASE,
    journal: journal({
      baseId: "other-0002",
      planned: ["index.html"],
      done: new Map([["index.html", { kind: "done", path: "index.html", size: 5, hash: "home1", mtime: T }]]),
    }),
    mode: "manifest",
    uploads: ["index.html changed"],
  },
  {
    name: "listing mode with --delete: sizes and times decide; strays deleted, leftover temps removed",
    remote: undefined,
    listing: listing(SERVER),
    options: { delete: true },
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)", "blog/post.html same size, older on the server"],
    deletes: ["stray.txt"],
    temps: [".in.index.html.0badc0de"],
  },
  {
    name: "listing mode: our own last deploy vouches for hashes when the server's manifest is not trusted",
    remote: undefined,
    listing: listing(SERVER),
    options: { lastDeployed: BASE },
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)", "index.html changed locally"],
    temps: [".in.index.html.0badc0de"],
  },
  {
    name: "listing mode: a server clock two hours behind ours makes the old-looking post current",
    remote: undefined,
    listing: listing(SERVER, -2 * 3_600_000),
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)"],
    temps: [".in.index.html.0badc0de"],
    notes: ["the server's clock is -120 min off ours: its file times are corrected"],
  },
  {
    name: "listing mode: a folder where a file should be, and a server without times",
    remote: undefined,
    listing: listing([
      item("style.css", 0, T, "dir"),
      item("index.html", 5, undefined),
      item("blog", 0, T, "dir"),
      item("blog/post.html", 5, T),
      item("sitemap.xml", 4, T),
    ]),
    mode: "listing",
    uploads: ["style.css the server has a dir there", "index.html same size, server reports no time"],
  },
  {
    name: "listing mode with --delete: a remote folder is deleted only when nothing is left in it",
    remote: undefined,
    listing: listing([
      ...SERVER.filter((i) => i.path !== "stray.txt" && !i.path.startsWith(".in.")),
      item("old", 0, T, "dir"),
      item("old/gone.txt", 1, T),
      item("empty", 0, T, "dir"),
      item("uploads", 0, T, "dir"),
      item("uploads/photo.jpg", 1, T),
    ]),
    options: { delete: true },
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)", "blog/post.html same size, older on the server"],
    deletes: ["old/gone.txt"],
    deleteDirs: ["old", "empty"],
  },
  {
    name: "--verify: what looks different is to be hashed first",
    remote: BASE,
    listing: listing(SERVER),
    options: { verify: true, delete: true },
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)", "index.html changed locally"],
    deletes: ["stray.txt"],
    temps: [".in.index.html.0badc0de"],
    toHash: [],
  },
  {
    name: "--verify without a manifest: the files no manifest vouches for are hashed, then the differing ones uploaded",
    remote: undefined,
    listing: { ...listing(SERVER), hashed: new Map([["sitemap.xml", true]]) },
    options: { verify: true },
    mode: "listing",
    uploads: ["style.css size differs (server 9 bytes)", "sitemap.xml content differs (hashed)"],
    temps: [".in.index.html.0badc0de"],
    toHash: ["index.html", "blog/post.html"],
  },
  {
    name: "purge: everything is uploaded, nothing is left to delete",
    remote: BASE,
    options: { purge: true, delete: true },
    mode: "purge",
    uploads: ["style.css new", "blog/post.html new", "index.html new", "sitemap.xml new"],
    mkdirs: ["blog"],
  },
];

describe("transfer: planDeploy", () => {
  it.each(ROWS)("$name", (row) => {
    const plan = planDeploy(row.local ?? local(), row.remote, row.journal, row.listing, {
      keepRemote,
      ...row.options,
    });
    expect({
      mode: plan.mode,
      uploads: plan.uploads.map((u) => `${u.file.path} ${u.reason}`),
      mkdirs: plan.mkdirs,
      deletes: plan.deletes,
      deleteDirs: plan.deleteDirs,
      temps: [...plan.tempsToRemove].sort(),
      toHash: plan.toHash.map((f) => f.path),
      resumed: plan.resumed,
      notes: plan.notes,
    }).toEqual({
      mode: row.mode,
      uploads: row.uploads,
      mkdirs: row.mkdirs ?? [],
      deletes: row.deletes ?? [],
      deleteDirs: row.deleteDirs ?? [],
      temps: [...(row.temps ?? [])].sort(),
      toHash: row.toHash ?? [],
      resumed: row.resumed ?? 0,
      notes: row.notes ?? [],
    });
  });

  it("gives each upload its phase, and plans the same twice from the same inputs", () => {
    const plan = planDeploy(local(), undefined, undefined, listing([]), { keepRemote });
    expect(plan.uploads.map((u) => `${u.phase} ${u.file.path}`)).toEqual([
      "assets style.css",
      "pages blog/post.html",
      "pages index.html",
      "indexes sitemap.xml",
    ]);
    expect(planDeploy(local(), undefined, undefined, listing([]), { keepRemote })).toEqual(plan);
  });

  it("keeps what the journal finished in the base it hands to the manifest, and leaves its inputs untouched", () => {
    const done = journal({
      baseId: BASE.id,
      planned: ["blog/new.html"],
      done: new Map([["deep/er/new.html", { kind: "done", path: "deep/er/new.html", size: 4, hash: "n", mtime: T }]]),
      deleted: new Set(["old/gone.txt"]),
    });
    const before = JSON.stringify(BASE);
    const plan = planDeploy(local(), BASE, done, undefined, { keepRemote });
    expect(plan.baseFiles.get("deep/er/new.html")?.hash).toBe("n");
    expect(plan.baseFiles.has("old/gone.txt")).toBe(false);
    expect([...plan.baseDirs].sort()).toEqual(["blog", "deep", "deep/er", "old"]);
    expect(JSON.stringify(BASE)).toBe(before);
  });
});
