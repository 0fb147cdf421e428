// One file's upload on the plain path: to a temp name (resuming a partial one when it can), checked, the previous
// version moved aside, renamed into place; and the temp names its attempts use.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SiteloomError } from "../../errors.ts";
import { hashFile, type LocalFile } from "../hash.ts";
import { isConnectionError, isMissingError } from "../pool.ts";
import type { RemoteFS } from "../types.ts";
import { type ApplyRun, RESUME_MIN_BYTES } from "./apply-context.ts";
import { withRetries } from "./apply-retry.ts";
import { type BackupFolder, backupFs, moveBackup } from "./backups.ts";
import { tempNameFor } from "./plan.ts";

/**
 * Uploads one file to its temp name (resuming a partial temp when possible), checks it (`deploy.verify`) and renames
 * it into place. Retried with backoff; a retry after a broken transfer of a large file resumes from what arrived.
 */
export async function putFile(ctx: ApplyRun, file: LocalFile): Promise<boolean> {
  const { options } = ctx;
  const local = join(options.outputDir, ...file.path.split("/"));
  const verify = options.config.verify;
  const large = file.size >= RESUME_MIN_BYTES;
  const carried = ctx.resumable.get(file.path);
  if (carried !== undefined) ctx.temps.set(file.path, { name: carried, used: true });
  let tryResume = carried !== undefined;
  return withRetries(ctx, file.path, async (fs) => {
    let startAt = 0;
    let tmp = ctx.temps.get(file.path)?.name;
    if (tryResume && tmp !== undefined) {
      const partial = await fs.stat(tmp).catch(() => undefined);
      if (partial?.type === "file" && partial.size > 0 && partial.size < file.size) startAt = partial.size;
    }
    tryResume = large; // a retry after a broken transfer resumes from what arrived
    // starting from byte 0 means a temp file no earlier attempt wrote to
    if (startAt === 0 || tmp === undefined) tmp = await freshTemp(ctx, file.path);
    const backup = ctx.backupOf.get(file.path);
    // In a new backup folder (not a resumed run's), a first attempt finds no backup of this file: it moves the
    // version there aside without asking the server first, in the same put.
    const firstAside = backup !== undefined && ctx.freshBackups && !ctx.asideTried.has(backup);
    if (backup !== undefined) ctx.asideTried.add(backup);
    if (startAt === 0 && fs.put && verify !== "hash" && (backup === undefined || firstAside)) {
      await fs.put(local, tmp, file.path, {
        ...(verify === "size" ? { expectedSize: file.size } : {}),
        ...(backup !== undefined ? { keepPrevious: backup, keepIn: ctx.backup?.outside ? "backups" : "root" } : {}),
      });
      return;
    }
    await (startAt > 0 ? fs.upload(local, tmp, { startAt }) : fs.upload(local, tmp)).catch((error: unknown) => {
      // a server that refuses to append (ProFTPD without AllowStoreRestart): the retry sends the whole file
      if (startAt > 0 && !isConnectionError(error)) tryResume = false;
      throw error;
    });
    if (startAt > 0) ctx.result.notes.push(`${file.path}: resumed at byte ${startAt}`);
    // a resumed file is always measured: a server that took REST but wrote from byte 0 shows here
    if (verify !== "none" || startAt > 0) {
      const st = await fs.stat(tmp);
      if (st === undefined || st.size !== file.size) {
        tryResume = false;
        throw new SiteloomError(
          "ERR_TRANSFER_IO",
          `size check failed after upload: the server has ${st?.size ?? "no"} bytes, expected ${file.size}`,
        );
      }
    }
    if (verify === "hash") {
      const copy = join(tmpdir(), `siteloom-verify-${ctx.runId}-${randomBytes(4).toString("hex")}`);
      try {
        await fs.download(tmp, copy);
        if ((await hashFile(copy)) !== file.hash) {
          tryResume = false;
          throw new SiteloomError("ERR_TRANSFER_IO", "hash check failed after upload: the server's copy differs");
        }
      } finally {
        await rm(copy, { force: true });
      }
    }
    const folder = ctx.backup;
    const moved = backup !== undefined && folder !== undefined && (await _keepPrevious(fs, folder, file.path, backup));
    await fs.rename(tmp, file.path).catch(async (error: unknown) => {
      // the previous version goes back under its name: a failed file keeps its old version live
      if (moved) await moveBackup(fs, folder!, file.path, backup, true).catch(() => {});
      throw error;
    });
  }).then(async (ok) => {
    // out of tries with the previous version set aside (a broken connection): put it back, when nothing took its place
    const backup = ctx.backupOf.get(file.path);
    const folder = ctx.backup;
    if (!ok && backup !== undefined && folder !== undefined) {
      await ctx.pool
        .run(async (fs) => {
          if ((await fs.stat(file.path)) === undefined && (await backupFs(fs, folder).stat(backup)) !== undefined) {
            await moveBackup(fs, folder, file.path, backup, true);
          }
        })
        .catch(() => {});
    }
    return ok;
  });
}

/**
 * The temp name for an upload attempt that starts from byte 0: the file's first name while nothing has written to it,
 * else a new one (`tempNameFor` with a tag), journalled so that a rerun removes it. The earlier one is stale: a server
 * process of the broken attempt may still be writing it, and would go on writing into the file after a rename.
 */
export async function freshTemp(ctx: ApplyRun, path: string): Promise<string> {
  const current = ctx.temps.get(path) ?? { name: tempNameFor(path, ctx.runId), used: ctx.earlier.has(path) };
  if (!current.used) {
    ctx.temps.set(path, { name: current.name, used: true });
    return current.name;
  }
  const name = tempNameFor(path, ctx.runId, randomBytes(2).toString("hex"));
  ctx.stale.push(current.name);
  ctx.temps.set(path, { name, used: true });
  await ctx.log.append({ kind: "temp", path, temp: name });
  return name;
}

// --- internal ---

/**
 * Moves the version on the server aside into the backup folder, just before the new one is renamed over its name.
 * A backup an earlier attempt of this run made is kept (the file there now may already be the new one), and a file
 * missing on the server has nothing to keep. True when it moved the file.
 */
async function _keepPrevious(fs: RemoteFS, folder: BackupFolder, path: string, backup: string): Promise<boolean> {
  if ((await backupFs(fs, folder).stat(backup)) !== undefined) return false;
  return moveBackup(fs, folder, path, backup).then(
    () => true,
    (error: unknown) => {
      if (!isMissingError(error)) throw error;
      return false;
    },
  );
}
