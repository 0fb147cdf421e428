// One FTP/FTPS control connection, connected and logged in: the TLS handshake (a pinned certificate checked before
// the password goes out), then login and session settings in one pipelined round trip.
import type { TLSSocket } from "node:tls";
import { Client, FTPError } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";
import { printable } from "../../printable.ts";
import type { Secret } from "../../secret.ts";
import type { UnsafeEntryHandler } from "../paths.ts";
import { normalizeRoot } from "../paths.ts";
import { LISTING_MAX_BYTES } from "./listing.ts";
import {
  okReply,
  type PipelinedReply,
  PipeliningError,
  type PipeliningMode,
  sendPipelined,
  setPipelining,
} from "./pipeline.ts";
import { checkFingerprint, tlsOptions } from "./tls.ts";

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

/** A logged-in control connection and what its login told. */
export interface FtpSession {
  client: Client;
  /** The options the session was opened with (after a fallback to `pipelining: "off"`, those). */
  options: FtpRemoteOptions;
  /** `ftp://host:port` or `ftps://host:port`, for messages. */
  label: string;
  /** FEAT's features by upper-case name. */
  features: Map<string, string>;
  /** The absolute server directory of the site. */
  root: string;
  /** The reply to the EPSV sent with the login: a passive port for the first transfer. */
  firstPassive: PipelinedReply | undefined;
  /** The pipelining mode this session logged in with (`options.pipelining`, asked once when it is a function). */
  pipelining: PipeliningMode;
}

/**
 * Connects and logs in. A login batch that a server answers garbled (pipelining "auto") is redone one command at a
 * time, and `onPipeliningFault` is told.
 */
export async function openFtpSession(options: FtpRemoteOptions): Promise<FtpSession> {
  const secure = options.secure ?? false;
  const encoding = options.encoding ?? "utf8";
  const port = options.port ?? (secure === "implicit" ? 990 : 21);
  const label = `${secure === false ? "ftp" : "ftps"}://${options.host}:${port}`;
  const client = new Client(options.timeoutMs ?? 30_000, { maxListingBytes: LISTING_MAX_BYTES });
  client.ftp.encoding = encoding;
  const pipelining = typeof options.pipelining === "function" ? options.pipelining() : (options.pipelining ?? "auto");
  setPipelining(client.ftp, pipelining);
  if (options.debug) {
    client.ftp.verbose = true;
    // the trace shows server replies and listings: inert, whatever the server sends
    client.ftp.log = (message: string) => options.debug?.(printable(message, { newlines: "keep" }));
  }
  const tls = tlsOptions(options);
  let root = normalizeRoot(options.root ?? "/");
  try {
    if (secure === "implicit") await client.connectImplicitTLS(options.host, port, tls);
    else await client.connect(options.host, port);
    if (secure === "explicit") await client.useTLS(tls);
    // Check a pinned certificate before the password goes over the wire.
    if (secure !== false && options.tlsFingerprint) checkFingerprint(client.ftp.socket as TLSSocket, options, label);
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
    const features = _parseFeatures(reply("FEAT"));
    okReply(reply("TYPE I"), "TYPE I");
    if (client.ftp.hasTLS) okReply(reply("PROT P"), "PROT P");
    client.availableListCommands = features.has("MLST") ? ["MLSD", "LIST -a", "LIST"] : ["LIST -a", "LIST"];
    if (!root.startsWith("/")) root = normalizeRoot(`${parsePwd(okReply(reply("PWD"), "PWD"))}/${root}`);
    return { client, options, label, features, root, firstPassive: reply("EPSV"), pipelining };
  } catch (error) {
    client.close();
    if (error instanceof PipeliningError && pipelining === "auto") {
      // the login batch came back garbled: log in again one command at a time
      options.onPipeliningFault?.(`${label}: ${printable(error.message)}`);
      return openFtpSession({ ...options, pipelining: "off" });
    }
    throw _connectError(error, label, options);
  }
}

// --- internal ---

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
export function parsePwd(reply: { message: string }): string {
  const match = /"((?:[^"]|"")+)"/.exec(reply.message);
  if (!match?.[1]) throw new Error(`cannot read the directory from the reply "${printable(reply.message.trim())}"`);
  return match[1].replace(/""/g, '"');
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
