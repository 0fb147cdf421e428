// The deploy manifest on the server: read it (or recognise it with one stat), and write a new one atomically.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { SiteloomError } from "../../errors.ts";
import type { RemoteEntry, RemoteFS, RemotePool } from "../types.ts";
import {
  DENY_ALL_HTACCESS,
  MANIFEST_FILE,
  type Manifest,
  type ParsedManifest,
  parseManifest,
  serializeManifest,
} from "./manifest.ts";
import { tempNameFor } from "./plan.ts";
import type { DeployState } from "./state.ts";

/**
 * Writes a new manifest to the server (temp name and rename; a deny-all .htaccess beside it the first time), then
 * into the target's state with the stamp that lets the next run recognise it with one stat. With `staged` (see
 * `stageManifest`) holding this very manifest, only its rename is left to do.
 */
export async function storeManifest(
  opts: ManifestWrite & { state: DeployState; staged?: StagedManifest | undefined },
): Promise<void> {
  const { staged } = opts;
  const written =
    staged?.entry !== undefined && staged.manifest === opts.manifest && !opts.firstTime
      ? await _commitStaged(opts, staged.temp, staged.entry)
      : // a manifest staged for another outcome was uploaded whole: its temp name is written over, unless that upload
        // broke (its server process may still be writing it)
        staged !== undefined && staged.entry === undefined
        ? await _writeRemoteManifest(opts, 1, [staged.temp])
        : await _writeRemoteManifest(opts);
  await opts.state.saveManifest(opts.manifest);
  await opts.state.saveStamp(opts.manifest.id, written);
}

/** A manifest uploaded to its temp name ahead of time (`stageManifest`), not yet renamed into place. */
export interface StagedManifest {
  manifest: Manifest;
  temp: string;
  /**
   * The temp file's size and server time (the manifest's after the rename, which keeps both); undefined when the upload
   * failed or its size is wrong.
   */
  entry: RemoteEntry | undefined;
}

/**
 * Uploads the manifest a run will write if everything goes as planned to its temp name and checks its size, while the
 * run's files still move: the slow part of writing it (a data connection, its bytes) leaves the end of the run, and
 * `storeManifest` only renames it. The temp name claims nothing; the manifest goes live only by that rename, made
 * once every file it names is in place. Never fails: a manifest that could not be staged is written at the end.
 */
export async function stageManifest(opts: ManifestWrite): Promise<StagedManifest> {
  const { manifest, pool } = opts;
  const temp = tempNameFor(`${opts.manifestDir}/${MANIFEST_FILE}`, opts.runId);
  const data = serializeManifest(manifest);
  const entry = await pool
    .run(async (fs) => {
      await fs.upload(Readable.from([data]), temp);
      const uploaded = await fs.stat(temp);
      return uploaded?.type === "file" && uploaded.size === data.length ? uploaded : undefined;
    })
    .catch(() => undefined);
  return { manifest, temp, entry };
}

/** A manifest to write into `manifestDir` on the server (`firstTime`: with the deny-all .htaccess beside it). */
export interface ManifestWrite {
  pool: RemotePool;
  site: string;
  runId: string;
  manifestDir: string;
  manifest: Manifest;
  firstTime: boolean;
}

/**
 * Reads the remote manifest, or returns "unchanged" when a stat shows it is still the file we last wrote or read
 * (same size and server time as recorded in the stamp, for the manifest id of our local copy): one round trip instead
 * of a download that grows with the site. Without a usable stamp it downloads, then records a stamp for next time.
 * A manifest rewritten by someone else changes its time (and almost surely its size), so it is downloaded.
 */
export async function readRemoteManifest(
  fs: RemoteFS,
  manifestFile: string,
  state: DeployState,
  site: string,
  local: Manifest | undefined,
): Promise<ParsedManifest | undefined> {
  const stamp = local ? await state.loadStamp() : undefined;
  if (local !== undefined && stamp?.id === local.id) {
    const now = await fs.stat(manifestFile);
    if (now?.type === "file" && now.size === stamp.size && now.mtime === stamp.mtime) {
      return { ok: true, manifest: local };
    }
  }
  const data = await fs.read(manifestFile);
  if (data === undefined) return undefined;
  const parsed = parseManifest(data, { site });
  // this manifest becomes our local copy (now, or after this run's changes replace it with a new stamp)
  if (parsed.ok && local !== undefined) {
    await state.saveStamp(parsed.manifest.id, await fs.stat(manifestFile).catch(() => undefined));
  }
  return parsed;
}

/** The server's reply or the error message, on one line. */
export function replyLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").trim();
}

// --- internal ---

/** The staged manifest renamed over the manifest; written again the usual way when that rename fails. */
async function _commitStaged(opts: ManifestWrite, temp: string, entry: RemoteEntry): Promise<RemoteEntry | undefined> {
  const target = `${opts.manifestDir}/${MANIFEST_FILE}`;
  const renamed = await opts.pool
    .run((fs) => fs.rename(temp, target))
    .then(
      () => true,
      () => false,
    );
  return renamed ? entry : _writeRemoteManifest(opts, 1, [temp]);
}

/**
 * Uploads the manifest to a temp name and renames it into place. `attempts`: 0 starts with the run's temp name, 1 with
 * a new one (a staged upload may have broken there, its server process still writing). `left`: temp copies known to
 * be left on the server (a staged one that could not be used), removed once the manifest is in place, with those of
 * failed attempts (errors ignored: a broken upload's server process may still hold one), so no full manifest copy
 * stays in the manifest folder, which the walk never lists; a round trip each, on those paths only.
 */
async function _writeRemoteManifest(
  opts: ManifestWrite,
  attempts = 0,
  left: string[] = [],
): Promise<RemoteEntry | undefined> {
  const { manifestDir, manifest, firstTime, runId } = opts;
  const target = `${manifestDir}/${MANIFEST_FILE}`;
  const data = serializeManifest(manifest);
  const tried: string[] = [];
  try {
    return await opts.pool.run(async (fs) => {
      // a retry writes a new temp file: the broken attempt's server process may still write the old one
      const tmp = tempNameFor(target, runId, attempts++ === 0 ? undefined : randomBytes(2).toString("hex"));
      tried.push(tmp);
      if (firstTime && (await fs.stat(`${manifestDir}/.htaccess`)) === undefined) {
        const htaccess = `${manifestDir}/.htaccess`;
        await fs.upload(Readable.from([Buffer.from(DENY_ALL_HTACCESS)]), tempNameFor(htaccess, runId));
        await fs.rename(tempNameFor(htaccess, runId), htaccess);
      }
      if (fs.put) await fs.put(Readable.from([data]), tmp, target, { expectedSize: data.length });
      else {
        await fs.upload(Readable.from([data]), tmp);
        await fs.rename(tmp, target);
      }
      // its size and time on the server: the next run's stat recognises it without downloading it
      const written = await fs.stat(target).catch(() => undefined);
      for (const temp of [...left, ...tried.slice(0, -1)]) await fs.remove(temp).catch(() => undefined);
      return written;
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `the files were deployed but the manifest could not be written to ${target}: ${replyLine(error)}; rerun the deploy`,
      { site: opts.site, cause: error },
    );
  }
}
