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
 * into the target's state with the stamp that lets the next run recognise it with one stat.
 */
export async function storeManifest(opts: ManifestWrite & { state: DeployState }): Promise<void> {
  const written = await _writeRemoteManifest(opts);
  await opts.state.saveManifest(opts.manifest);
  await opts.state.saveStamp(opts.manifest.id, written);
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

async function _writeRemoteManifest(opts: ManifestWrite): Promise<RemoteEntry | undefined> {
  const { manifestDir, manifest, firstTime, runId } = opts;
  const target = `${manifestDir}/${MANIFEST_FILE}`;
  const data = serializeManifest(manifest);
  let attempts = 0;
  try {
    return await opts.pool.run(async (fs) => {
      // a retry writes a new temp file: the broken attempt's server process may still write the old one
      const tmp = tempNameFor(target, runId, attempts++ === 0 ? undefined : randomBytes(2).toString("hex"));
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
      return fs.stat(target).catch(() => undefined);
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `the files were deployed but the manifest could not be written to ${target}: ${replyLine(error)}; rerun the deploy`,
      { site: opts.site, cause: error },
    );
  }
}
