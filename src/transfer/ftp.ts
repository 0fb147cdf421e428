import { readFileSync, statSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { Readable, Transform, Writable } from "node:stream";
import type { TLSSocket, ConnectionOptions as TlsOptions } from "node:tls";
import { Client, type FileInfo, FileType, FTPError, parseList } from "basic-ftp";
import { SiteloomError } from "../errors.ts";
import { printable } from "../printable.ts";
import type { Secret } from "../secret.ts";
import {
  okReply,
  type PipelinedReply,
  PipeliningError,
  type PipeliningMode,
  passivePort,
  retrieveTo,
  sendPipelined,
  setPipelining,
  storeTo,
} from "./ftp-pipeline.ts";
import { createCappedFileStream } from "./limit.ts";
import {
  filterListing,
  joinRemote,
  normalizeRoot,
  printablePath,
  splitRemotePath,
  type UnsafeEntryHandler,
} from "./paths.ts";
import { isConnectionError } from "./pool.ts";
import type { PutOptions, RemoteEntry, RemoteFS } from "./types.ts";

export interface FtpRemoteOptions {
  host: string;
  /** @default 21, or 990 with `secure: "implicit"` */
  port?: number;
  /** @default "anonymous" */
  user?: string;
  password?: Secret | undefined;
  /** Server directory of the site; a relative one is taken from the login directory. @default "/" */
  root?: string;
  /** false: plain FTP; "explicit": AUTH TLS on the normal port; "implicit": TLS from the first byte (port 990). */
  secure?: false | "explicit" | "implicit";
  /** Pinned SHA-256 certificate fingerprint (`AB:CD:…`, with or without colons or a `sha256:` prefix). */
  tlsFingerprint?: string | undefined;
  /** PEM CA certificate(s) trusted for this host instead of the system store. */
  ca?: string | Buffer | undefined;
  /** Skip certificate verification entirely (the caller warns). @default false */
  insecure?: boolean;
  /** File name encoding on the control connection. @default "utf8" */
  encoding?: "utf8" | "latin1";
  /** Control and data socket timeout. @default 30000 */
  timeoutMs?: number;
  /** Called for every refused listing entry. */
  onUnsafe?: UnsafeEntryHandler | undefined;
  /**
   * Command pipelining: "auto" pipelines and checks every reply, "on" pipelines unchecked, "off" sends one command at
   * a time. A function is asked before every operation (a fault found by another session turns this one off too).
   * @default "auto"
   */
  pipelining?: PipeliningMode | (() => PipeliningMode);
  /** Told when "auto" finds that the server mishandles pipelining (the session is then given up or redone with "off"). */
  onPipeliningFault?: (message: string) => void;
  /** Logs every FTP command and reply (passwords are never logged by basic-ftp beyond "PASS ###"). */
  debug?: (line: string) => void;
}

/** Connects and logs in one FTP/FTPS control connection and returns it as a RemoteFS. */
export async function createFtpRemote(options: FtpRemoteOptions): Promise<RemoteFS> {
  const secure = options.secure ?? false;
  const encoding = options.encoding ?? "utf8";
  const port = options.port ?? (secure === "implicit" ? 990 : 21);
  const label = `${secure === false ? "ftp" : "ftps"}://${options.host}:${port}`;
  const client = new Client(options.timeoutMs ?? 30_000, { maxListingBytes: _LISTING_MAX_BYTES });
  client.ftp.encoding = encoding;
  const pipeliningNow = typeof options.pipelining === "function" ? options.pipelining : () => pipelining;
  const pipelining = typeof options.pipelining === "function" ? options.pipelining() : (options.pipelining ?? "auto");
  setPipelining(client.ftp, pipelining);
  if (options.debug) {
    client.ftp.verbose = true;
    // the trace shows server replies and listings: inert, whatever the server sends
    client.ftp.log = (message: string) => options.debug?.(printable(message, { newlines: "keep" }));
  }
  // Lines of a listing that basic-ftp drops without a word (a '/' inside an MLSD name, a line it cannot read) are
  // reported like every other refused entry.
  let listing: string | undefined;
  client.parseList = (text: string) => {
    const parsed = parseList(text);
    if (listing !== undefined) _reportDropped(text, parsed, listing, options.onUnsafe);
    return parsed;
  };
  const tlsOptions = _tlsOptions(options);
  let features = new Map<string, string>();
  let root = normalizeRoot(options.root ?? "/");
  let firstPassive: PipelinedReply | undefined;
  try {
    if (secure === "implicit") await client.connectImplicitTLS(options.host, port, tlsOptions);
    else await client.connect(options.host, port);
    if (secure === "explicit") await client.useTLS(tlsOptions);
    // Check a pinned certificate before the password goes over the wire.
    if (secure !== false && options.tlsFingerprint) _checkFingerprint(client.ftp.socket as TLSSocket, options, label);
    // Login and session settings in one round trip (pipelined): no reply changes what is sent next. A refused
    // login makes the server refuse the rest as well, and the USER/PASS reply says why.
    client.ftp.log(`Login security: ${client.ftp.hasTLS ? "TLS" : "No encryption"}`);
    const login = [`USER ${options.user ?? "anonymous"}`, `PASS ${options.password?.reveal() ?? "anonymous@"}`];
    // Latin-1 servers get no OPTS UTF8: some switch their file name encoding on it.
    const settings = [
      "FEAT",
      "TYPE I",
      ...(encoding === "utf8" ? ["OPTS UTF8 ON"] : []),
      ...(client.ftp.hasTLS ? ["PBSZ 0", "PROT P"] : []),
      // Servers without MLST refuse this one: harmless, and cheaper than a round trip of its own after FEAT.
      "OPTS MLST type;size;modify;unix.mode;",
      ...(root.startsWith("/") ? [] : ["PWD"]),
      // a passive port for the first transfer (most sessions start with one: the manifest, a listing)
      "EPSV",
    ];
    const [user, pass, ...replies] = await sendPipelined(client.ftp, [...login, ...settings]);
    // 331 then 230; or 230 at once (no password needed: PASS is then refused or ignored).
    const loggedIn = user instanceof FTPError ? undefined : user?.code === 230 ? user : okReply(pass, "PASS");
    if (user instanceof FTPError) throw user;
    if (loggedIn?.code !== 230 && loggedIn?.code !== 202) {
      throw new FTPError({ code: 530, message: loggedIn?.message ?? "no reply to PASS" });
    }
    const reply = (command: string) => replies[settings.indexOf(command)];
    features = _parseFeatures(reply("FEAT"));
    okReply(reply("TYPE I"), "TYPE I");
    if (client.ftp.hasTLS) okReply(reply("PROT P"), "PROT P");
    client.availableListCommands = features.has("MLST") ? ["MLSD", "LIST -a", "LIST"] : ["LIST -a", "LIST"];
    if (!root.startsWith("/")) root = normalizeRoot(`${_parsePwd(okReply(reply("PWD"), "PWD"))}/${root}`);
    firstPassive = reply("EPSV");
  } catch (error) {
    client.close();
    if (error instanceof PipeliningError && pipelining === "auto") {
      // the login batch came back garbled: log in again one command at a time
      options.onPipeliningFault?.(`${label}: ${printable(error.message)}`);
      return createFtpRemote({ ...options, pipelining: "off" });
    }
    throw _connectError(error, label, options);
  }
  // Data connections are new TLS sockets: with a pinned certificate each is checked too. A resumed session is the
  // control connection's own, already checked: it carries no certificate.
  const checkData =
    secure !== false && options.tlsFingerprint
      ? (socket: TLSSocket) => {
          if (!socket.isSessionReused()) _checkFingerprint(socket, options, label);
        }
      : undefined;
  if (checkData) _pinDataConnections(client, checkData);
  const protocol = secure === false ? "ftp" : "ftps";
  // basic-ftp runs one command at a time per connection; callers (the pool) never share one, but a caller that
  // does must not interleave commands: serialise.
  let queue: Promise<unknown> = Promise.resolve();
  // A passive port asked for ahead of time (pipelined with the login or the last rename) for the next transfer. Any
  // other command sequence may open its own, which closes this one on most servers: only transfers keep it.
  let prefetched: { port: number; at: number } | undefined;
  keepPassive(firstPassive);
  /**
   * Runs operations one at a time. `transfer`: a data transfer that uses a prefetched passive port; `command`: one
   * that opens no data connection (DELE), so a prefetched port stays good; `put` also carries the pending rename along
   * itself, which any other operation sends first. Others (listings through basic-ftp) drop the prefetched port.
   */
  function serial<T>(fn: () => Promise<T>, kind: "put" | "transfer" | "command" | "other" = "other"): Promise<T> {
    const run = async () => {
      try {
        setPipelining(client.ftp, pipeliningNow());
        if (kind === "other") prefetched = undefined;
        if (kind !== "put") await flushPending();
        return await fn();
      } catch (error) {
        // a batch answered out of order: nothing on this session can be trusted any more
        if (error instanceof SiteloomError && error.cause instanceof PipeliningError) {
          client.close();
          options.onPipeliningFault?.(error.message);
        }
        throw error;
      }
    };
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  }
  // EPSV where the server lists it (or lists neither), else PASV; a refused EPSV switches to PASV for good.
  let usePasv = features.has("PASV") && !features.has("EPSV");

  /** A passive port for the next transfer: the one asked for ahead of time while still fresh, else a new one. */
  async function passive(reply?: PipelinedReply): Promise<number> {
    const ahead = takePrefetched();
    if (ahead !== undefined && reply === undefined) return ahead;
    const answer = reply ?? (await sendPipelined(client.ftp, [usePasv ? "PASV" : "EPSV"]))[0];
    if (answer instanceof FTPError && !usePasv) {
      usePasv = true;
      return passive();
    }
    return passivePort(okReply(answer, "PASV"));
  }

  /** The prefetched passive port while still fresh (it is used once either way). */
  function takePrefetched(): number | undefined {
    const ahead =
      prefetched !== undefined && Date.now() - prefetched.at < _PREFETCH_MAX_AGE_MS ? prefetched : undefined;
    prefetched = undefined;
    return ahead?.port;
  }

  /** The passive command to pipeline after a transfer, so that the next one needs no round trip of its own. */
  const nextPassive = () => (usePasv ? "PASV" : "EPSV");
  function keepPassive(reply: PipelinedReply | undefined): void {
    if (reply === undefined || reply instanceof FTPError || (reply.code !== 229 && reply.code !== 227)) return;
    prefetched = { port: passivePort(reply), at: Date.now() };
  }

  /** RETR into `sink` on the fast path; returns false when the file does not exist. */
  async function retrieve(path: string, sink: Writable | (() => Writable)): Promise<boolean> {
    const port = await passive();
    try {
      // No EPSV pipelined behind RETR: some servers (ftp-srv) tear the data channel down after a transfer
      // asynchronously, taking a passive port opened right behind it along.
      const [reply] = await retrieveTo(client.ftp, sink, `RETR ${path}`, { port, ...(checkData ? { checkData } : {}) });
      okReply(reply, "RETR");
      return true;
    } catch (error) {
      if (_isMissing(error)) return false;
      throw error;
    }
  }

  // A verified upload whose rename is still to be sent (`put` with `onPlaced`): it rides in the next batch of
  // commands on this connection, or goes out on its own before any other operation and on `flush`.
  let pending: { from: string; to: string; onPlaced: (error?: Error) => void } | undefined;

  /** The rename commands of the pending upload, with what reads their two replies or reports a broken session. */
  function takePending(): {
    commands: string[];
    read: (replies: readonly PipelinedReply[]) => void;
    fail: (error: unknown) => void;
  } {
    const rename = pending;
    pending = undefined;
    if (rename === undefined) return { commands: [], read: () => {}, fail: () => {} };
    let told = false;
    const tell = (error?: Error) => {
      if (!told) rename.onPlaced(error);
      told = true;
    };
    return {
      commands: [`RNFR ${rename.from}`, `RNTO ${rename.to}`],
      read: (replies) => {
        try {
          okReply(replies[0], "RNFR");
          okReply(replies[1], "RNTO");
          tell();
        } catch (error) {
          tell(_opError(error, "rename", rename.to, label));
        }
      },
      // the session broke before the replies: whether the rename happened is unknown, and the caller is told so
      fail: (error) => tell(_opError(error, "rename", rename.to, label)),
    };
  }

  /** Sends the pending rename; `withPassive` also asks for a passive port for the transfer expected next. */
  async function flushPending(withPassive = false): Promise<void> {
    if (pending === undefined) return;
    const rename = takePending();
    try {
      const replies = await sendPipelined(client.ftp, [...rename.commands, ...(withPassive ? [nextPassive()] : [])]);
      rename.read(replies);
      if (withPassive) keepPassive(replies[2]);
    } catch (error) {
      rename.fail(error);
      throw error;
    }
  }

  /**
   * The atomic upload of one file: STOR to the temp name with SIZE behind it, then RNFR/RNTO — sent at once, or
   * (`onPlaced`) left pending to ride in this connection's next batch.
   */
  async function put(source: string | Readable, temp: string, path: string, opts: PutOptions): Promise<void> {
    const tempPath = full(temp, "upload");
    const target = full(path, "upload");
    // the previous upload's rename rides in this upload's first batch
    const rename = takePending();
    let before = rename.commands;
    let port: number;
    try {
      const ahead = takePrefetched();
      if (ahead === undefined) {
        const replies = await sendPipelined(client.ftp, [...before, usePasv ? "PASV" : "EPSV"]);
        rename.read(replies);
        before = [];
        port = await passive(replies.at(-1));
      } else port = ahead;
    } catch (error) {
      rename.fail(error);
      throw error;
    }
    // A small file is read in one go: cheaper than a stream (open, reads, close through the thread pool) per file.
    let input: string | Readable | Buffer = source;
    if (typeof source === "string") {
      const size = statSync(source).size;
      if (size > 0 && size <= _INLINE_MAX_BYTES) input = readFileSync(source);
    }
    if (client.ftp.hasTLS && !Buffer.isBuffer(input)) input = await _delayEmptyEnd(input);
    // SIZE rides behind STOR (the server answers it once the file is complete), then the next passive port.
    const sizeAfter = opts.expectedSize !== undefined && features.has("SIZE");
    const deferred = opts.onPlaced !== undefined;
    const after = [...(sizeAfter ? [`SIZE ${tempPath}`] : []), ...(deferred ? [nextPassive()] : [])];
    let replies: PipelinedReply[];
    try {
      replies = await storeTo(client.ftp, input, `STOR ${tempPath}`, {
        port,
        before,
        after,
        ...(checkData ? { checkData } : {}),
      });
    } catch (error) {
      if (before.length > 0) rename.fail(error);
      throw error;
    }
    if (before.length > 0) rename.read(replies);
    const own = replies.slice(before.length);
    okReply(own[0], "STOR");
    if (deferred) keepPassive(own.at(-1));
    if (opts.expectedSize !== undefined) {
      const size = sizeAfter ? _sizeOf(own[1]) : await _remoteSize(tempPath, temp);
      if (size !== opts.expectedSize) {
        throw new SiteloomError(
          "ERR_TRANSFER_IO",
          `size check failed after upload: the server has ${size ?? "no"} bytes, expected ${opts.expectedSize}`,
        );
      }
    }
    if (opts.onPlaced && opts.keepPrevious === undefined) {
      pending = { from: tempPath, to: target, onPlaced: opts.onPlaced };
      return;
    }
    const aside = opts.keepPrevious === undefined ? undefined : full(opts.keepPrevious, "rename");
    const moved = aside !== undefined && (await _moveAside(target, aside));
    const renamed = await sendPipelined(client.ftp, [`RNFR ${tempPath}`, `RNTO ${target}`, nextPassive()]);
    try {
      okReply(renamed[0], "RNFR");
      okReply(renamed[1], "RNTO");
    } catch (error) {
      // the kept version goes back under its name: a failed file keeps its old version live
      if (moved) await sendPipelined(client.ftp, [`RNFR ${aside}`, `RNTO ${target}`]).catch(() => {});
      throw error;
    }
    keepPassive(renamed[2]);
  }

  /** RNFR/RNTO of the version at `target` to `aside`; false when there was none (a missing file is not an error). */
  async function _moveAside(target: string, aside: string): Promise<boolean> {
    const [from, to] = await sendPipelined(client.ftp, [`RNFR ${target}`, `RNTO ${aside}`]);
    if (from instanceof FTPError && _isMissing(from)) return false;
    okReply(from, "RNFR");
    okReply(to, "RNTO");
    return true;
  }

  /**
   * The listing of `target` in the round trips of a download: CWD and the passive port in one batch, then the list
   * command sent as soon as the data connection is open, the text read into memory (within _LISTING_MAX_BYTES) and
   * parsed. Undefined when the server refused the list command (basic-ftp then tries the others, one at a time).
   */
  async function _listFast(target: string, dir: string): Promise<FileInfo[] | undefined> {
    const command = client.availableListCommands[0];
    if (command === undefined || pipeliningNow() === "off") return undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > _LISTING_MAX_BYTES) {
          done(
            new SiteloomError(
              "ERR_TRANSFER_LIMIT",
              `${label}: the listing of "${printablePath(dir)}" is larger than ${_LISTING_MAX_BYTES} bytes: not read`,
            ),
          );
          return;
        }
        chunks.push(chunk);
        done();
      },
    });
    // CWD with the passive port request in one batch (checked and probed like every batch); the list command then
    // goes alone, as the data connection opens
    const ahead = takePrefetched();
    const replies = await sendPipelined(client.ftp, [`CWD ${target}`, ...(ahead === undefined ? [nextPassive()] : [])]);
    okReply(replies[0], "CWD");
    const port = ahead ?? (await passive(replies[1]));
    const [reply] = await retrieveTo(client.ftp, sink, command, { port, ...(checkData ? { checkData } : {}) });
    if (reply instanceof FTPError && !_isMissing(reply)) return undefined;
    okReply(reply, command);
    listing = splitRemotePath(dir).join("/");
    return client.parseList(Buffer.concat(chunks).toString(client.ftp.encoding));
  }

  /** Size of a file on the server without SIZE: MLST, else its directory's listing. */
  async function _remoteSize(target: string, path: string): Promise<number | undefined> {
    const segments = splitRemotePath(path, "stat");
    const name = segments.pop() ?? "";
    const quick = await _quickStat(client, features, target, name);
    if (quick !== null) return quick?.size;
    return (await listDir(segments.join("/"))).find((entry) => entry.name === name)?.size;
  }

  const full = (path: string, op: string) => joinRemote(root, path, op);
  let rootExists = false;

  async function listDir(dir: string): Promise<RemoteEntry[]> {
    const target = full(dir, "list");
    // CWD then a bare listing: LIST arguments with spaces are parsed differently by every server.
    const fast = await _listFast(target, dir);
    if (fast === undefined) await client.cd(target);
    listing = splitRemotePath(dir).join("/");
    const raw =
      fast ??
      (await client.list().catch((error: unknown) => {
        if (error instanceof Error && /Maximum bytes exceeded/.test(error.message)) {
          throw new SiteloomError(
            "ERR_TRANSFER_LIMIT",
            `${label}: the listing of "${printablePath(dir)}" is larger than ${_LISTING_MAX_BYTES} bytes: not read`,
          );
        }
        throw error;
      }));
    const mapped = raw.map(_toEntry).filter((entry): entry is RemoteEntry => entry !== undefined);
    if (mapped.some((entry) => entry.type === "symlink" && !entry.target)) {
      // MLSD (pure-ftpd: "type=OS.unix=slink:") may omit link targets; LIST shows "name -> target".
      const saved = client.availableListCommands;
      client.availableListCommands = ["LIST -a", "LIST"];
      try {
        listing = undefined; // reported once, by the first listing
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
    return filterListing(mapped, { root, dir: relDir, onUnsafe: options.onUnsafe });
  }

  const fs: RemoteFS = {
    protocol,
    get closed() {
      return client.closed;
    },
    list: (dir) => serial(() => _op("list", dir, () => listDir(dir), label)),
    stat: (path) =>
      serial(() =>
        _op(
          "stat",
          path,
          async () => {
            const segments = splitRemotePath(path, "stat");
            const name = segments.pop();
            if (name === undefined) return { name: "", type: "dir", size: 0, mtime: undefined };
            // One or two commands instead of listing a directory that may hold thousands of files.
            const quick = await _quickStat(client, features, full(path, "stat"), name);
            if (quick !== null) return quick;
            try {
              const entries = await listDir(segments.join("/"));
              return entries.find((entry) => entry.name === name);
            } catch (error) {
              if (_isMissing(error)) return undefined;
              throw error;
            }
          },
          label,
        ),
      ),
    download: (path, localFile, downloadOptions = {}) =>
      serial(
        () =>
          _op(
            "download",
            path,
            async () => {
              const target = full(path, "download");
              // The local file is made once the data flows; a refused or broken download leaves none behind (its
              // stream is closed first: removing a file still being opened would let the open re-create it).
              let file: Writable | undefined;
              const discard = async () => {
                if (file !== undefined && !file.closed)
                  await new Promise<void>((done) => file?.once("close", () => done()));
                await rm(localFile, { force: true });
              };
              const found = await retrieve(target, () => {
                file = createCappedFileStream(localFile, downloadOptions.maxBytes, path);
                return file;
              }).catch(async (error: unknown) => {
                await discard();
                throw error;
              });
              if (!found) {
                await discard();
                throw new FTPError({ code: 550, message: `550 ${printablePath(path)}: no such file` });
              }
            },
            label,
          ),
        "transfer",
      ),
    read: (path) =>
      serial(
        () =>
          _op(
            "read",
            path,
            async () => {
              const chunks: Buffer[] = [];
              const sink = new Writable({
                write(chunk: Buffer, _encoding, callback) {
                  chunks.push(chunk);
                  callback();
                },
              });
              if (!(await retrieve(full(path, "read"), sink))) return undefined;
              return Buffer.concat(chunks);
            },
            label,
          ),
        "transfer",
      ),
    upload: (source, path, uploadOptions = {}) =>
      serial(() =>
        _op(
          "upload",
          path,
          async () => {
            const target = full(path, "upload");
            const startAt = uploadOptions.startAt ?? 0;
            if (startAt <= 0) {
              await client.uploadFrom(client.ftp.hasTLS ? await _delayEmptyEnd(source) : source, target);
              return;
            }
            await _resume(client, target, startAt, path);
            // REST + STOR, never APPE: an earlier attempt's server process may still be writing this file (its
            // session died, its data was still in flight). Its writes and ours land at their own offsets with the
            // same bytes, where an APPE would put ours after its late ones. REST is sent alone: a server refusing
            // it must not see a STOR that would overwrite the file from byte 0.
            // the data port first: STOR must follow REST at once (RFC 959; some servers forget the offset otherwise)
            const port = await passive();
            const [rest] = await sendPipelined(client.ftp, [`REST ${startAt}`]);
            if (rest instanceof FTPError || rest?.code !== 350) {
              throw new SiteloomError(
                "ERR_TRANSFER_IO",
                `the server does not resume uploads (REST ${startAt}: ${_replyText(rest)}); upload "${printablePath(path)}" again from the start`,
              );
            }
            // through the same data path as every other transfer (a refusal that resets the data connection reads
            // as the refusal: ProFTPD without AllowStoreRestart)
            const [reply] = await storeTo(client.ftp, source, `STOR ${target}`, {
              port,
              ...(typeof source === "string" ? { localStart: startAt } : {}),
              ...(checkData ? { checkData } : {}),
            });
            okReply(reply, "STOR");
          },
          label,
        ),
      ),
    rename: (from, to) =>
      serial(() =>
        _op(
          "rename",
          from,
          async () => {
            // RNFR and RNTO in one round trip (a refused RNFR makes the server refuse RNTO too: its reply is the one)
            const [source, target] = await sendPipelined(client.ftp, [
              `RNFR ${full(from, "rename")}`,
              `RNTO ${full(to, "rename")}`,
            ]);
            okReply(source, "RNFR");
            okReply(target, "RNTO");
          },
          label,
        ),
      ),
    remove: (path) =>
      serial(
        () =>
          _op(
            "remove",
            path,
            async () => {
              await client.remove(full(path, "remove"));
            },
            label,
          ),
        "command",
      ),
    removeEmptyDir: (path) =>
      serial(
        () =>
          _op(
            "remove directory",
            path,
            async () => {
              await client.removeEmptyDir(fullDir(path));
            },
            label,
          ),
        "command",
      ),
    removeDir: (path) =>
      serial(() =>
        _op(
          "remove directory",
          path,
          async () => {
            fullDir(path);
            await _removeTree(path);
          },
          label,
        ),
      ),
    mkdir: (path) =>
      serial(() =>
        _op(
          "mkdir",
          path,
          async () => {
            const segments = splitRemotePath(path, "mkdir");
            // Fast path: it exists already (one CWD).
            try {
              await client.cd(full(path, "mkdir"));
              rootExists = true;
              return;
            } catch (error) {
              if (!(error instanceof FTPError)) throw error;
            }
            // The root itself may not exist yet (a first deploy into a new folder): create it as well.
            const prefixes = rootExists ? [] : _ancestors(root);
            for (let i = 1; i <= segments.length; i++) prefixes.push(full(segments.slice(0, i).join("/"), "mkdir"));
            for (const prefix of prefixes) {
              try {
                await client.send(`MKD ${prefix}`);
              } catch (error) {
                // 550/521 when it exists: confirm by entering it; anything else is a real error.
                if (!(error instanceof FTPError)) throw error;
                await client.cd(prefix);
              }
            }
            rootExists = true;
          },
          label,
        ),
      ),
    put: (source, temp, path, putOptions = {}) =>
      serial(() => _op("upload", path, () => put(source, temp, path, putOptions), label), "put"),
    // at the end of a deploy phase: the next phase's first upload on this connection finds its passive port ready
    flush: () => serial(() => _op("rename", pending?.to ?? "", () => flushPending(true), label), "put"),
    mkdirMany: (paths) =>
      serial(() =>
        _op(
          "mkdir",
          paths[0] ?? "",
          async () => {
            // Parents come first in `paths` and the server runs pipelined commands in order.
            const targets = [...(rootExists ? [] : _ancestors(root)), ...paths.map((path) => full(path, "mkdir"))];
            for (let i = 0; i < targets.length; i += _PIPELINE_BATCH) {
              const batch = targets.slice(i, i + _PIPELINE_BATCH);
              const replies = await sendPipelined(
                client.ftp,
                batch.map((target) => `MKD ${target}`),
              );
              // 550/521 when it exists: confirm by entering it (all in one batch); otherwise report the MKD reply.
              const refused = batch.filter((_, j) => replies[j] instanceof FTPError);
              if (refused.length === 0) continue;
              const entered = await sendPipelined(
                client.ftp,
                refused.map((target) => `CWD ${target}`),
              );
              const failed = entered.findIndex((reply) => reply === undefined || reply instanceof FTPError);
              if (failed >= 0) throw replies[batch.indexOf(refused[failed]!)];
            }
            rootExists = true;
          },
          label,
        ),
      ),
    async close() {
      await queue.catch(() => undefined);
      // a rename never sent: the caller learns the file is not in place
      takePending().fail(new Error("the connection was closed before the rename was sent"));
      client.close();
    },
  };

  /** The server path of a directory to remove; never the remote root itself. */
  function fullDir(path: string): string {
    if (splitRemotePath(path, "remove").length === 0) {
      throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `${label}: refusing to remove the remote root itself`);
    }
    return full(path, "remove");
  }

  async function _removeTree(path: string): Promise<void> {
    // Our own walk over checked listings: basic-ftp's removeDir would act on whatever names the server sends.
    for (const entry of await listDir(path)) {
      const child = path === "" ? entry.name : `${path}/${entry.name}`;
      if (entry.type === "dir") await _removeTree(child);
      else await client.remove(full(child, "remove"));
    }
    await client.removeEmptyDir(full(path, "remove"));
  }

  return fs;
}

/** SHA-256 fingerprint in the canonical `AB:CD:…` form, for comparisons and messages. */
export function normalizeFingerprint(value: string): string {
  const hex = value
    .replace(/^sha-?256:?/i, "")
    .replace(/[^0-9a-f]/gi, "")
    .toUpperCase();
  return hex.match(/.{2}/g)?.join(":") ?? "";
}

// --- internal ---

/**
 * stat without a listing: MLST where the server has it, else SIZE + MDTM for plain files. Returns null when only a
 * listing can tell (directories and symlinks on LIST-only servers, symlinks whose target MLST does not give).
 */
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
      if (_isMissing(error)) return undefined;
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
  const size = _sizeOf(sizeReply);
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

/** "/a/b/c" → ["/a", "/a/b", "/a/b/c"] ("/" has none). */
function _ancestors(root: string): string[] {
  const parts = root.split("/").filter((part) => part !== "");
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

/** "213 10011" → 10011; undefined for an error reply (no such file). */
function _sizeOf(reply: PipelinedReply | undefined): number | undefined {
  if (reply === undefined || reply instanceof FTPError) return undefined;
  const match = /^213\s+(\d+)/.exec(reply.message.trim());
  return match ? Number(match[1]) : undefined;
}

/** FEAT's multi-line reply: " MLST type*;size*;" → MLST → "type*;size*;". A refused FEAT means no features. */
function _parseFeatures(reply: PipelinedReply | undefined): Map<string, string> {
  const features = new Map<string, string>();
  if (reply === undefined || reply instanceof FTPError) return features;
  for (const line of reply.message.split("\n").slice(1, -1)) {
    const [name, value] = line.trim().split(" ");
    if (name) features.set(name.toUpperCase(), value ?? "");
  }
  return features;
}

/** `257 "/the/dir" is the current directory` → /the/dir (a doubled quote inside stands for one). */
function _parsePwd(reply: { message: string }): string {
  const match = /"((?:[^"]|"")+)"/.exec(reply.message);
  if (!match?.[1]) throw new Error(`cannot read the directory from the reply "${printable(reply.message.trim())}"`);
  return match[1].replace(/""/g, '"');
}

function _tlsOptions(options: FtpRemoteOptions): TlsOptions {
  const tls: TlsOptions = { host: options.host, minVersion: "TLSv1.2" };
  if (options.ca !== undefined) tls.ca = options.ca;
  // A pinned fingerprint replaces chain verification (self-signed hosts); it is checked by hand before login.
  if (options.insecure || options.tlsFingerprint) tls.rejectUnauthorized = false;
  if (/^[0-9.]+$/.test(options.host) || options.host.includes(":")) {
    // SNI must not carry an IP address; Node warns otherwise.
  } else {
    tls.servername = options.host;
  }
  return tls;
}

function _checkFingerprint(socket: TLSSocket, options: FtpRemoteOptions, label: string): void {
  const cert = socket.getPeerCertificate();
  const actual = normalizeFingerprint(cert?.fingerprint256 ?? "");
  const expected = normalizeFingerprint(options.tlsFingerprint ?? "");
  if (actual === "" || actual !== expected) {
    socket.destroy();
    throw new SiteloomError(
      "ERR_TRANSFER_TLS",
      `${label}: the server's TLS certificate does not match remote.tlsFingerprint (got ${actual || "no certificate"}); ` +
        "if the host changed its certificate on purpose, update remote.tlsFingerprint",
    );
  }
}

/** Data connections are new TLS sockets: check their certificate against the pin too. */
function _pinDataConnections(client: Client, checkData: (socket: TLSSocket) => void): void {
  let inner = client.prepareTransfer;
  Object.defineProperty(client, "prepareTransfer", {
    configurable: true,
    get() {
      return async (ftp: Client["ftp"]) => {
        const response = await inner(ftp);
        const data = ftp.dataSocket as TLSSocket | undefined;
        if (data && typeof data.getPeerCertificate === "function") {
          const check = () => {
            try {
              checkData(data);
            } catch (error) {
              ftp.closeWithError(error as Error);
            }
          };
          if (data.encrypted && (data as TLSSocket & { _secureEstablished?: boolean })._secureEstablished) check();
          else data.once("secureConnect", check);
        }
        return response;
      };
    },
    set(strategy) {
      inner = strategy;
    },
  });
}

/** Checks that the server holds exactly the first `startAt` bytes of an upload to resume. */
async function _resume(client: Client, target: string, startAt: number, path: string): Promise<void> {
  const size = await client.size(target).catch(() => -1);
  if (size !== startAt) {
    throw new SiteloomError(
      "ERR_TRANSFER_IO",
      `cannot resume the upload of "${printablePath(path)}" at byte ${startAt}: the server holds ${size < 0 ? "no such file" : `${size} bytes`}; upload it again from the start`,
    );
  }
}

function _replyText(reply: PipelinedReply | undefined): string {
  if (reply === undefined) return "no reply";
  return printable(reply.message.trim());
}

/**
 * vsftpd (OpenSSL) answers a TLS data connection that closes right after its handshake with a "decode error" alert,
 * which kills the session: an empty upload must not end at once. Non-empty sources pass through unchanged.
 */
async function _delayEmptyEnd(source: string | Readable): Promise<string | Readable> {
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

const _EMPTY_UPLOAD_DELAY_MS = 100;

/** A prefetched passive port older than this is not trusted (servers stop listening after a while). */
const _PREFETCH_MAX_AGE_MS = 5_000;

/** Files up to this size are read whole before an upload instead of streamed. */
const _INLINE_MAX_BYTES = 1 << 20;

/** Bytes of one directory listing at most (about 100,000 entries); a larger one is refused while it streams. */
const _LISTING_MAX_BYTES = 16 * 1024 * 1024;

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

/** Commands per pipelined write (directory creation). */
const _PIPELINE_BATCH = 100;

async function* _emptyAfter(ms: number): AsyncGenerator<Buffer> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

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

/**
 * "No such file": 550/450 as real hosts answer (vsftpd, pure-ftpd, ProFTPD), and the other 55x replies when their
 * text says the file is not there — ftp-srv, for one, answers a RETR of a missing file with "551 ENOENT: no such
 * file or directory". A 55x about anything else (permissions, quota) stays an error.
 */
function _isMissing(error: unknown): boolean {
  if (!(error instanceof FTPError)) return false;
  if (error.code === 550 || error.code === 450) return true;
  return error.code >= 551 && error.code <= 559 && NOT_FOUND_TEXT.test(error.message);
}

const NOT_FOUND_TEXT = /\bENOENT\b|no such file|not found|not exist|doesn't exist/i;

async function _op<T>(op: string, path: string, fn: () => Promise<T>, label: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw _opError(error, op, path, label);
  }
}

function _opError(error: unknown, op: string, path: string, label: string): SiteloomError {
  if (error instanceof SiteloomError) return error;
  if (error instanceof PipeliningError) {
    // connection-level: the pool gives this session up and runs the operation again on a fresh one
    return new SiteloomError(
      "ERR_TRANSFER_CONNECT",
      `${label}: cannot ${op} "${printablePath(path)}": ${printable(error.message)}`,
      {
        cause: error,
      },
    );
  }
  const what = `${label}: cannot ${op} "${printablePath(path)}"`;
  if (error instanceof FTPError) {
    const reply = printable(`${error.message}`.trim());
    const code = error.code === 421 ? "ERR_TRANSFER_CONNECT" : "ERR_TRANSFER_IO";
    return new SiteloomError(code, `${what}: server replied ${reply}`, { cause: error });
  }
  const message = printable(error instanceof Error ? error.message : String(error));
  if (isConnectionError(error)) {
    return new SiteloomError("ERR_TRANSFER_CONNECT", `${what}: connection lost (${message})`, { cause: error });
  }
  return new SiteloomError("ERR_TRANSFER_IO", `${what}: ${message}`, { cause: error });
}

function _connectError(error: unknown, label: string, options: FtpRemoteOptions): SiteloomError {
  if (error instanceof SiteloomError) return error;
  // a login reply is the first thing a hostile server controls: ESC[2J, OSC titles and BEL stay inert
  const message = printable(error instanceof Error ? error.message : String(error));
  const code = (error as NodeJS.ErrnoException).code;
  if (error instanceof FTPError && error.code === 530) {
    return new SiteloomError(
      "ERR_TRANSFER_AUTH",
      `${label}: login as "${printable(options.user ?? "anonymous")}" refused (${message.trim()}); check remote.user and remote.password`,
      { cause: error },
    );
  }
  if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|HOSTNAME/.test(code)) {
    return new SiteloomError(
      "ERR_TRANSFER_TLS",
      `${label}: TLS certificate not trusted (${message}); pin it with remote.tlsFingerprint or remote.caFile`,
      { cause: error },
    );
  }
  if (error instanceof FTPError) {
    return new SiteloomError("ERR_TRANSFER_CONNECT", `${label}: server refused the session: ${message.trim()}`, {
      cause: error,
    });
  }
  return new SiteloomError("ERR_TRANSFER_CONNECT", `${label}: cannot connect (${message})`, { cause: error });
}
