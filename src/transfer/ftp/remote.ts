// The FTP/FTPS RemoteFS: one logged-in control connection (session.ts) whose operations run one at a time, with the
// passive port of the next transfer asked for ahead of time (passive.ts), downloads and listings that ask for it behind
// themselves (download.ts), atomic uploads (upload.ts) whose renames ride in the next batch (rename-batch.ts), and
// checked listings (listing.ts). Commands go out pipelined (pipeline.ts).
import { rm } from "node:fs/promises";
import { posix } from "node:path";
import { Writable } from "node:stream";
import { FTPError } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";
import { guardBackups, realLocation, refuseOverlap } from "../backup-apart.ts";
import { createCappedFileStream } from "../limit.ts";
import { joinRemote, normalizeRoot, printablePath, splitRemotePath } from "../paths.ts";
import type { RemoteFS } from "../types.ts";
import { createFtpRetriever } from "./download.ts";
import { isMissing, replyText, runOp } from "./errors.ts";
import { createFtpLister, LISTING_MAX_BYTES } from "./listing.ts";
import { createPassivePorts } from "./passive.ts";
import { okReply, type PipelinedReply, PipeliningError, sendPipelined, setPipelining, storeTo } from "./pipeline.ts";
import { createRenameBatch } from "./rename-batch.ts";
import { type FtpSession, type FtpRemoteOptions as FtpSessionOptions, openFtpSession, parsePwd } from "./session.ts";
import { createStatLister } from "./stat-listing.ts";
import { pinDataConnections } from "./tls.ts";
import { checkResume, createAtomicPut, delayEmptyEnd } from "./upload.ts";

/** The session's options, and a second root for backups. */
export interface FtpRemoteOptions extends FtpSessionOptions {
  /** The folder of `RemoteFS.backups` (outside the root): absolute, or relative to the login folder. */
  backupRoot?: string | undefined;
}
export { normalizeFingerprint } from "./tls.ts";

/** Connects and logs in one FTP/FTPS control connection and returns it as a RemoteFS. */
export async function createFtpRemote(connectOptions: FtpRemoteOptions): Promise<RemoteFS> {
  const session = await openFtpSession(connectOptions);
  const { client, options, label, features, root, pipelining } = session;
  const pipeliningNow = typeof options.pipelining === "function" ? options.pipelining : () => pipelining;
  const secure = options.secure ?? false;
  // Data connections are new TLS sockets: with a pinned certificate each is checked too.
  const checkData = pinDataConnections(client, { ...options, secure }, label);
  const protocol = secure === false ? "ftp" : "ftps";
  const passive = createPassivePorts(client.ftp, features);
  passive.keep(session.firstPassive);
  const renames = createRenameBatch(client.ftp, passive, label);
  // one STAT lister for both views (site and backup root): its sentinel is learnt once per connection
  const statLister = createStatLister(client.ftp, LISTING_MAX_BYTES, label);
  const fetch = createFtpRetriever({ client, passive, checkData });
  // basic-ftp runs one command at a time per connection; callers (the pool) never share one, but a caller that
  // does must not interleave commands: serialise.
  let queue: Promise<unknown> = Promise.resolve();
  /**
   * Runs operations one at a time. `transfer`: a data transfer that uses a prefetched passive port; `command`: one
   * that opens no data connection (DELE, RMD, RNFR/RNTO, MKD, SIZE/MDTM), so a prefetched port stays good; `put`
   * also carries the pending rename along itself, which any other operation sends first. Others drop the prefetched
   * port.
   */
  function serial<T>(fn: () => Promise<T>, kind: "put" | "transfer" | "command" | "other" = "other"): Promise<T> {
    const run = async () => {
      try {
        setPipelining(client.ftp, pipeliningNow());
        if (kind === "other") passive.drop();
        if (kind !== "put") await renames.flush();
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

  /** RETR into what `sink` makes once the data flows; returns false when the file does not exist. */
  async function retrieve(path: string, sink: () => Writable): Promise<boolean> {
    try {
      const [reply] = await fetch(`RETR ${path}`, sink);
      okReply(reply, "RETR");
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  const siteRoot = root;
  const backupRoot = await _backupRootOf(session, connectOptions.backupRoot, () =>
    serial(() => sendPipelined(client.ftp, ["PWD"])),
  );
  const backupFull =
    backupRoot === undefined ? undefined : (path: string, op: string) => joinRemote(backupRoot, path, op);
  const site = view(siteRoot);
  if (backupRoot === undefined || backupFull === undefined) return site;
  const backups = { ...view(backupRoot), close: async () => {} };
  /** RNFR/RNTO across the two roots in one round trip. */
  const move = (from: string, to: string, path: string) =>
    serial(
      () =>
        runOp(
          "rename",
          path,
          async () => {
            const [source, target] = await sendPipelined(client.ftp, [`RNFR ${from}`, `RNTO ${to}`]);
            okReply(source, "RNFR");
            okReply(target, "RNTO");
          },
          label,
        ),
      "command",
    );
  /** Where a folder really is: PWD after CWD (undefined when it cannot be entered). */
  const realFolder = (path: string) =>
    serial(async () => {
      const [cwd, pwd] = await sendPipelined(client.ftp, [`CWD ${path}`, "PWD"]);
      if (cwd instanceof FTPError) return undefined;
      return parsePwd(okReply(pwd, "PWD"));
    }, "command");
  const apart = async () =>
    refuseOverlap(
      await realLocation(siteRoot, realFolder),
      await realLocation(backupRoot, realFolder),
      connectOptions.backupRoot ?? backupRoot,
    );
  return guardBackups(
    {
      ...site,
      get closed() {
        return client.closed;
      },
      backups: {
        root: connectOptions.backupRoot ?? backupRoot,
        fs: backups,
        moveIn: async (from, to) => move(joinRemote(siteRoot, from, "rename"), backupFull(to, "rename"), from),
        moveOut: async (from, to) => move(backupFull(from, "rename"), joinRemote(siteRoot, to, "rename"), to),
      },
    },
    apart,
  );

  /** The file system of one root over this connection (the site's, or the backup root's). */
  function view(root: string): RemoteFS {
    const lister = createFtpLister({
      client,
      features,
      root,
      label,
      passive,
      pipeliningNow,
      fetch,
      onUnsafe: options.onUnsafe,
      statLister,
    });
    const full = (path: string, op: string) => joinRemote(root, path, op);
    const put = createAtomicPut({ client, features, passive, renames, lister, full, backupFull, checkData });
    let rootExists = false;
    // a missing root: the site's is created alone (below a parent that exists), the backup root with its parents
    const toCreate = root === siteRoot ? _ancestors(root).slice(-1) : _ancestors(root);

    const fs: RemoteFS = {
      protocol,
      get closed() {
        return client.closed;
      },
      // a listing is a transfer: it takes the port asked for ahead, and asks for the next one behind it
      list: (dir) => serial(() => runOp("list", dir, () => lister.list(dir), label), "transfer"),
      listMany: (dirs) =>
        serial(() => {
          const each = <T>(dir: string, fn: () => Promise<T>) => runOp("list", dir, fn, label);
          return runOp("list", dirs[0] ?? "", () => lister.listMany(dirs, each), label);
        }, "transfer"),
      stat: (path) =>
        serial(
          () =>
            runOp(
              "stat",
              path,
              async () => {
                const segments = splitRemotePath(path, "stat");
                const name = segments.pop();
                if (name === undefined) return { name: "", type: "dir", size: 0, mtime: undefined };
                // One or two commands instead of listing a directory that may hold thousands of files.
                const quick = await lister.quickStat(full(path, "stat"), name);
                if (quick !== null) return quick;
                try {
                  const entries = await lister.list(segments.join("/"));
                  return entries.find((entry) => entry.name === name);
                } catch (error) {
                  if (isMissing(error)) return undefined;
                  throw error;
                }
              },
              label,
            ),
          // SIZE/MDTM or MLST open no data connection; a listing fallback takes the port itself
          "command",
        ),
      download: (path, localFile, downloadOptions = {}) =>
        serial(
          () =>
            runOp(
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
            runOp(
              "read",
              path,
              async () => {
                let chunks: Buffer[] = [];
                const sink = () => {
                  chunks = [];
                  return new Writable({
                    write(chunk: Buffer, _encoding, callback) {
                      chunks.push(chunk);
                      callback();
                    },
                  });
                };
                if (!(await retrieve(full(path, "read"), sink))) return undefined;
                return Buffer.concat(chunks);
              },
              label,
            ),
          "transfer",
        ),
      upload: (source, path, uploadOptions = {}) =>
        serial(() =>
          runOp(
            "upload",
            path,
            async () => {
              const target = full(path, "upload");
              const startAt = uploadOptions.startAt ?? 0;
              if (startAt <= 0) {
                await client.uploadFrom(client.ftp.hasTLS ? await delayEmptyEnd(source) : source, target);
                return;
              }
              await checkResume(client, target, startAt, path);
              // REST + STOR, never APPE: an earlier attempt's server process may still be writing this file (its
              // session died, its data was still in flight). Its writes and ours land at their own offsets with the
              // same bytes, where an APPE would put ours after its late ones. REST is sent alone: a server refusing
              // it must not see a STOR that would overwrite the file from byte 0.
              // the data port first: STOR must follow REST at once (RFC 959; some servers forget the offset otherwise)
              const port = await passive.get();
              const [rest] = await sendPipelined(client.ftp, [`REST ${startAt}`]);
              if (rest instanceof FTPError || rest?.code !== 350) {
                throw new SiteloomError(
                  "ERR_TRANSFER_IO",
                  `the server does not resume uploads (REST ${startAt}: ${replyText(rest)}); upload "${printablePath(path)}" again from the start`,
                );
              }
              // through the same data path as every other transfer (a refusal that resets the data connection reads
              // as the refusal: ProFTPD without AllowStoreRestart)
              const [reply] = await storeTo(client.ftp, source, `STOR ${target}`, {
                port,
                ...(typeof source === "string" ? { localStart: startAt } : {}),
                checkData,
              });
              okReply(reply, "STOR");
            },
            label,
          ),
        ),
      rename: (from, to) =>
        serial(
          () =>
            runOp(
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
          "command",
        ),
      remove: (path) =>
        serial(
          () =>
            runOp(
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
            runOp(
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
          runOp(
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
          runOp(
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
              const prefixes = rootExists ? [] : toCreate;
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
        serial(() => runOp("upload", path, () => put(source, temp, path, putOptions), label), "put"),
      // at the end of a deploy phase: the next phase's first upload on this connection finds its passive port ready
      flush: () => serial(() => runOp("rename", renames.target ?? "", () => renames.flush(true), label), "put"),
      mkdirMany: (paths) =>
        serial(
          () =>
            runOp(
              "mkdir",
              paths[0] ?? "",
              async () => {
                // Parents come first in `paths` and the server runs pipelined commands in order.
                const targets = [...(rootExists ? [] : toCreate), ...paths.map((path) => full(path, "mkdir"))];
                // 550/521 when it exists: confirmed by entering it. Pipelined, each MKD goes out with its CWD, so a
                // folder that is there already (the root, a parent) costs no round trip of its own; one command at a
                // time, only the refused ones are entered, in a second batch.
                const together = pipeliningNow() !== "off";
                const size = together ? _PIPELINE_BATCH / 2 : _PIPELINE_BATCH;
                for (let i = 0; i < targets.length; i += size) {
                  const batch = targets.slice(i, i + size);
                  const replies = await sendPipelined(
                    client.ftp,
                    batch.flatMap((target) => (together ? [`MKD ${target}`, `CWD ${target}`] : [`MKD ${target}`])),
                  );
                  const made = together ? replies.filter((_, j) => j % 2 === 0) : replies;
                  const refused = batch.filter((_, j) => made[j] instanceof FTPError);
                  if (refused.length === 0) continue;
                  const entered = together
                    ? replies.filter((_, j) => j % 2 === 1 && made[(j - 1) / 2] instanceof FTPError)
                    : await sendPipelined(
                        client.ftp,
                        refused.map((target) => `CWD ${target}`),
                      );
                  // neither made nor there: the MKD reply says why
                  const failed = entered.findIndex((reply) => reply === undefined || reply instanceof FTPError);
                  if (failed >= 0) throw made[batch.indexOf(refused[failed]!)];
                }
                rootExists = true;
              },
              label,
            ),
          "command",
        ),
      async close() {
        await queue.catch(() => undefined);
        // a rename never sent: the caller learns the file is not in place
        renames.take().fail(new Error("the connection was closed before the rename was sent"));
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
      for (const entry of await lister.list(path)) {
        const child = path === "" ? entry.name : `${path}/${entry.name}`;
        if (entry.type === "dir") await _removeTree(child);
        else await client.remove(full(child, "remove"));
      }
      await client.removeEmptyDir(full(path, "remove"));
    }

    return fs;
  }
}

// --- internal ---

/** "/a/b/c" → ["/a", "/a/b", "/a/b/c"] ("/" has none). */
function _ancestors(root: string): string[] {
  const parts = root.split("/").filter((part) => part !== "");
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

/**
 * The backup root as a server path (FtpRemoteOptions.backupRoot): a relative one is taken from the login folder, which
 * the session knows when remote.root is relative too, else asks for (`pwd`, before any CWD).
 */
async function _backupRootOf(
  session: FtpSession,
  wanted: string | undefined,
  pwd: () => Promise<PipelinedReply[]>,
): Promise<string | undefined> {
  if (wanted === undefined) return undefined;
  const dir = normalizeRoot(wanted);
  if (dir.startsWith("/")) return dir;
  const asked = normalizeRoot(session.options.root ?? "/");
  let login: string;
  if (!asked.startsWith("/")) {
    login = asked === "." ? session.root : session.root.slice(0, session.root.length - asked.length);
  } else {
    const [reply] = await pwd();
    login = parsePwd(okReply(reply, "PWD"));
  }
  return normalizeRoot(posix.join(login, dir));
}

/** Commands per pipelined write (directory creation). */
const _PIPELINE_BATCH = 100;
