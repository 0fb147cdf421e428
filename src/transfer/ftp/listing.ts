// Directory listings and stat over FTP: the fast listing (CWD and the list command sent as the data connection opens,
// on a port asked for ahead), basic-ftp's listing as the fallback, MLST or SIZE+MDTM for a single file, and the
// dates of MLSx facts and Unix LIST lines. Every entry goes through the listing filter of paths.ts.

import { Writable } from "node:stream";
import { type Client, type FileInfo, FileType, FTPError, parseList } from "basic-ftp";
import { filterListing, joinRemote, printablePath, splitRemotePath, type UnsafeEntryHandler } from "../paths.ts";
import { isConnectionError } from "../pool.ts";
import type { RemoteEntry } from "../types.ts";
import type { FtpRetrieve } from "./download.ts";
import { isMissing } from "./errors.ts";
import { listingTooLarge } from "./listing-limit.ts";
import type { PassivePorts } from "./passive.ts";
import { okReply, type PipelinedReply, type PipeliningMode, sendPipelined } from "./pipeline.ts";
import type { StatLister } from "./stat-listing.ts";

/** Bytes of one directory listing at most (about 100,000 entries); a larger one is refused while it streams. */
export const LISTING_MAX_BYTES = 16 * 1024 * 1024;

/** What a lister works with: the session's connection and state. */
export interface FtpListerContext {
  client: Client;
  features: Map<string, string>;
  /** The absolute server directory of the site. */
  root: string;
  label: string;
  passive: PassivePorts;
  /** The pipelining mode now ("off": no fast listing). */
  pipeliningNow: () => PipeliningMode;
  /** The session's retriever (download.ts): the list command runs through it. */
  fetch: FtpRetrieve;
  onUnsafe: UnsafeEntryHandler | undefined;
  /** The session's STAT lister (stat-listing.ts), shared by the views of one connection: probed once. */
  statLister: StatLister;
}

export interface FtpLister {
  /** The checked entries of `dir` (relative to the root). */
  list(dir: string): Promise<RemoteEntry[]>;
  /**
   * The checked entries of several folders, in one round trip where the server lists over the control connection
   * (undefined when this session does not: list them one by one); `run` wraps each folder's work (its errors). A
   * folder that cannot be listed is a rejected result of its own.
   */
  listMany(
    dirs: readonly string[],
    run: <T>(dir: string, fn: () => Promise<T>) => Promise<T>,
  ): Promise<PromiseSettledResult<RemoteEntry[]>[] | undefined>;
  /**
   * stat without a listing: MLST where the server has it, else SIZE + MDTM for plain files. Returns null when only a
   * listing can tell (directories and symlinks on LIST-only servers, symlinks whose target MLST does not give).
   */
  quickStat(target: string, name: string): Promise<RemoteEntry | undefined | null>;
  /** Size of a file on the server without SIZE: MLST, else its directory's listing. */
  remoteSize(target: string, path: string): Promise<number | undefined>;
}

/** The lister of one session; it also reports the listing lines basic-ftp drops to `onUnsafe`. */
export function createFtpLister(ctx: FtpListerContext): FtpLister {
  const { client, label } = ctx;
  // Lines of a listing that basic-ftp drops without a word (a '/' inside an MLSD name, a line it cannot read) are
  // reported like every other refused entry.
  let listing: string | undefined;
  client.parseList = (text: string) => {
    const parsed = parseList(text);
    if (listing !== undefined) _reportDropped(text, parsed, listing, ctx.onUnsafe);
    return parsed;
  };

  /**
   * The listing of `target` in the round trips of a download: CWD and the list command sent together as the data
   * connection opens, on the port asked for behind the previous transfer (download.ts), the text read into memory
   * (within LISTING_MAX_BYTES) and parsed. A refused CWD throws its reply: what the list command sent then was the
   * listing of another directory, and it is dropped unread. Undefined when the server refused the list command
   * (basic-ftp then tries the others, one at a time).
   */
  async function listFast(target: string, dir: string): Promise<FileInfo[] | undefined> {
    const command = client.availableListCommands[0];
    if (command === undefined || ctx.pipeliningNow() === "off") return undefined;
    let chunks: Buffer[] = [];
    const sink = () => {
      chunks = [];
      let bytes = 0;
      return new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          if (bytes > LISTING_MAX_BYTES) {
            done(listingTooLarge(label, `the listing of "${printablePath(dir)}"`, LISTING_MAX_BYTES));
            return;
          }
          chunks.push(chunk);
          done();
        },
      });
    };
    const [cwd, reply] = await ctx.fetch(command, sink, [`CWD ${target}`]);
    okReply(cwd, "CWD");
    if (reply instanceof FTPError && !isMissing(reply)) return undefined;
    okReply(reply, command);
    listing = splitRemotePath(dir).join("/");
    return client.parseList(Buffer.concat(chunks).toString(client.ftp.encoding));
  }

  const { statLister } = ctx;

  /**
   * The listings of `dirs` over the control connection (stat-listing.ts), for servers without MLSD: one round trip
   * for them all. Per folder: its parsed listing, the refusal of its CWD, or undefined (list it over a data
   * connection); undefined for all when the session does not list that way.
   */
  async function listStat(dirs: readonly string[]): Promise<(FileInfo[] | FTPError | undefined)[] | undefined> {
    if (client.availableListCommands[0] === "MLSD" || ctx.pipeliningNow() === "off") return undefined;
    const targets = dirs.map((dir) => joinRemote(ctx.root, dir, "list"));
    const results = await statLister.list(targets, dirs);
    return results?.map((result, i) => {
      if (result === undefined || "refused" in result) return result?.refused;
      listing = splitRemotePath(dirs[i] ?? "").join("/");
      // STAT lines end at CR LF only: a line with a bare LF holds a name with one, whose parts basic-ftp (which
      // splits at LF) would read as lines, or entries, of their own
      const split = result.lines.filter((line) => line.includes("\n"));
      for (const line of split) {
        ctx.onUnsafe?.({
          dir: listing,
          name: printablePath(line.slice(0, _SHOWN_NAME_MAX)),
          reason: "a line feed inside a name",
        });
      }
      const whole = split.length > 0 ? result.lines.filter((line) => !line.includes("\n")) : result.lines;
      return client.parseList(whole.join("\n"));
    });
  }

  /** The listing of `dir` over a data connection: the fast listing, else basic-ftp's. */
  async function listData(dir: string): Promise<FileInfo[]> {
    const target = joinRemote(ctx.root, dir, "list");
    // CWD then a bare listing: LIST arguments with spaces are parsed differently by every server.
    const fast = await listFast(target, dir);
    // basic-ftp's listing asks for a port of its own, which closes the one asked for ahead
    if (fast === undefined) {
      ctx.passive.drop();
      await client.cd(target);
    }
    listing = splitRemotePath(dir).join("/");
    return (
      fast ??
      (await client.list().catch((error: unknown) => {
        if (error instanceof Error && /Maximum bytes exceeded/.test(error.message)) {
          throw listingTooLarge(label, `the listing of "${printablePath(dir)}"`, LISTING_MAX_BYTES);
        }
        throw error;
      }))
    );
  }

  /**
   * The checked entries of a parsed listing of `dir`; `enter`: the session is not in `dir` (a listing by STAT in a
   * batch), should the link targets have to be listed.
   */
  async function entriesOf(dir: string, raw: FileInfo[], enter: boolean): Promise<RemoteEntry[]> {
    const mapped = raw.map(_toEntry).filter((entry): entry is RemoteEntry => entry !== undefined);
    if (mapped.some((entry) => entry.type === "symlink" && !entry.target)) {
      // MLSD (pure-ftpd: "type=OS.unix=slink:") may omit link targets; LIST shows "name -> target".
      const saved = client.availableListCommands;
      client.availableListCommands = ["LIST -a", "LIST"];
      ctx.passive.drop();
      try {
        listing = undefined; // reported once, by the first listing
        if (enter) await client.cd(joinRemote(ctx.root, dir, "list"));
        const targets = new Map((await client.list()).map((info) => [info.name, info.link]));
        for (const entry of mapped) {
          const link = targets.get(entry.name);
          if (entry.type === "symlink" && link) entry.target = link;
        }
      } finally {
        client.availableListCommands = saved;
      }
    }
    const relDir = splitRemotePath(dir).join("/");
    return filterListing(mapped, { root: ctx.root, dir: relDir, onUnsafe: ctx.onUnsafe });
  }

  async function list(dir: string): Promise<RemoteEntry[]> {
    const [raw] = (await listStat([dir])) ?? [];
    if (raw instanceof FTPError) throw raw;
    return raw ? entriesOf(dir, raw, false) : entriesOf(dir, await listData(dir), false);
  }

  /** The listings of `dirs`, each a result of its own (a folder that cannot be listed fails alone). */
  async function listMany(
    dirs: readonly string[],
    run: <T>(dir: string, fn: () => Promise<T>) => Promise<T>,
  ): Promise<PromiseSettledResult<RemoteEntry[]>[] | undefined> {
    const raws = await listStat(dirs);
    // over data connections, one call per folder lists as fast and lets the caller stop in between
    if (raws === undefined) return undefined;
    const results: PromiseSettledResult<RemoteEntry[]>[] = [];
    for (const [i, dir] of dirs.entries()) {
      const raw = raws?.[i];
      try {
        const value = await run(dir, async () => {
          if (raw instanceof FTPError) throw raw;
          return raw ? entriesOf(dir, raw, dirs.length > 1) : entriesOf(dir, await listData(dir), false);
        });
        results.push({ status: "fulfilled", value });
      } catch (reason) {
        // the session is lost: the whole batch fails, and the pool runs it again on a fresh one
        if (isConnectionError(reason)) throw reason;
        results.push({ status: "rejected", reason });
      }
    }
    return results;
  }

  const quickStat = (target: string, name: string) => _quickStat(client, ctx.features, target, name);

  return {
    list,
    listMany,
    quickStat,
    async remoteSize(target, path) {
      const segments = splitRemotePath(path, "stat");
      const name = segments.pop() ?? "";
      const quick = await quickStat(target, name);
      if (quick !== null) return quick?.size;
      return (await list(segments.join("/"))).find((entry) => entry.name === name)?.size;
    },
  };
}

/** "213 10011" → 10011; undefined for an error reply (no such file). */
export function sizeOf(reply: PipelinedReply | undefined): number | undefined {
  if (reply === undefined || reply instanceof FTPError) return undefined;
  const match = /^213\s+(\d+)/.exec(reply.message.trim());
  return match ? Number(match[1]) : undefined;
}

// --- internal ---

async function _quickStat(
  client: Client,
  features: Map<string, string>,
  target: string,
  name: string,
): Promise<RemoteEntry | undefined | null> {
  if (features.has("MLST")) {
    let message: string;
    try {
      message = (await client.send(`MLST ${target}`)).message;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const line = message.split(/\r?\n/).find((l) => l.startsWith(" ") && l.includes("="));
    if (line === undefined) return null;
    const facts = new Map<string, string>();
    for (const fact of line.trim().split(";")) {
      const eq = fact.indexOf("=");
      if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
    }
    const type = (facts.get("type") ?? "").toLowerCase();
    const mtime = _parseMlsxTime(facts.get("modify"));
    if (type === "file") return { name, type: "file", size: Number(facts.get("size") ?? 0), mtime };
    if (type === "dir" || type === "cdir") return { name, type: "dir", size: 0, mtime };
    return null;
  }
  if (!features.has("SIZE")) return null;
  // SIZE and MDTM in one round trip (pipelined)
  const withTime = features.has("MDTM");
  const [sizeReply, timeReply] = await sendPipelined(client.ftp, [
    `SIZE ${target}`,
    ...(withTime ? [`MDTM ${target}`] : []),
  ]);
  // a directory, a missing file, or SIZE refused: ask the listing
  const size = sizeOf(sizeReply);
  if (size === undefined) return null;
  const mtime =
    timeReply === undefined || timeReply instanceof FTPError
      ? undefined
      : _parseMlsxTime(/^213\s+(\S+)/.exec(timeReply.message.trim())?.[1]);
  return { name, type: "file", size, mtime };
}

/** MLSx "modify" fact: YYYYMMDDHHMMSS[.sss], UTC. */
function _parseMlsxTime(fact: string | undefined): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?$/.exec(fact ?? "");
  if (!match) return undefined;
  const [, y, mo, d, h, mi, sec, frac] = match;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
}

/** Listing lines basic-ftp left out (it drops MLSD names with a '/' and lines it cannot parse), to `onUnsafe`. */
function _reportDropped(
  text: string,
  parsed: readonly FileInfo[],
  dir: string,
  onUnsafe: UnsafeEntryHandler | undefined,
): void {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "" && !/^total\b/.test(line));
  if (onUnsafe === undefined || lines.length <= parsed.length) return;
  const names = new Set(parsed.map((info) => info.name));
  let unreadable = 0;
  for (const line of lines) {
    // MLSD: "fact=value;fact=value; name"
    const mlsd = _MLSD_LINE.exec(line);
    if (mlsd === null) {
      if (!/ \.\.?$/.test(line)) unreadable++;
      continue;
    }
    const name = mlsd[2] ?? "";
    if (/type=[cp]dir/i.test(mlsd[1] ?? "") || names.has(name) || name === "." || name === "..") continue;
    const reason = name.includes("/") ? "a '/' inside a name" : "a name the FTP library cannot read";
    onUnsafe({ dir, name: printablePath(name.slice(0, _SHOWN_NAME_MAX)), reason });
  }
  // LIST lines: those the parser kept are not told apart from the others cheaply (in an MLSD listing, none was kept)
  if (!lines.some((line) => _MLSD_LINE.test(line))) unreadable -= parsed.length;
  if (unreadable > 0) onUnsafe({ dir, name: "*", reason: `${unreadable} listing line(s) that cannot be read` });
}

const _MLSD_LINE = /^(\S*=\S*;) (.*)$/;

/** Characters of a refused name shown at most. */
const _SHOWN_NAME_MAX = 200;

function _toEntry(info: FileInfo): RemoteEntry | undefined {
  const type =
    info.type === FileType.File
      ? "file"
      : info.type === FileType.Directory
        ? "dir"
        : info.type === FileType.SymbolicLink
          ? "symlink"
          : undefined;
  if (type === undefined) return undefined;
  const mtime = info.modifiedAt?.getTime() ?? _parseListDate(info.rawModifiedAt);
  const entry: RemoteEntry = { name: info.name, type, size: type === "dir" ? 0 : info.size, mtime };
  if (type === "symlink" && info.link) entry.target = info.link;
  return entry;
}

const _MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * Unix LIST dates: "Nov 25 21:09" (recent, no year) or "Nov 25  2024". Read as UTC, minute precision. Not exact,
 * but stable from one listing to the next, which is what incremental export compares.
 */
function _parseListDate(raw: string): number | undefined {
  const match = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{1,2}):(\d{2})|(\d{4}))$/.exec(raw.trim());
  if (!match) return undefined;
  const month = _MONTHS.indexOf((match[1] ?? "").toLowerCase());
  if (month < 0) return undefined;
  const day = Number(match[2]);
  if (match[5] !== undefined) return Date.UTC(Number(match[5]), month, day);
  const now = new Date();
  let year = now.getUTCFullYear();
  const time = Date.UTC(year, month, day, Number(match[3]), Number(match[4]));
  // A recent date without a year lies in the last ~6 months: one in the future belongs to last year.
  if (time > now.getTime() + 24 * 3600_000) year--;
  return Date.UTC(year, month, day, Number(match[3]), Number(match[4]));
}
