// Round-trip savers for FTP on top of basic-ftp's control connection. On a link with 50 ms of latency every command
// that waits for the previous reply costs 50 ms, and an atomic upload made of EPSV, STOR (wait for 150, send, wait
// for 226), SIZE, RNFR and RNTO spends most of its time waiting. Here:
// - commands whose replies do not decide what is sent next go out in one write and their replies are read in order
//   (command pipelining: servers read the control connection as a stream, one line at a time);
// - STOR goes out while the data connection is still being opened, and the file follows as soon as it is open,
//   without waiting for the 150 reply (the bytes wait in the socket until the server reads them);
// - data sockets run without Nagle's delay, so the last partial segment of a small file does not wait for an ACK.
import { createReadStream } from "node:fs";
import type { Socket } from "node:net";
import { pipeline, type Readable, type Writable } from "node:stream";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { type FTPContext, FTPError, type FTPResponse } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";

/** A reply, or the error reply (4xx/5xx) of one pipelined command. */
export type PipelinedReply = FTPResponse | FTPError;

/**
 * How a control connection sends batches: "on" in one write; "auto" in one write, with every reply checked against
 * its command (a server that mishandles pipelining answers out of order or refuses commands sent early); "off" one
 * command at a time, each after the previous reply.
 */
export type PipeliningMode = "auto" | "on" | "off";

/** A server that mishandled a pipelined batch: the session's state is unknown, so it is given up. */
export class PipeliningError extends Error {
  override name = "PipeliningError";
}

/** Sets how batches are sent on this control connection (default "on"). */
export function setPipelining(ftp: FTPContext, mode: PipeliningMode): void {
  _MODES.set(ftp, mode);
}

/**
 * Sends `commands` in one write and resolves with one final reply per command, in order (preliminary 1xx replies are
 * skipped). Error replies are returned, not thrown: the caller knows which ones matter. A broken connection rejects.
 */
export async function sendPipelined(ftp: FTPContext, commands: string[]): Promise<PipelinedReply[]> {
  for (const command of commands) {
    if (/[\r\n\0]/.test(command)) {
      throw new Error(`Invalid command: contains control characters (${_shown(command)})`);
    }
  }
  if (commands.length === 0) return [];
  const mode = _MODES.get(ftp) ?? "on";
  if (mode === "off" && commands.length > 1) {
    const replies: PipelinedReply[] = [];
    for (const command of commands) replies.push(...(await _sendBatch(ftp, [command])));
    return replies;
  }
  return _sendBatch(ftp, commands);
}

/**
 * Throws PipeliningError when `reply` cannot be the answer to `command`: a positive reply of another command's kind
 * (replies out of order, or one command dropped), or "500 unknown command" to a command every server knows (a
 * server that refuses commands sent before the previous reply). Only for batches of several commands in "auto".
 */
function _checkReply(command: string, reply: PipelinedReply | undefined, previous?: PipelinedReply): void {
  if (reply === undefined) return;
  const verb = (command.split(" ")[0] ?? "").toUpperCase();
  const allowed = _EXPECTED[verb];
  // "503 RNFR required first" is the right answer to an RNTO whose RNFR was refused (a file not there)
  const afterRefusedRnfr = verb === "RNTO" && reply instanceof FTPError && previous instanceof FTPError;
  const wrong =
    reply instanceof FTPError
      ? (reply.code === 500 || reply.code === 503) && _BASIC.has(verb) && !afterRefusedRnfr
      : allowed !== undefined && !allowed.includes(reply.code);
  if (wrong) {
    throw new PipeliningError(
      `the server answered "${_shown(command)}" with "${reply.message.trim().split("\n")[0]}" when its commands were pipelined`,
    );
  }
}

/**
 * A server that silently drops a pipelined command never answers it: the batch would wait for `remote.timeoutMs` and
 * fail as a broken connection. In "auto", once the replies of a batch stop coming for `_PROBE_QUIET_MS` while some
 * are still owed, a `NOOP` goes out on its own: a server that is merely slow answers it after the owed replies (and
 * its 200 is read and dropped), one that dropped a command answers it in the dropped command's place, which the
 * reply check then finds (a 200 where a 229, 213, 250 or 350 belongs). `owed()` says whether replies are owed now.
 */
function _quietProbe(ftp: FTPContext, owed: () => boolean) {
  let timer: NodeJS.Timeout | undefined;
  const probe = {
    sent: 0,
    /** (Re)starts the quiet timer: after every reply, and once the batch is out. */
    arm() {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          if (!owed() || ftp.closed) return;
          probe.sent++;
          ftp.log("> NOOP (are replies missing?)");
          ftp.socket.write("NOOP\r\n", ftp.encoding);
          probe.arm();
        },
        Math.min(_PROBE_QUIET_MS, ftp.timeout / 4),
      );
      timer.unref();
    },
    stop() {
      clearTimeout(timer);
    },
  };
  return probe;
}

function _sendBatch(ftp: FTPContext, commands: string[]): Promise<PipelinedReply[]> {
  const replies: PipelinedReply[] = [];
  // "auto": every reply checked as it comes (a garbled batch may never complete), and probed when it goes quiet
  const checked = (_MODES.get(ftp) ?? "on") === "auto" && commands.length > 1;
  const probe = checked ? _quietProbe(ftp, () => replies.length < commands.length) : undefined;
  const done = _handle(ftp, (response, task) => {
    const ended = sessionEnded(response);
    if (ended) {
      // closing passes the error back in here, which rejects the batch
      probe?.stop();
      ftp.closeWithError(ended);
      return;
    }
    if (response instanceof Error && !(response instanceof FTPError)) {
      probe?.stop();
      task.reject(response);
      return;
    }
    if (!(response instanceof FTPError) && response.code < 200) return;
    replies.push(response);
    if (checked) {
      try {
        const previous = /^RNFR /i.test(commands[replies.length - 2] ?? "") ? replies.at(-2) : undefined;
        _checkReply(commands[replies.length - 1] ?? "NOOP", response, previous);
      } catch (error) {
        probe?.stop();
        task.reject(error as Error);
        return;
      }
      probe?.arm();
    }
    if (replies.length === commands.length + (probe?.sent ?? 0)) {
      probe?.stop();
      task.resolve(replies.slice(0, commands.length) as unknown as FTPResponse);
    }
  }) as unknown as Promise<PipelinedReply[]>;
  if (ftp.verbose) for (const command of commands) ftp.log(`> ${_shown(command)}`);
  ftp.socket.write(commands.map((command) => `${command}\r\n`).join(""), ftp.encoding);
  probe?.arm();
  return done;
}

/**
 * basic-ftp's `handle` without its per-task stack capture: it formats `new Error().stack` for every task (only
 * shown when a task is started while another runs, which the session's serial queue rules out), a visible share of a
 * deploy's CPU at two tasks per file. The limit is restored before anything else runs.
 */
function _handle(ftp: FTPContext, handler: Parameters<FTPContext["handle"]>[1]): Promise<FTPResponse> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return ftp.handle(undefined, handler);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const _shown = (command: string) => (command.startsWith("PASS ") ? "PASS ###" : command);

const _MODES = new WeakMap<FTPContext, PipeliningMode>();

/** Positive replies each command can have (RFC 959, 2389, 2428, 3659); commands not listed are not checked. */
const _EXPECTED: Record<string, readonly number[]> = {
  USER: [230, 331, 332],
  PASS: [230, 202, 332],
  FEAT: [211, 214],
  TYPE: [200],
  PWD: [257],
  EPSV: [229],
  PASV: [227],
  SIZE: [213],
  MDTM: [213],
  RNFR: [350],
  RNTO: [250],
  MKD: [257, 250],
  DELE: [250],
  CWD: [250, 200],
  NOOP: [200],
  PBSZ: [200],
  PROT: [200],
  // the final reply of a download or listing (a 229 there is the reply of the EPSV sent behind it)
  RETR: [226, 250],
  LIST: [226, 250],
  NLST: [226, 250],
  MLSD: [226, 250],
};

/**
 * Commands every server knows, and SIZE and MDTM (sent only to servers whose FEAT lists them): "500 unknown" or
 * "503 bad sequence" to one of them means the batch was garbled.
 */
const _BASIC = new Set(["USER", "TYPE", "PWD", "RNFR", "RNTO", "DELE", "CWD", "MKD", "NOOP", "SIZE", "MDTM"]);

/** How long the replies of a batch may pause (while some are owed) before a NOOP asks whether one was dropped. */
const _PROBE_QUIET_MS = 1000;

/**
 * vsftpd's "500 OOPS: …" (its `die()`: a passive port it could not bind, a lost privileged helper) ends the session,
 * and the server closes the connection behind it: a connection-level failure (the pool goes on on a fresh session),
 * not a refusal of the command it stands in for, nor a sign of a garbled pipelined batch. Undefined for other replies.
 */
export function sessionEnded(response: FTPResponse | Error): Error | undefined {
  if (!(response instanceof FTPError) || !_OOPS.test(response.message)) return undefined;
  return new Error(`connection closed by the server: ${response.message.trim().split("\n")[0]}`);
}

const _OOPS = /^5\d\d OOPS: /;

/** Throws the reply when it is an error reply. */
export function okReply(reply: PipelinedReply | undefined, what: string): FTPResponse {
  if (reply === undefined) throw new Error(`no reply to ${what}`);
  if (reply instanceof FTPError) throw reply;
  return reply;
}

/** Port of a 229 reply ("(|||6446|)"; some servers use "!"), or of a 227 reply ("(h1,h2,h3,h4,p1,p2)"). */
export function passivePort(reply: FTPResponse): number {
  const epsv = /[|!]{3}(\d+)[|!]/.exec(reply.message);
  if (reply.code === 229 && epsv) return Number(epsv[1]);
  const pasv = /(?<![-\d])\d+,\d+,\d+,\d+,(\d+),(\d+)/.exec(reply.message);
  if (reply.code === 227 && pasv) return (Number(pasv[1]) & 255) * 256 + (Number(pasv[2]) & 255);
  throw new Error(`cannot read the passive port from the reply "${reply.message.trim()}"`);
}

export interface TransferOptions {
  /** Where the server listens for the data connection (from EPSV/PASV). The host is the control connection's. */
  port: number;
  /** Checks a TLS data connection once it is up (certificate pinning); throws to refuse it. None: not pinned. */
  checkData?: ((socket: TLSSocket) => void) | undefined;
  /** Commands pipelined before the transfer command (e.g. the rename of the file sent before); replies come first. */
  before?: string[];
  /** Commands pipelined after the transfer command (e.g. SIZE of the file); their replies follow the transfer's. */
  after?: string[];
}

/**
 * Uploads `source` with STOR/APPE (see `transfer`). A file source is read from `localStart` (APPE resumes).
 */
export function storeTo(
  ftp: FTPContext,
  source: string | Readable | Buffer,
  command: string,
  options: TransferOptions & { localStart?: number },
): Promise<PipelinedReply[]> {
  return transfer(ftp, command, options, (data) => {
    if (Buffer.isBuffer(source)) return source;
    const input =
      typeof source === "string"
        ? createReadStream(source, options.localStart ? { start: options.localStart } : {})
        : source;
    return [input, data];
  });
}

/** Downloads with RETR into `sink`, or into what the `sink` factory makes once the data flows (see `transfer`). */
export function retrieveTo(
  ftp: FTPContext,
  sink: Writable | (() => Writable),
  command: string,
  options: TransferOptions,
): Promise<PipelinedReply[]> {
  // a factory is called only once the data connection is up: a refused RETR makes no local file
  return transfer(ftp, command, options, (data) => [data, typeof sink === "function" ? sink() : sink]);
}

/**
 * Runs a transfer command (`STOR path`, `RETR path`…) over a passive data connection to `options.port`, sending the
 * command and opening the connection at once, and moving the data as soon as it is open (`streams` gives the
 * pipeline's two ends, or a Buffer to send as it is). Resolves once every reply has arrived (and the data is through, unless the server refused
 * the command) with the replies to `options.before`, the command and `options.after`, in that order; an error reply
 * is returned, not thrown, and leaves the control connection usable. Anything else (a reset, a timeout, a refused
 * certificate) rejects and closes the control connection, whose state is then unknown.
 */
async function transfer(
  ftp: FTPContext,
  command: string,
  options: TransferOptions,
  streams: (data: Socket) => [Readable, Writable] | Buffer,
): Promise<PipelinedReply[]> {
  const mode = _MODES.get(ftp) ?? "on";
  if (mode === "off") {
    // one command at a time: what would ride before the transfer goes first, what would follow goes after it
    const before = await sendPipelined(ftp, options.before ?? []);
    const own = await _transfer(ftp, command, { ...options, before: [], after: [] }, streams);
    const after = own[0] instanceof FTPError ? [] : await sendPipelined(ftp, options.after ?? []);
    return [...before, ...own, ...after];
  }
  return _transfer(ftp, command, options, streams);
}

function _transfer(
  ftp: FTPContext,
  command: string,
  options: TransferOptions,
  streams: (data: Socket) => [Readable, Writable] | Buffer,
): Promise<PipelinedReply[]> {
  const host = ftp.socket.remoteAddress;
  if (host === undefined) return Promise.reject(new Error("the control connection is closed"));
  const raw = ftp._newSocket();
  let data: Socket | TLSSocket = raw;
  // The transfer command and the ones pipelined after it: the server runs those once the transfer is over, so
  // their replies follow the transfer's without a round trip of their own.
  const commands = [...(options.before ?? []), command, ...(options.after ?? [])];
  const own = options.before?.length ?? 0;
  const verb = command.split(" ")[0];
  const replies: PipelinedReply[] = [];
  let refused: FTPError | undefined;
  let moved = false;
  // "auto" with commands around the transfer: each reply checked as it comes, and a NOOP sent when the replies
  // still owed once the transfer is answered stop coming (see `_quietProbe`)
  const checked = (_MODES.get(ftp) ?? "on") === "auto" && commands.length > 1;
  let final = false;
  const probe = checked ? _quietProbe(ftp, () => final && replies.length < commands.length) : undefined;
  let settled = false;
  // Commands written; the reply to the transfer command known (preliminary 1xx or final).
  let sent = false;
  let answered = false;
  // A data connection error that came before the server's answer to the transfer command (see `dataFailed`).
  let early: Error | undefined;
  return new Promise<PipelinedReply[]>((resolve, reject) => {
    const stopData = () => {
      data.destroy();
      raw.destroy();
    };
    /** A broken transfer: the state of the control connection is unknown, so it is closed. */
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      probe?.stop();
      stopData();
      ftp.socket.setTimeout(0);
      ftp.closeWithError(error);
      reject(error);
    };
    const finish = () => {
      if (settled || replies.length < commands.length + (probe?.sent ?? 0) || !(moved || refused)) return;
      settled = true;
      probe?.stop();
      stopData();
      resolve(replies.slice(0, commands.length));
    };
    /**
     * The data connection broke. A server refusing the command may reset the data connection it had already
     * accepted (ProFTPD answers a RETR of a missing file with 550 and a reset), and the reset can arrive before the
     * 550: until the answer is known, the error waits for it. A refusal explains it; anything else makes it a failure.
     */
    const dataFailed = (error: Error) => {
      if (settled || refused) return;
      if (!sent || answered) fail(error);
      else early ??= error;
    };
    raw.setNoDelay(true);
    raw.setTimeout(ftp.timeout, () => fail(new Error(`Timeout (data connection to ${host}:${options.port})`)));
    raw.on("error", (error) => dataFailed(new Error(`Can't open data connection in passive mode: ${error.message}`)));
    raw.connect({ port: options.port, host, family: ftp.ipFamily }, () => {
      // The commands go out once the data connection is up (it waits in the server's backlog), not before: a server
      // that got STOR first sits in accept() with the file open and locked (vsftpd lock_upload_files) until its
      // accept timeout if this client dies in between, and a rerun writing the same temp name would wait for it.
      // It costs no round trip: the server accepts at once, and the data is sent alongside.
      if (ftp.verbose) for (const line of commands) ftp.log(`> ${line}`);
      ftp.socket.write(commands.map((line) => `${line}\r\n`).join(""), ftp.encoding);
      sent = true;
      if (!(ftp.socket && "encrypted" in ftp.socket)) {
        move();
        return;
      }
      const tls = tlsConnect({
        ...ftp.tlsOptions,
        socket: raw,
        // The server expects the control connection's TLS session to be resumed (vsftpd require_ssl_reuse).
        session: ftp.tlsSessionStore ?? (ftp.socket as TLSSocket).getSession(),
      });
      tls.on("session", (session) => {
        ftp.tlsSessionStore = session;
      });
      tls.on("error", (error) => dataFailed(error));
      data = tls;
      tls.once("secureConnect", () => {
        try {
          options.checkData?.(tls);
        } catch (error) {
          fail(error as Error);
          return;
        }
        move();
      });
    });
    const move = () => {
      // The control connection is quiet while the data flows: the data socket's inactivity timeout watches instead.
      ftp.socket.setTimeout(0);
      const flow = streams(data);
      const done = (error?: Error | null) => {
        if (refused) return;
        // our own refusal (a download over its announced size) fails at once; the connection's errors wait for
        // the server's answer like any other data connection error
        if (error instanceof SiteloomError) fail(error);
        else if (error) dataFailed(error);
        else {
          moved = true;
          ftp.socket.setTimeout(ftp.timeout);
          finish();
        }
      };
      // a small file already in memory: one write and the end, no stream machinery
      if (Buffer.isBuffer(flow)) data.end(flow, () => done());
      else pipeline(flow[0], flow[1], done);
    };
    _handle(ftp, (response, task) => {
      const ended = sessionEnded(response);
      if (ended || (response instanceof Error && !(response instanceof FTPError))) {
        const error = ended ?? (response as Error);
        task.reject(error);
        fail(error);
        return;
      }
      const mine = replies.length === own;
      if (mine) answered = true;
      if (!(response instanceof FTPError) && response.code < 200) {
        // 150/125: the data is on its way, so a data connection error before it is a real one
        if (mine && early) fail(early);
        return;
      }
      replies.push(response);
      if (checked) {
        try {
          _checkReply(commands[replies.length - 1] ?? "NOOP", response);
        } catch (error) {
          task.reject(error as Error);
          fail(error as Error);
          return;
        }
      }
      if (mine) final = true;
      if (final) probe?.arm();
      if (mine) {
        if (response instanceof FTPError) {
          // Refused (550, 553, 452…): no data moves; the connection stays usable once every reply is in.
          refused = response;
          stopData();
        } else if (early) {
          task.reject(early);
          fail(early);
          return;
        } else if (response.code >= 300) {
          task.reject(new Error("unexpected reply"));
          fail(new Error(`unexpected reply to ${verb}: ${response.message.trim()}`));
          return;
        }
      }
      if (replies.length < commands.length + (probe?.sent ?? 0)) return;
      task.resolve(replies as unknown as FTPResponse);
      finish();
    }).catch(() => undefined);
  });
}
