// FTPS certificate trust: TLS options of the control connection, and a pinned fingerprint checked on it (before the
// password is sent) and on every data connection.
import type { TLSSocket, ConnectionOptions as TlsOptions } from "node:tls";
import type { Client } from "basic-ftp";
import { SiteloomError } from "../../errors.ts";

/** What decides how a server's certificate is trusted. */
export interface FtpTlsTrust {
  host: string;
  /** Pinned SHA-256 certificate fingerprint. */
  tlsFingerprint?: string | undefined;
  /** PEM CA certificate(s) trusted instead of the system store. */
  ca?: string | Buffer | undefined;
  /** Skip certificate verification entirely. */
  insecure?: boolean;
}

/** SHA-256 fingerprint in the canonical `AB:CD:…` form, for comparisons and messages. */
export function normalizeFingerprint(value: string): string {
  const hex = value
    .replace(/^sha-?256:?/i, "")
    .replace(/[^0-9a-f]/gi, "")
    .toUpperCase();
  return hex.match(/.{2}/g)?.join(":") ?? "";
}

/** TLS options of the control connection (and, through basic-ftp, of its data connections). */
export function tlsOptions(trust: FtpTlsTrust): TlsOptions {
  const tls: TlsOptions = { host: trust.host, minVersion: "TLSv1.2" };
  if (trust.ca !== undefined) tls.ca = trust.ca;
  // A pinned fingerprint replaces chain verification (self-signed hosts); it is checked by hand before login.
  if (trust.insecure || trust.tlsFingerprint) tls.rejectUnauthorized = false;
  if (/^[0-9.]+$/.test(trust.host) || trust.host.includes(":")) {
    // SNI must not carry an IP address; Node warns otherwise.
  } else {
    tls.servername = trust.host;
  }
  return tls;
}

/** Destroys `socket` and throws ERR_TRANSFER_TLS when its certificate is not the pinned one. */
export function checkFingerprint(socket: TLSSocket, trust: FtpTlsTrust, label: string): void {
  const cert = socket.getPeerCertificate();
  const actual = normalizeFingerprint(cert?.fingerprint256 ?? "");
  const expected = normalizeFingerprint(trust.tlsFingerprint ?? "");
  if (actual === "" || actual !== expected) {
    socket.destroy();
    throw new SiteloomError(
      "ERR_TRANSFER_TLS",
      `${label}: the server's TLS certificate does not match remote.tlsFingerprint (got ${actual || "no certificate"}); ` +
        "if the host changed its certificate on purpose, update remote.tlsFingerprint",
    );
  }
}

/**
 * With a pinned certificate, the check of every data connection (new TLS sockets), installed on `client` for the
 * transfers basic-ftp runs itself and returned for the pipelined ones; undefined without a pin. A resumed session is
 * the control connection's own, already checked: it carries no certificate.
 */
export function pinDataConnections(
  client: Client,
  trust: FtpTlsTrust & { secure: false | "explicit" | "implicit" },
  label: string,
): ((socket: TLSSocket) => void) | undefined {
  if (trust.secure === false || !trust.tlsFingerprint) return undefined;
  const checkData = (socket: TLSSocket) => {
    if (!socket.isSessionReused()) checkFingerprint(socket, trust, label);
  };
  _wrapPrepareTransfer(client, checkData);
  return checkData;
}

// --- internal ---

/** Data connections basic-ftp opens: their certificate is checked against the pin too. */
function _wrapPrepareTransfer(client: Client, checkData: (socket: TLSSocket) => void): void {
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
