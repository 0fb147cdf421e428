// Passive ports of one control connection. A port asked for ahead of time (pipelined behind the login, a rename or a
// transfer) saves the next transfer a round trip of its own; any other command sequence may open its own port,
// which closes that one on most servers, so only transfers keep it.
import { type FTPContext, FTPError } from "basic-ftp";
import { okReply, type PipelinedReply, passivePort, sendPipelined } from "./pipeline.ts";

/** The passive ports of one control connection. */
export interface PassivePorts {
  /** A port for the next transfer: `reply`'s when given, else the prefetched one while still fresh, else a new one. */
  get(reply?: PipelinedReply): Promise<number>;
  /** The prefetched port while still fresh (it is used once either way). */
  take(): number | undefined;
  /** Keeps the port of a passive reply pipelined ahead of time (error and other replies are ignored). */
  keep(reply: PipelinedReply | undefined): void;
  /** Forgets the prefetched port (another command sequence may have closed it). */
  drop(): void;
  /** The passive command to pipeline after a transfer, so that the next one needs no round trip of its own. */
  next(): "PASV" | "EPSV";
}

/** EPSV where the server lists it (or lists neither), else PASV; a refused EPSV switches to PASV for good. */
export function createPassivePorts(ftp: FTPContext, features: Map<string, string>): PassivePorts {
  let usePasv = features.has("PASV") && !features.has("EPSV");
  let prefetched: { port: number; at: number } | undefined;

  function take(): number | undefined {
    const ahead =
      prefetched !== undefined && Date.now() - prefetched.at < _PREFETCH_MAX_AGE_MS ? prefetched : undefined;
    prefetched = undefined;
    return ahead?.port;
  }

  async function get(reply?: PipelinedReply): Promise<number> {
    const ahead = take();
    if (ahead !== undefined && reply === undefined) return ahead;
    const answer = reply ?? (await sendPipelined(ftp, [usePasv ? "PASV" : "EPSV"]))[0];
    if (answer instanceof FTPError && !usePasv) {
      usePasv = true;
      return get();
    }
    return passivePort(okReply(answer, "PASV"));
  }

  return {
    get,
    take,
    keep(reply) {
      if (reply === undefined || reply instanceof FTPError || (reply.code !== 229 && reply.code !== 227)) return;
      prefetched = { port: passivePort(reply), at: Date.now() };
    },
    drop() {
      prefetched = undefined;
    },
    next: () => (usePasv ? "PASV" : "EPSV"),
  };
}

// --- internal ---

/** A prefetched passive port older than this is not trusted (servers stop listening after a while). */
const _PREFETCH_MAX_AGE_MS = 5_000;
