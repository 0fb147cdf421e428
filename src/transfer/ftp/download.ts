// Downloads and listings over FTP in the round trips of the transfer itself: the command goes out as the data
// connection opens (with the commands it needs, such as a CWD, in the same write), and the passive port of the next
// transfer is asked for behind it, so that its reply follows the 226 and the next file or listing connects at once.
// A server that loses a port asked for this way (ftp-srv closes it as it tears the finished transfer down) refuses
// the next transfer: it is sent again on a fresh port, and this session asks for ports afresh from then on.
import type { Writable } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Client } from "basic-ftp";
import { FTPError } from "basic-ftp";
import { isMissing } from "./errors.ts";
import type { PassivePorts } from "./passive.ts";
import { type PipelinedReply, retrieveTo } from "./pipeline.ts";

/** What a retriever works with: the session's connection and state. */
export interface FtpRetrieverContext {
  client: Client;
  passive: PassivePorts;
  /** The pinned-certificate check of data connections, if any. */
  checkData: ((socket: TLSSocket) => void) | undefined;
}

/**
 * Runs a command that reads a data connection (`RETR path`, `LIST -a`) into what `sink` makes once the data
 * flows (a fresh one each time: a command sent again on a fresh port writes into a new one), with `before` pipelined
 * ahead of it. Resolves with the replies to `before` and the command, in that order; error replies are returned, not
 * thrown (see pipeline.ts `retrieveTo`).
 */
export type FtpRetrieve = (command: string, sink: () => Writable, before?: string[]) => Promise<PipelinedReply[]>;

/** The retriever of one session (run by its serial queue, one at a time). */
export function createFtpRetriever(ctx: FtpRetrieverContext): FtpRetrieve {
  const { client, passive } = ctx;
  // whether the next port is asked for behind each transfer; off for good once the server lost one
  let behind = true;
  // the port waiting now was asked for behind a transfer of ours
  let askedBehind = false;

  async function run(command: string, sink: () => Writable, before: string[]): Promise<PipelinedReply[]> {
    const ahead = passive.take();
    const risky = ahead !== undefined && askedBehind;
    askedBehind = false;
    const port = ahead ?? (await passive.get());
    const after = behind ? [passive.next()] : [];
    const replies = await retrieveTo(client.ftp, sink, command, { port, before, after, checkData: ctx.checkData });
    const own = replies[before.length];
    if (risky && own instanceof FTPError && !isMissing(own) && !before.some((_, i) => replies[i] instanceof FTPError)) {
      // refused on a port asked for behind the previous transfer: once more on a fresh one, and no more asking ahead
      behind = false;
      passive.drop();
      return run(command, sink, before);
    }
    if (after.length > 0) {
      passive.keep(replies.at(-1));
      askedBehind = true;
    }
    return replies.slice(0, before.length + 1);
  }

  return (command, sink, before = []) => run(command, sink, before);
}
