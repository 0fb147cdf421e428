/**
 * A fault-injecting TCP proxy for transfer tests. Point a client at `proxy.port` instead of the server's port.
 * With `ftp: true` it also rewrites PASV (227) and EPSV (229) replies on the (plain) control connection so that
 * passive data connections go through the proxy as well, where faults and data rewrites apply to them too.
 *
 *   const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
 *   proxy.addFault({ on: "data", afterBytes: 100_000, action: "reset" });  // next data connection dies mid-transfer
 *   proxy.addFault({ on: "control", afterBytes: 0, action: "stall", times: 2 });  // next 2 logins hang
 *   // the first data connection to pass 1 MB: its client is reset, its last chunk reaches the server 2 s later
 *   proxy.addFault({ on: "data", afterBytes: 1_000_000, action: "late", delayMs: 2000, claim: "crossing" });
 *   proxy.rewriteData = (chunk) => Buffer.from(chunk.toString("latin1").replace("x", "../x"), "latin1");
 *   proxy.stats    // { control, data, resets, stalls }
 *   await proxy.close();
 *
 * SFTP works through it too (one TCP connection per session; faults use on: "control").
 */
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";

export interface Fault {
  /** Which kind of connection it hits. "any" matches both. */
  on: "control" | "data" | "any";
  /** Bytes (both directions together) let through before acting. */
  afterBytes: number;
  /**
   * reset: TCP RST on both sides; stall: stop forwarding and keep both sockets open until close(); late: RST to the
   * client at once, while the client's chunk that crossed the limit reaches the server `delayMs` later, followed by
   * the end of the stream — a server process still writing an upload whose client is long gone.
   */
  action: "reset" | "stall" | "late";
  /** For "late": how long the server side waits for its last chunk. @default 1000 */
  delayMs?: number;
  /**
   * "next" (default): the next connections opened get the fault; "crossing": the first connections to pass
   * `afterBytes` get it, whatever came before them (to hit one large transfer among many small ones).
   */
  claim?: "next" | "crossing";
  /** How many connections get this fault. @default 1 */
  times?: number;
}

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Rewrite PASV/EPSV replies (plain FTP only: FTPS control traffic is encrypted). */
  ftp?: boolean;
  /** FTP: make the server refuse EPSV, like an old server or firewall, so clients must fall back to PASV. */
  refuseEpsv?: boolean;
  /**
   * FTP: a server that mishandles pipelining. Of every client write holding two commands or more (and for which
   * `when` holds): "reorder" passes the first two on swapped, so their replies come back out of order; "drop" drops
   * the last one without a word (a server that reads one buffer and loses what followed); "refuse" passes the
   * first and turns every other into an unknown command, which the server answers "500" (a server that refuses
   * commands sent before the previous reply).
   */
  mishandlePipelined?: { how: "reorder" | "drop" | "refuse"; when?: (commands: string[]) => boolean };
}

export interface FaultProxy {
  port: number;
  addFault(fault: Fault): void;
  clearFaults(): void;
  /** Transforms server→client bytes on data connections (hostile listings). Applied per chunk. */
  rewriteData: ((chunk: Buffer) => Buffer) | undefined;
  /** Transforms the server's replies on the (plain) control connection, whole lines at a time (`ftp: true`). */
  rewriteControl: ((lines: string) => string) | undefined;
  /** Passes the (rewritten) replies of the control connection on in writes of at most this many bytes, one a tick. */
  controlChunkBytes: number | undefined;
  /** `pipelined`: client writes holding two commands or more; `mishandled`: those passed on garbled. */
  readonly stats: {
    control: number;
    data: number;
    resets: number;
    stalls: number;
    /** "late" faults: tripped, and their held chunk passed on to the server. */
    late: number;
    lateDelivered: number;
    pipelined: number;
    mishandled: number;
  };
  close(): Promise<void>;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const faults: Array<Fault & { left: number }> = [];
  const sockets = new Set<Socket>();
  const servers = new Set<Server>();
  const stats = { control: 0, data: 0, resets: 0, stalls: 0, late: 0, lateDelivered: 0, pipelined: 0, mishandled: 0 };
  let closed = false;
  // While a "late" chunk is held, control connections the client closes stay open towards the server: the server
  // process has not noticed its client left (how a stale writer happens), whatever the load makes of the timing.
  let lateHeld = 0;
  const heldEnds: Array<() => void> = [];
  const releaseHeldEnds = () => {
    if (lateHeld > 0) return;
    for (const end of heldEnds.splice(0)) end();
  };

  const proxy: FaultProxy = {
    port: 0,
    addFault(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    rewriteData: undefined,
    rewriteControl: undefined,
    controlChunkBytes: undefined,
    stats,
    async close() {
      closed = true;
      for (const socket of sockets) socket.destroy();
      await Promise.all([...servers].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };

  /** The fault for a new connection ("next" faults), or for one that has just passed `bytes` ("crossing" ones). */
  function takeFault(kind: "control" | "data", bytes?: number): Fault | undefined {
    const index = faults.findIndex(
      (fault) =>
        (fault.on === kind || fault.on === "any") &&
        (bytes === undefined ? fault.claim !== "crossing" : fault.claim === "crossing" && bytes > fault.afterBytes),
    );
    if (index < 0) return undefined;
    const fault = faults[index] as Fault & { left: number };
    fault.left--;
    if (fault.left <= 0) faults.splice(index, 1);
    return fault;
  }

  /** Pipes client<->upstream, counting bytes, applying the fault, transforming server→client data. */
  function bridge(
    client: Socket,
    upstream: Socket,
    kind: "control" | "data",
    transformDown: (chunk: Buffer, write: (out: Buffer) => void) => void,
    transformUp?: (chunk: Buffer, write: (out: Buffer) => void) => void,
  ): void {
    sockets.add(client);
    sockets.add(upstream);
    let fault = takeFault(kind);
    let bytes = 0;
    let tripped = false;
    const trip = (held?: Buffer) => {
      if (tripped || fault === undefined) return;
      tripped = true;
      if (fault.action === "late") {
        stats.late++;
        lateHeld++;
        client.resetAndDestroy();
        setTimeout(() => {
          lateHeld--;
          if (!upstream.destroyed) {
            if (held !== undefined) upstream.write(held);
            upstream.end();
            stats.lateDelivered++;
          }
          // the server has its last chunk before it hears the client went away
          setTimeout(releaseHeldEnds, 200);
        }, fault.delayMs ?? 1000);
      } else if (fault.action === "reset") {
        stats.resets++;
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      } else {
        stats.stalls++;
        client.pause();
        upstream.pause();
      }
    };
    const account = (n: number, up?: Buffer): boolean => {
      if (tripped) return false;
      bytes += n;
      fault ??= takeFault(kind, bytes);
      if (fault === undefined) return true;
      if (bytes > fault.afterBytes) {
        trip(up);
        return false;
      }
      return true;
    };
    client.on("data", (chunk: Buffer) => {
      if (!account(chunk.length, chunk)) return;
      if (transformUp) transformUp(chunk, (out) => upstream.write(out));
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!account(chunk.length)) return;
      transformDown(chunk, (out) => client.write(out));
    });
    if (fault !== undefined && fault.afterBytes === 0) {
      // act before anything passes (e.g. a login that never gets its greeting)
      upstream.once("connect", () => setImmediate(trip));
    }
    const end = (from: Socket, to: Socket) => {
      const towardsServer = from === client && kind === "control";
      from.on("end", () => {
        if (tripped && fault?.action !== "reset") return;
        if (towardsServer && lateHeld > 0) heldEnds.push(() => to.end());
        else to.end();
      });
      from.on("error", () => {
        if (to.destroyed) return;
        if (towardsServer && lateHeld > 0) heldEnds.push(() => to.destroy());
        else to.destroy();
      });
      from.on("close", () => sockets.delete(from));
    };
    end(client, upstream);
    end(upstream, client);
  }

  async function dataListener(realPort: number): Promise<number> {
    const server = createServer((client) => {
      stats.data++;
      const upstream = netConnect({ host: options.target.host, port: realPort });
      bridge(client, upstream, "data", (chunk, write) => write(proxy.rewriteData ? proxy.rewriteData(chunk) : chunk));
      // one data connection per PASV/EPSV
      server.close();
      servers.delete(server);
    });
    servers.add(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  const main = createServer((client) => {
    if (closed) {
      client.destroy();
      return;
    }
    stats.control++;
    const upstream = netConnect(options.target);
    if (!options.ftp) {
      bridge(client, upstream, "control", (chunk, write) => write(chunk));
      return;
    }
    let pending = "";
    let queue = Promise.resolve();
    let commands = "";
    bridge(
      client,
      upstream,
      "control",
      (chunk, write) => {
        pending += chunk.toString("latin1");
        const cut = pending.lastIndexOf("\n");
        if (cut < 0) return;
        const complete = pending.slice(0, cut + 1);
        pending = pending.slice(cut + 1);
        // Replies are rewritten in order; opening a data listener is async.
        queue = queue.then(async () => {
          const out = Buffer.from(await rewriteReplies(complete), "latin1");
          const step = proxy.controlChunkBytes ?? out.length;
          for (let at = 0; at < out.length && !client.destroyed; at += step) {
            write(out.subarray(at, at + step));
            if (step < out.length) await new Promise((resolve) => setImmediate(resolve));
          }
        });
      },
      (chunk, write) => {
        const garble = options.mishandlePipelined;
        if (!options.refuseEpsv && !garble) {
          // passed on untouched (FTPS control traffic is encrypted); plain commands are still counted
          if ((chunk.toString("latin1").match(/\r\n/g) ?? []).length >= 2) stats.pipelined++;
          write(chunk);
          return;
        }
        commands += chunk.toString("latin1");
        const cut = commands.lastIndexOf("\n");
        if (cut < 0) return;
        // forwarded as an unknown command: the server's "500" comes back in order (clients pipeline commands)
        const lines = (commands.slice(0, cut + 1).match(/[^\n]*\n/g) ?? []).map((line) =>
          options.refuseEpsv && /^EPSV/i.test(line) ? "XEPSV\r\n" : line,
        );
        commands = commands.slice(cut + 1);
        if (lines.length >= 2) {
          stats.pipelined++;
          if (garble && (garble.when?.(lines) ?? true)) {
            stats.mishandled++;
            if (garble.how === "reorder") [lines[0], lines[1]] = [lines[1] as string, lines[0] as string];
            else if (garble.how === "drop") lines.pop();
            else lines.splice(1, lines.length - 1, ...lines.slice(1).map(() => "XPIPELINED\r\n"));
          }
        }
        write(Buffer.from(lines.join(""), "latin1"));
      },
    );
  });
  servers.add(main);

  async function rewriteReplies(text: string): Promise<string> {
    const lines = (proxy.rewriteControl ? proxy.rewriteControl(text) : text).split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const pasv = /^227 (.*)\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)(.*)$/s.exec(line);
      if (pasv) {
        const port = await dataListener(Number(pasv[6]) * 256 + Number(pasv[7]));
        lines[i] = `227 ${pasv[1]}(127,0,0,1,${Math.floor(port / 256)},${port % 256})${pasv[8]}`;
        continue;
      }
      const epsv = /^229 (.*)\(\|\|\|(\d+)\|\)(.*)$/s.exec(line);
      if (epsv) {
        const port = await dataListener(Number(epsv[2]));
        lines[i] = `229 ${epsv[1]}(|||${port}|)${epsv[3]}`;
      }
    }
    return lines.join("\n");
  }

  await new Promise<void>((resolve) => main.listen(0, "127.0.0.1", () => resolve()));
  const address = main.address();
  proxy.port = typeof address === "object" && address ? address.port : 0;
  return proxy;
}
