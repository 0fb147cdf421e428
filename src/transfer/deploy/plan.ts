import ignore from "ignore";
import type { LocalFile } from "../hash.ts";
import type { RemoteTree } from "../walk.ts";
import type { JournalState } from "./journal.ts";
import type { Manifest, ManifestEntry } from "./manifest.ts";

/** Upload phases, in order: a visitor never gets a page whose assets are missing, or a sitemap naming a missing page. */
export const PHASES = ["assets", "pages", "indexes"] as const;
export type Phase = (typeof PHASES)[number];

/** Which phase a file is uploaded in. */
export function phaseOf(path: string): Phase {
  const name = (path.split("/").at(-1) ?? path).toLowerCase();
  if (
    name === "robots.txt" ||
    /^sitemap[^/]*\.xml(\.gz)?$/.test(name) ||
    /\.(rss|atom)$/.test(name) ||
    /^(feed|rss|atom|index)\.(xml|json)$/.test(name) ||
    name === "feed.json"
  ) {
    return name === "index.json" ? "assets" : "indexes";
  }
  if (/\.(html?|xhtml|shtml|php)$/.test(name)) return "pages";
  return "assets";
}

/**
 * Temp names: `.in.<name>.<runId>`, the 8 hex characters shared by one run so a rerun can find its partial files,
 * and `-<tag>` (4 hex) on an attempt that had to start again in a new file (see `tempNameFor`).
 */
export const TEMP_NAME = /^\.in\..+\.[0-9a-f]{8}(?:-[0-9a-f]{4})?$/;

/**
 * `dir/.in.<name>.<runId>[-<tag>]`: the temp name a file is uploaded to before the rename over its final name. An
 * attempt that starts from byte 0 again takes a new tag: a server process of the broken attempt may still be writing
 * the old temp file (and would keep writing into it after a rename), so that file is only ever resumed or removed.
 */
export function tempNameFor(path: string, runId: string, tag?: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "" : path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  return `${dir}.in.${name}.${runId}${tag === undefined ? "" : `-${tag}`}`;
}

/** Whether a remote name is one of our temp files (left over by a crash). */
export function isTempName(path: string): boolean {
  return TEMP_NAME.test(path.split("/").at(-1) ?? path);
}

/** gitignore-style matcher: `matches(path, isDir)`. */
export function createMatcher(patterns: readonly string[]): (path: string, isDir?: boolean) => boolean {
  const ig = ignore().add([...patterns]);
  return (path, isDir = false) => path !== "" && ig.ignores(isDir ? `${path}/` : path);
}

/** Parent directories of a path, outermost first ("a/b/c.txt" → ["a", "a/b"]). */
export function parentsOf(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** Normalises `deploy.manifestPath` to a relative folder ("./.siteloom/" → ".siteloom"). */
export function normaliseManifestDir(value: string): string | undefined {
  const trimmed = value.replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed.startsWith("/") || trimmed.split("/").includes("..")) return undefined;
  return trimmed;
}

/** The local side of a deploy: the scanned output tree, its directories without the manifest folder. */
export interface DeployLocalTree {
  files: ReadonlyMap<string, LocalFile>;
  dirs: readonly string[];
}

/** What a listing of the server tells, in listing mode (no trustworthy manifest, or `--verify`). */
export interface DeployListing {
  /** The server's tree (without the manifest folder). */
  remote: Pick<RemoteTree, "files" | "dirs">;
  /** The server's clock minus ours, ms: server file times are corrected by it. @default 0 */
  offset?: number;
  /** `--verify`: the files downloaded and hashed so far, true where the server's copy differs. */
  hashed?: ReadonlyMap<string, boolean>;
}

export interface DeployPlanOptions {
  /** Whether a path (a directory with `isDir`) is kept on the server whatever happens: the manifest folder, `protect`. */
  keepRemote: (path: string, isDir?: boolean) => boolean;
  /** Delete remote files that are not in output/. */
  delete?: boolean;
  /** `--verify`: a file that looks different on the server (listing mode) is downloaded and hashed. */
  verify?: boolean;
  /** The server was emptied first: everything is uploaded. */
  purge?: boolean;
  /** Our own last deploy (the state copy of the manifest): vouches for content hashes when the server's is not trusted. */
  lastDeployed?: Manifest | undefined;
}

/** One file to upload, in its phase. */
export interface PlannedUpload {
  file: LocalFile;
  phase: Phase;
  /** Why it is uploaded ("new", "changed", "size differs (server 10 bytes)", …). */
  reason: string;
}

/** What a deploy does, as a plain value: made by `planDeploy`, carried out by `applyDeploy`. */
export interface DeployPlan {
  /** From the manifest alone, from a listing of the server, or after a purge. */
  mode: "manifest" | "listing" | "purge";
  /** Notes for the report (a resumed run, a server clock that is off). */
  notes: string[];
  /** Files an interrupted run (the journal) already put in place. */
  resumed: number;
  /** What the server holds before this run as far as the manifest and the journal say (after a purge: nothing). */
  baseFiles: Map<string, ManifestEntry>;
  baseDirs: Set<string>;
  /** Uploads, assets before pages before indexes, by path within a phase. */
  uploads: PlannedUpload[];
  /** Directories to create, parents first. */
  mkdirs: string[];
  /** Files to delete, then directories to delete (deepest first). */
  deletes: string[];
  deleteDirs: string[];
  /** Temp files of an interrupted run that this run does not resume, and leftover temp files on the server. */
  tempsToRemove: string[];
  /** `--verify`: files whose server copy must be hashed before the plan is final (then planned again with `hashed`). */
  toHash: LocalFile[];
}

/**
 * The plan of a deploy, from the local tree, the server's manifest (`undefined`: none to trust), the journal of an
 * interrupted run and, in listing mode, a listing of the server. Pure: no I/O, the same inputs give the same plan.
 */
export function planDeploy(
  local: DeployLocalTree,
  remoteManifest: Manifest | undefined,
  journal: JournalState | undefined,
  listing: DeployListing | undefined,
  options: DeployPlanOptions,
): DeployPlan {
  const { keepRemote } = options;
  const base = remoteManifest;
  const notes: string[] = [];
  // a journal left by an interrupted run: its finished files are on the server already
  const baseFiles = new Map<string, ManifestEntry>(Object.entries(base?.files ?? {}));
  const baseDirs = new Set(base?.dirs ?? []);
  let resumed = 0;
  if (journal !== undefined && journal.header.baseId === base?.id) {
    for (const [path, done] of journal.done) {
      baseFiles.set(path, { size: done.size, hash: done.hash, mtime: done.mtime });
      for (const parent of parentsOf(path)) baseDirs.add(parent);
      resumed++;
    }
    for (const path of journal.deleted) baseFiles.delete(path);
    if (resumed > 0) notes.push(`resuming an interrupted deploy: ${resumed} file(s) were already in place`);
  }
  const mode: DeployPlan["mode"] = options.purge ? "purge" : listing !== undefined ? "listing" : "manifest";
  if (mode === "purge") {
    baseFiles.clear();
    baseDirs.clear();
  }
  const uploads: { file: LocalFile; reason: string }[] = [];
  const mkdirs: string[] = [];
  const deletes: string[] = [];
  const deleteDirs: string[] = [];
  const tempsToRemove: string[] = [];
  const toHash: LocalFile[] = [];
  if (mode === "listing" && listing !== undefined) {
    const { remote } = listing;
    const offset = listing.offset ?? 0;
    if (offset !== 0) {
      notes.push(`the server's clock is ${Math.round(offset / 60_000)} min off ours: its file times are corrected`);
    }
    const finishedAt = base ? Date.parse(base.finishedAt) + offset : Number.NaN;
    // without a trustworthy remote manifest, our own last deploy (state copy) still vouches for content hashes
    const vouch = base === undefined ? new Map(Object.entries(options.lastDeployed?.files ?? {})) : baseFiles;
    for (const file of local.files.values()) {
      const r = remote.files.get(file.path) ?? remote.dirs.get(file.path);
      const known = vouch.get(file.path);
      if (r === undefined) uploads.push({ file, reason: "missing on the server" });
      else if (r.type !== "file") uploads.push({ file, reason: `the server has a ${r.type} there` });
      else if (r.size !== file.size) uploads.push({ file, reason: `size differs (server ${r.size} bytes)` });
      else if (known !== undefined && known.hash !== file.hash) uploads.push({ file, reason: "changed locally" });
      else if (options.verify) {
        // "looks different": no manifest entry to vouch for it, or touched on the server after the last deploy
        const touched = r.mtime !== undefined && Number.isFinite(finishedAt) && r.mtime > finishedAt + 120_000;
        if (known === undefined || touched) {
          const differs = listing.hashed?.get(file.path);
          if (differs === undefined) toHash.push(file);
          else if (differs) uploads.push({ file, reason: "content differs (hashed)" });
        }
      } else if (known === undefined && r.mtime !== undefined && !_notOlder(r.mtime, file.mtime + offset)) {
        uploads.push({ file, reason: "same size, older on the server" });
      } else if (known === undefined && r.mtime === undefined) {
        uploads.push({ file, reason: "same size, server reports no time" });
      }
    }
    for (const dir of local.dirs) if (!remote.dirs.has(dir)) mkdirs.push(dir);
    for (const [path, item] of remote.files) {
      if (isTempName(path)) tempsToRemove.push(path);
      else if (options.delete && !local.files.has(path) && !keepRemote(path) && !underKept(path, keepRemote)) {
        if (item.type === "file" || item.type === "symlink") deletes.push(path);
      }
    }
    if (options.delete) {
      const localDirs = new Set(local.dirs);
      for (const dir of remote.dirs.keys()) {
        if (!localDirs.has(dir) && !keepRemote(dir, true) && !underKept(dir, keepRemote)) {
          const still = [...remote.files.keys()].some(
            (p) => p.startsWith(`${dir}/`) && !deletes.includes(p) && !isTempName(p),
          );
          if (!still) deleteDirs.push(dir);
        }
      }
    }
  } else {
    for (const file of local.files.values()) {
      const known = baseFiles.get(file.path);
      if (known === undefined) uploads.push({ file, reason: "new" });
      else if (known.hash !== file.hash || known.size !== file.size) uploads.push({ file, reason: "changed" });
    }
    for (const dir of local.dirs) if (!baseDirs.has(dir)) mkdirs.push(dir);
    if (options.delete) {
      for (const path of baseFiles.keys()) {
        if (!local.files.has(path) && !keepRemote(path) && !underKept(path, keepRemote)) deletes.push(path);
      }
      const localDirs = new Set(local.dirs);
      for (const dir of baseDirs) {
        if (!localDirs.has(dir) && !keepRemote(dir, true) && !underKept(dir, keepRemote)) deleteDirs.push(dir);
      }
    }
  }
  // temp files of an interrupted run that this run does not resume
  const uploadPaths = new Set(uploads.map((u) => u.file.path));
  if (journal !== undefined) {
    tempsToRemove.push(...journal.stale);
    for (const path of journal.header.planned) {
      const first = tempNameFor(path, journal.header.runId);
      const current = journal.temps.get(path) ?? first;
      if (current !== first) tempsToRemove.push(first);
      // an upload of this run starts from its temp file (resumed) or moves away from it (a fresh temp name)
      if (!uploadPaths.has(path)) tempsToRemove.push(current);
    }
  }
  mkdirs.sort(byDepth);
  deleteDirs.sort((a, b) => byDepth(b, a));
  const phaseRank = new Map(uploads.map((u) => [u.file.path, PHASES.indexOf(phaseOf(u.file.path))]));
  uploads.sort(
    (a, b) => phaseRank.get(a.file.path)! - phaseRank.get(b.file.path)! || compareNames(a.file.path, b.file.path),
  );
  return {
    mode,
    notes,
    resumed,
    baseFiles,
    baseDirs,
    uploads: uploads.map((u) => ({ ...u, phase: PHASES[phaseRank.get(u.file.path)!]! })),
    mkdirs,
    deletes,
    deleteDirs,
    tempsToRemove,
    toHash,
  };
}

/** Whether a path lies under a kept (protected) directory. */
export function underKept(path: string, keep: (p: string, isDir?: boolean) => boolean): boolean {
  return parentsOf(path).some((dir) => keep(dir, true));
}

/** Shallower paths first, then by name. */
export function byDepth(a: string, b: string): number {
  return a.split("/").length - b.split("/").length || compareNames(a, b);
}

/** Code-unit order of names (the same on every machine, unlike localeCompare). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- internal ---

/** Whether a server time is not older than a local one; LIST times without seconds are compared by the minute. */
function _notOlder(remote: number, local: number): boolean {
  if (remote >= local) return true;
  return remote % 60_000 === 0 && remote >= Math.floor(local / 60_000) * 60_000;
}
