// The atomic upload of one file over FTP: STOR to a temporary name while the data connection opens, SIZE behind it,
// then RNFR/RNTO into place — sent at once, or left pending to ride in the connection's next batch (rename-batch.ts).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import type { TLSSocket } from "node:tls";
import { type Client, FTPError } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";
import { printablePath } from "../paths.ts";
import type { PutOptions } from "../types.ts";
import { isMissing } from "./errors.ts";
import { type FtpLister, sizeOf } from "./listing.ts";
import type { PassivePorts } from "./passive.ts";
import { okReply, type PipelinedReply, sendPipelined, storeTo } from "./pipeline.ts";
import type { RenameBatch } from "./rename-batch.ts";

/** What an upload works with: the session's connection and state. */
export interface FtpUploadContext {
  client: Client;
  features: Map<string, string>;
  passive: PassivePorts;
  renames: RenameBatch;
  lister: FtpLister;
  /** The server path of a path relative to the root. */
  full: (path: string, op: string) => string;
  /** The server path of a path relative to the backup root (`PutOptions.keepIn`), when the session has one. */
  backupFull?: ((path: string, op: string) => string) | undefined;
  /** The pinned-certificate check of data connections, if any. */
  checkData: ((socket: TLSSocket) => void) | undefined;
}

/** The `put` of one session (run by its serial queue, one at a time). */
export function createAtomicPut(
  ctx: FtpUploadContext,
): (source: string | Readable, temp: string, path: string, opts: PutOptions) => Promise<void> {
  const { client, features, passive, renames, lister, full } = ctx;

  /**
   * The atomic upload of one file: STOR to the temp name with SIZE behind it, then RNFR/RNTO — sent at once, or
   * (`onPlaced`) left pending to ride in this connection's next batch.
   */
  async function put(source: string | Readable, temp: string, path: string, opts: PutOptions): Promise<void> {
    const tempPath = full(temp, "upload");
    const target = full(path, "upload");
    // the previous upload's rename rides in this upload's first batch
    const rename = renames.take();
    let before = rename.commands;
    let port: number;
    try {
      const ahead = passive.take();
      if (ahead === undefined) {
        const replies = await sendPipelined(client.ftp, [...before, passive.next()]);
        rename.read(replies);
        before = [];
        port = await passive.get(replies.at(-1));
      } else port = ahead;
    } catch (error) {
      rename.fail(error);
      throw error;
    }
    // A small file is read in one go: cheaper than a stream (open, reads, close through the thread pool) per file.
    let input: string | Readable | Buffer = (typeof source === "string" && _readSmall(source)) || source;
    if (client.ftp.hasTLS && !Buffer.isBuffer(input)) input = await delayEmptyEnd(input);
    // SIZE rides behind STOR (the server answers it once the file is complete), then the next passive port.
    const sizeAfter = opts.expectedSize !== undefined && features.has("SIZE");
    const deferred = opts.onPlaced !== undefined;
    const after = [...(sizeAfter ? [`SIZE ${tempPath}`] : []), ...(deferred ? [passive.next()] : [])];
    let replies: PipelinedReply[];
    try {
      replies = await storeTo(client.ftp, input, `STOR ${tempPath}`, { port, before, after, checkData: ctx.checkData });
    } catch (error) {
      if (before.length > 0) rename.fail(error);
      throw error;
    }
    if (before.length > 0) rename.read(replies);
    const own = replies.slice(before.length);
    okReply(own[0], "STOR");
    if (deferred) passive.keep(own.at(-1));
    if (opts.expectedSize !== undefined) {
      const size = sizeAfter ? sizeOf(own[1]) : await lister.remoteSize(tempPath, temp);
      if (size !== opts.expectedSize) {
        throw new SiteloomError(
          "ERR_TRANSFER_IO",
          `size check failed after upload: the server has ${size ?? "no"} bytes, expected ${opts.expectedSize}`,
        );
      }
    }
    if (opts.onPlaced && opts.keepPrevious === undefined) {
      renames.defer(tempPath, target, opts.onPlaced);
      return;
    }
    const aside = opts.keepPrevious === undefined ? undefined : _asideFull(opts)(opts.keepPrevious, "rename");
    const moved = aside !== undefined && (await _moveAside(target, aside));
    const renamed = await sendPipelined(client.ftp, [`RNFR ${tempPath}`, `RNTO ${target}`, passive.next()]);
    try {
      okReply(renamed[0], "RNFR");
      okReply(renamed[1], "RNTO");
    } catch (error) {
      // the kept version goes back under its name: a failed file keeps its old version live
      if (moved) await sendPipelined(client.ftp, [`RNFR ${aside}`, `RNTO ${target}`]).catch(() => {});
      throw error;
    }
    passive.keep(renamed[2]);
  }

  function _asideFull(opts: PutOptions): (path: string, op: string) => string {
    if (opts.keepIn !== "backups") return full;
    if (ctx.backupFull === undefined)
      throw new SiteloomError("ERR_TRANSFER_IO", "ftp: this session has no backup root");
    return ctx.backupFull;
  }

  /** RNFR/RNTO of the version at `target` to `aside`; false when there was none (a missing file is not an error). */
  async function _moveAside(target: string, aside: string): Promise<boolean> {
    const [from, to] = await sendPipelined(client.ftp, [`RNFR ${target}`, `RNTO ${aside}`]);
    if (from instanceof FTPError && isMissing(from)) return false;
    okReply(from, "RNFR");
    okReply(to, "RNTO");
    return true;
  }

  return put;
}

/**
 * vsftpd (OpenSSL) answers a TLS data connection that closes right after its handshake with a "decode error" alert,
 * which kills the session: an empty upload must not end at once. Non-empty sources pass through unchanged.
 */
export async function delayEmptyEnd(source: string | Readable): Promise<string | Readable> {
  if (typeof source === "string") {
    const info = await stat(source);
    if (info.size > 0) return source;
    return Readable.from(_emptyAfter(_EMPTY_UPLOAD_DELAY_MS));
  }
  let seen = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (seen > 0) callback();
      else setTimeout(callback, _EMPTY_UPLOAD_DELAY_MS);
    },
  });
  source.on("error", (error) => out.destroy(error));
  return source.pipe(out);
}

/** Checks that the server holds exactly the first `startAt` bytes of an upload to resume. */
export async function checkResume(client: Client, target: string, startAt: number, path: string): Promise<void> {
  const size = await client.size(target).catch(() => -1);
  if (size !== startAt) {
    throw new SiteloomError(
      "ERR_TRANSFER_IO",
      `cannot resume the upload of "${printablePath(path)}" at byte ${startAt}: the server holds ${size < 0 ? "no such file" : `${size} bytes`}; upload it again from the start`,
    );
  }
}

// --- internal ---

async function* _emptyAfter(ms: number): AsyncGenerator<Buffer> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

const _EMPTY_UPLOAD_DELAY_MS = 100;

/** The whole file when it is small (up to `_INLINE_MAX_BYTES`, not empty), read through one descriptor. */
function _readSmall(path: string): Buffer | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size === 0 || size > _INLINE_MAX_BYTES) return undefined;
    const buffer = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return read === size ? buffer : buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Files up to this size are read whole before an upload instead of streamed. */
const _INLINE_MAX_BYTES = 1 << 20;
