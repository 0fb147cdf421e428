// Directory listings over the control connection, for servers without MLSD (vsftpd): `CWD dir` and `STAT -a .`
// (RFC 959: the listing comes back as a multi-line reply), pipelined, so a folder costs one round trip instead of the
// three of a data connection, and several folders can share it.
//
// A STAT reply carries names verbatim: vsftpd and ProFTPD send a name holding CR LF as it is, so a file named
// "x\r\n213 End of status\r\n250 ok" ends the reply early for a reader that trusts line ends, and what follows
// would be read as the replies of the next commands. Therefore:
// - the replies are read here, not by basic-ftp (which also caps a reply at 64 KiB and parses the whole reply again
//   on every chunk), within LISTING_MAX_BYTES while they arrive; lines end at CR LF only (a bare LF stays in its name);
// - every batch ends with a sentinel: HELP, as many times as it takes for its replies to exceed what a name and a
//   link target can hold (SENTINEL_MIN_BYTES), then NOOP. Its replies are learnt at the session's first listing,
//   before any name was read. The batch is over when the last lines read are exactly the sentinel's, whatever came
//   before them: no name can hold a copy, so the end is the server's;
// - then the replies are checked against the batch: one reply per command, each CWD a single line, each STAT a
//   211/212/213 reply of listing lines only that shows the folder itself ("." : hidden entries are listed), the
//   sentinel in its place. A STAT that does not check out is not used (its folder is listed over a data
//   connection); a batch that does not check out is dropped whole, and the session lists over data connections from
//   then on.
import { type FTPContext, FTPError } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";
import { printablePath } from "../paths.ts";
import { listingTooLarge } from "./listing-limit.ts";

/** A folder's listing from STAT: the listing lines (as LIST sends them), the refusal of its CWD, or undefined (list it over a data connection). */
export type StatListing = { lines: string[] } | { refused: FTPError } | undefined;

/** Lists folders with STAT on one session; `undefined` when the session does not (or no longer) list that way. */
export interface StatLister {
  list(targets: readonly string[], dirs: readonly string[]): Promise<StatListing[] | undefined>;
}

/**
 * The longest line a STAT reply may hold, in characters: a name (255 bytes) and a link target (4095) with the
 * fields of its listing line, with room to spare. A longer line is no listing line: the batch is refused.
 */
export const STAT_LINE_MAX = 8192;

/** Bytes the sentinel's replies must exceed: a name (255) and a link target (4095) with its listing line. */
export const SENTINEL_MIN_BYTES = 5000;

/**
 * The STAT lister of one session. `maxBytes` bounds the replies of one batch. `label` names the session in
 * messages.
 */
export function createStatLister(ftp: FTPContext, maxBytes: number, label: string): StatLister {
  // undefined: not probed yet; null: this session does not list with STAT
  let sentinel: { commands: string[]; lines: string[] } | null | undefined;

  async function probe(): Promise<void> {
    const lines = await _readBatch(ftp, ["HELP", "NOOP"], undefined, maxBytes, label);
    const replies = _splitReplies(lines);
    const [help, noop] = replies ?? [];
    if (replies?.length !== 2 || help?.code !== 214 || help.lines.length < 2 || noop?.code !== 200) {
      sentinel = null;
      return;
    }
    const bytes = help.lines.reduce((n, line) => n + Buffer.byteLength(line) + 2, 0);
    const times = Math.ceil(SENTINEL_MIN_BYTES / bytes) + 1;
    sentinel = {
      commands: [...Array<string>(times).fill("HELP"), "NOOP"],
      lines: [...Array.from({ length: times }, () => help.lines).flat(), ...noop.lines],
    };
  }

  return {
    async list(targets, dirs) {
      if (sentinel === undefined) await probe();
      if (!sentinel) return undefined;
      const commands = targets.flatMap((target) => [`CWD ${target}`, "STAT -a ."]);
      const lines = await _readBatch(ftp, [...commands, ...sentinel.commands], sentinel.lines, maxBytes, label, dirs);
      const replies = _splitReplies(lines.slice(0, lines.length - sentinel.lines.length));
      if (replies?.length !== commands.length) {
        ftp.log("STAT listing: the replies do not match the batch; listing over data connections from now on");
        sentinel = null;
        return undefined;
      }
      const result: StatListing[] = [];
      for (let i = 0; i < targets.length; i++) {
        const cwd = replies[2 * i]!;
        const stat = replies[2 * i + 1]!;
        if (cwd.lines.length !== 1) {
          sentinel = null;
          return undefined;
        }
        if (cwd.code >= 400) {
          result.push({ refused: new FTPError({ code: cwd.code, message: cwd.lines[0]! }) });
          continue;
        }
        const listing = _listingLines(stat);
        // a server that does not list the folder itself (pure-ftpd answers an empty STAT) is not asked again
        if (listing === null) sentinel = null;
        result.push(listing ? { lines: listing } : undefined);
      }
      return result;
    },
  };
}

// --- internal ---

interface _Reply {
  code: number;
  lines: string[];
}

/** Lines of an `ls -l` listing: a type and nine permission characters (ProFTPD indents them by one space). */
const _LS_LINE = /^ ?[-dlcbpsD][-rwxsStTlL]{9}[+.@]?\s+\d+\s/;

/**
 * The listing lines of a STAT reply; undefined when it holds a line that is not one (a name with CR LF: the
 * folder is listed over a data connection); null when it does not list the folder itself.
 */
function _listingLines(reply: _Reply): string[] | null | undefined {
  if (reply.code < 211 || reply.code > 213 || reply.lines.length < 2) return null;
  const inner = reply.lines.slice(1, -1);
  if (!inner.every((line) => _LS_LINE.test(line))) return undefined;
  const lines = inner.map((line) => (line.startsWith(" ") ? line.slice(1) : line));
  if (!lines.some((line) => line.startsWith("d") && line.endsWith(" ."))) return null;
  return lines;
}

/**
 * The replies of `lines`, read as RFC 959 says: a multi-line reply runs from "xyz-" to the first line starting
 * "xyz "; undefined when a line between replies is not a reply.
 */
function _splitReplies(lines: readonly string[]): _Reply[] | undefined {
  const replies: _Reply[] = [];
  let open: _Reply | undefined;
  for (const line of lines) {
    if (open !== undefined) {
      open.lines.push(line);
      if (line.startsWith(`${open.code} `) || line === String(open.code)) open = undefined;
      continue;
    }
    const match = /^(\d{3})([ -]|$)/.exec(line);
    if (match === null) return undefined;
    const reply = { code: Number(match[1]), lines: [line] };
    replies.push(reply);
    if (match[2] === "-") open = reply;
  }
  return open === undefined ? replies : undefined;
}

/**
 * Sends `commands` in one write and reads the lines of their replies off the control connection, in place of
 * basic-ftp's reader. Done when the last lines are `end` or, without `end`, when every command has its reply.
 * Bounded by `maxBytes`; a connection error or the control timeout rejects, as any basic-ftp task.
 */
function _readBatch(
  ftp: FTPContext,
  commands: string[],
  end: readonly string[] | undefined,
  maxBytes: number,
  label: string,
  dirs: readonly string[] = [],
): Promise<string[]> {
  const context = ftp as unknown as _Context;
  const lines: string[] = [];
  let partial = "";
  let bytes = 0;
  let replies = 0;
  let open: string | undefined;
  const done = ftp.handle(undefined, (response, task) => {
    if (response instanceof Error) task.reject(response);
  }) as unknown as Promise<string[]>;
  const task = context._task;
  const restore = () => {
    delete (context as Partial<_Context>)._onControlSocketData;
  };
  const complete = () => {
    if (end !== undefined) {
      if (lines.length < end.length) return false;
      const from = lines.length - end.length;
      return end.every((line, i) => lines[from + i] === line);
    }
    return replies === commands.length && open === undefined;
  };
  const refuse = (error: SiteloomError) => {
    restore();
    task?.resolver.reject(error);
    // the rest of the reply is still coming: nothing more can be read on this connection
    ftp.closeWithError(error);
  };
  const where = dirs.length > 0 ? `the STAT listing of "${printablePath(dirs[0] ?? "")}"` : "the STAT listing";
  /** Takes one line; true when the batch is complete. */
  const take = (line: string): boolean => {
    lines.push(line);
    if (end === undefined) {
      if (open !== undefined) {
        if (line.startsWith(`${open} `)) open = undefined;
      } else if (/^\d{3}-/.test(line)) {
        open = line.slice(0, 3);
        replies++;
      } else if (/^\d{3}( |$)/.test(line)) replies++;
    } else if (line !== end.at(-1)) return false;
    return complete();
  };
  context._onControlSocketData = (chunk: string) => {
    ftp.log(`< ${chunk}`);
    bytes += Buffer.byteLength(chunk, ftp.encoding);
    if (bytes > maxBytes) {
      refuse(listingTooLarge(label, where, maxBytes));
      return;
    }
    // CR LF is looked for in the new chunk only (and across its start, after a CR carried over): a line that never
    // ends costs its length once, not once per chunk
    let from = 0;
    if (partial.endsWith("\r") && chunk.startsWith("\n")) {
      from = 1;
      const line = partial.slice(0, -1);
      partial = "";
      if (take(line)) return finish();
    }
    for (let at = chunk.indexOf("\r\n", from); at >= 0; at = chunk.indexOf("\r\n", from)) {
      const line = partial + chunk.slice(from, at);
      partial = "";
      from = at + 2;
      if (line.length > STAT_LINE_MAX) {
        refuse(_lineTooLong(label, where));
        return;
      }
      if (take(line)) return finish();
    }
    partial += chunk.slice(from);
    if (partial.length > STAT_LINE_MAX + 1) refuse(_lineTooLong(label, where));
  };
  const finish = () => {
    restore();
    task?.resolver.resolve(lines as never);
  };
  if (ftp.verbose) for (const command of commands) ftp.log(`> ${command}`);
  ftp.socket.write(commands.map((command) => `${command}\r\n`).join(""), ftp.encoding);
  return done.finally(restore);
}

/** The refusal of a line longer than STAT_LINE_MAX (`where`: "the STAT listing of …"). */
function _lineTooLong(label: string, where: string): SiteloomError {
  return new SiteloomError(
    "ERR_TRANSFER_LIMIT",
    `${label}: ${where} holds a line longer than ${STAT_LINE_MAX} characters: not read`,
  );
}

/** The parts of basic-ftp's FTPContext the reader takes over while a batch runs. */
interface _Context {
  _onControlSocketData(chunk: string): void;
  _task: { resolver: { resolve(value: unknown): void; reject(error: Error): void } } | undefined;
}
