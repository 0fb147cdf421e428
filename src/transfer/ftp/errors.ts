// How FTP failures read: "no such file" told apart from real refusals, and every other failure turned into one
// SiteloomError naming the server, the operation and the path.
import { FTPError } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";
import { printable } from "../../printable.ts";
import { printablePath } from "../paths.ts";
import { isConnectionError } from "../pool.ts";
import { type PipelinedReply, PipeliningError } from "./pipeline.ts";

/**
 * "No such file": 550/450 as real hosts answer (vsftpd, pure-ftpd, ProFTPD), and the other 55x replies when their
 * text says the file is not there — ftp-srv, for one, answers a RETR of a missing file with "551 ENOENT: no such
 * file or directory". A 55x about anything else (permissions, quota) stays an error.
 */
export function isMissing(error: unknown): boolean {
  if (!(error instanceof FTPError)) return false;
  if (error.code === 550 || error.code === 450) return true;
  return error.code >= 551 && error.code <= 559 && NOT_FOUND_TEXT.test(error.message);
}

/** Runs `fn`, turning its failure into the operation's SiteloomError. */
export async function runOp<T>(op: string, path: string, fn: () => Promise<T>, label: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw opError(error, op, path, label);
  }
}

/** The SiteloomError of a failed operation: connection-level ones are ERR_TRANSFER_CONNECT (the pool retries them). */
export function opError(error: unknown, op: string, path: string, label: string): SiteloomError {
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

/** A reply's text for a message, inert whatever the server sent. */
export function replyText(reply: PipelinedReply | undefined): string {
  if (reply === undefined) return "no reply";
  return printable(reply.message.trim());
}

// --- internal ---

const NOT_FOUND_TEXT = /\bENOENT\b|no such file|not found|not exist|doesn't exist/i;
