// One upload phase of a deploy (plan.ts `PHASES`): its files over the pool's connections, big ones first, the fast
// deferred-rename path where the backend has it, the plain path (apply-put-file.ts) otherwise.
import { join } from "node:path";
import { forEachLimit } from "../../concurrency.ts";
import type { LocalFile } from "../hash.ts";
import { type ApplyRun, progressCounts, RESUME_MIN_BYTES } from "./apply-context.ts";
import { freshTemp, putFile } from "./apply-put-file.ts";
import { withRetries } from "./apply-retry.ts";
import { compareNames, type Phase } from "./plan.ts";

/**
 * Uploads a phase: every file goes to a temp name, is checked and renamed into place, the pool's connections working
 * in parallel. Where the backend has `put` (FTP) that is a few pipelined round trips, and each rename rides in the
 * connection's next batch; the phase ends when every connection has sent its last rename.
 */
export async function uploadPhase(ctx: ApplyRun, phaseFiles: LocalFile[], phase: Phase): Promise<void> {
  // Big files first: a slow transfer starting last would keep the phase waiting at its end.
  const files = [...phaseFiles].sort((a, b) => b.size - a.size || compareNames(a.path, b.path));
  const placed: Promise<void>[] = [];
  const record = async (file: LocalFile, ok: boolean) => {
    if (ok) {
      await ctx.log.append({ kind: "done", path: file.path, size: file.size, hash: file.hash, mtime: file.mtime });
      ctx.result.stats.uploaded++;
      ctx.result.stats.bytes += file.size;
    }
    _phaseProgress(ctx, phase, files.length, file, ok);
  };
  let started = 0;
  // once every file of the phase has started, a connection that finishes one gets no other: it sends its rename now
  // rather than when the slowest file of the phase is done
  const lastOnConnection = () => started === files.length;
  await forEachLimit(files, ctx.pool.size, async (file) => {
    started++;
    const deferred = await _putDeferred(ctx, file, lastOnConnection);
    if (deferred === undefined) await record(file, await putFile(ctx, file));
    else placed.push(deferred.placed.then((ok) => record(file, ok)));
  });
  // the renames still pending on each connection, then what their outcomes set off (a re-upload when one failed)
  await ctx.pool.each(async (fs) => fs.flush?.()).catch(() => {});
  await Promise.all(placed);
}

// --- internal ---

/**
 * The fast path: an upload whose rename is deferred (`put` with `onPlaced`). Returns undefined when the backend or
 * the settings need the plain path (no `put`, hash verification, a large file that may need resuming); else `placed`, a
 * promise of whether the file ended in place. A failed or uncertain rename uploads the file again on the plain path.
 */
async function _putDeferred(
  ctx: ApplyRun,
  file: LocalFile,
  flushNow: () => boolean,
): Promise<{ placed: Promise<boolean> } | undefined> {
  const { options } = ctx;
  const verify = options.config.verify;
  // large files take the plain path, whose retries resume from what arrived
  // so do files whose previous version is moved aside first (two renames, back to back)
  if (verify === "hash" || file.size >= RESUME_MIN_BYTES || ctx.backupOf.has(file.path)) return undefined;
  const local = join(options.outputDir, ...file.path.split("/"));
  let settle: (ok: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const onPlaced = (error?: Error) => {
    if (error === undefined) settle(true);
    else void putFile(ctx, file).then(settle);
  };
  let plain = false;
  const sent = await withRetries(ctx, file.path, async (fs) => {
    // deferral needs `flush` to end the phase: a backend (or a wrapper) without it takes the plain path
    if (!fs.put || !fs.flush) {
      plain = true;
      return;
    }
    const tmp = await freshTemp(ctx, file.path);
    await fs.put(local, tmp, file.path, { ...(verify === "size" ? { expectedSize: file.size } : {}), onPlaced });
    // how the rename went reaches `onPlaced` either way; a broken session is found by the next one to use it
    if (flushNow()) await fs.flush().catch(() => {});
  });
  if (plain) return undefined;
  if (!sent) settle(false);
  return { placed: done };
}

function _phaseProgress(ctx: ApplyRun, phase: Phase, total: number, file: LocalFile, ok: boolean): void {
  const done = (ctx.phaseDone.get(phase) ?? 0) + 1;
  ctx.phaseDone.set(phase, done);
  ctx.progress({ ...progressCounts(ctx), phase, done, total, path: file.path, outcome: ok ? "uploaded" : "failed" });
}
