/**
 * Real FTP/FTPS/SFTP servers for tests, started on 127.0.0.1 on free ports with generated users, passwords,
 * self-signed certificates and host keys (installed by scripts/setup-test-servers.sh; tests must run as root).
 *
 *   import { startServer, SERVER_KINDS } from "../support/servers/index.ts";
 *   const server = await startServer("vsftpd-ftp");   // in beforeAll
 *   server.remoteConfig    // a complete `remote` section (RemoteConfig) for site.yaml / createRemote():
 *                          //   { protocol, host: "127.0.0.1", port, user, password: "${SITELOOM_TEST_PW_xxx}",
 *                          //     root, tlsFingerprint (FTPS), hostKey (SFTP), ... }
 *   server.env             // { SITELOOM_TEST_PW_xxx: "<password>" }: pass to runCli({ env }) — it is also set in
 *                          //   process.env while the server runs, so in-process `resolve` works too
 *   server.resolve(value)  // resolves "${VAR}" (and literals) to a Secret, as workspace.resolve would
 *   server.rootDir         // absolute server-side directory that IS remote.root: check the bytes that landed here
 *   server.host / port / user / password
 *   server.certFile        // FTPS: the self-signed certificate (usable as remote.caFile)
 *   server.privateKeyFile  // SFTP: an authorised client key (remote.privateKey)
 *   server.authorizeKey(pub) // SFTP: authorise one more client public key
 *   server.knownHostsLine  // SFTP: `[127.0.0.1]:port ssh-ed25519 AAAA...` for a known_hosts file
 *   await server.restart() // stop and start the same server on the same port (fault tests)
 *   await server.stop()    // in afterAll: kills the server, deletes its user and every file under rootDir
 *
 * Kinds: "vsftpd-ftp", "vsftpd-ftps" (explicit TLS), "vsftpd-ftps-implicit" (TLS from the first byte), "pure-ftpd-ftp", "pure-ftpd-ftps" (explicit TLS, MLSD),
 * "proftpd-ftp", "proftpd-ftps" (explicit TLS, mod_tls, MLSD), "sftp" (OpenSSH sshd + internal-sftp). Servers are independent: start one per test file.
 * Files written into rootDir by the test (as root) should be chowned to the server user with `server.own(path)` when
 * the server must be able to modify them.
 */

import { randomBytes } from "node:crypto";
import { appendFile, lchown, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type RemoteConfig, RemoteSchema } from "../../../src/config/schema.ts";
import { Secret } from "../../../src/secret.ts";
import type { RawServer } from "./types.ts";

export const SERVER_KINDS = [
  "vsftpd-ftp",
  "vsftpd-ftps",
  "vsftpd-ftps-implicit",
  "pure-ftpd-ftp",
  "pure-ftpd-ftps",
  "proftpd-ftp",
  "proftpd-ftps",
  "sftp",
] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface TestServer {
  kind: ServerKind;
  /** The `remote` section pointing at this server, password as a `${ENV}` reference. */
  remoteConfig: RemoteConfig;
  /** The environment variable(s) the reference needs. */
  env: Record<string, string>;
  /** Name of the password variable (a key of `env`). */
  passwordVar: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** Server-side directory that is `remote.root`. */
  rootDir: string;
  certFile: string | undefined;
  privateKeyFile: string | undefined;
  /** SFTP: the host key as a known_hosts line (`[127.0.0.1]:port ssh-ed25519 AAAA...`). */
  knownHostsLine: string | undefined;
  /** Resolves a config credential value (`${VAR}` or a literal) to a Secret. */
  resolve(value: string): Promise<Secret>;
  /** SFTP: authorises one more client public key (an `ssh-ed25519 AAAA…` line). */
  authorizeKey(publicKey: string): Promise<void>;
  /** Gives a path (recursively) under rootDir to the server user, after the test wrote it as root. */
  own(path: string): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Extra fields merged into remoteConfig (e.g. `{ encoding: "latin1" }`). */
  remote?: Partial<RemoteConfig>;
  /**
   * vsftpd and ProFTPD: the server closes a control connection idle this long (default 600 s); OpenSSH: an SFTP
   * session idle this long is closed (`ChannelTimeout`), then the connection left without one (`UnusedConnectionTimeout`).
   */
  idleTimeoutSeconds?: number;
  /**
   * vsftpd only: also listen on this address of the machine, which becomes remoteConfig.host (containers on a
   * bridge network reach the host's own address, not its loopback). @default loopback only
   */
  hostAddress?: string;
  /** vsftpd only: the passive ports it listens on (`pasv_min_port`, `pasv_max_port`). @default 40 random ones */
  passiveRange?: [number, number];
}

/** Starts a real server of the given kind. Call `stop()` in afterAll. */
export async function startServer(kind: ServerKind, options: StartServerOptions = {}): Promise<TestServer> {
  const raw = await _startRaw(kind, options.idleTimeoutSeconds, options.hostAddress, options.passiveRange);
  const passwordVar = `SITELOOM_TEST_PW_${randomBytes(4).toString("hex").toUpperCase()}`;
  const env = { [passwordVar]: raw.password };
  process.env[passwordVar] = raw.password;
  const isFtps = kind.includes("-ftps");
  const remoteConfig = RemoteSchema.parse({
    protocol: kind === "sftp" ? "sftp" : isFtps ? "ftps" : "ftp",
    host: options.hostAddress ?? raw.host,
    port: raw.port,
    user: raw.user,
    password: `\${${passwordVar}}`,
    root: raw.remoteRoot,
    ...(raw.tls ? { tlsFingerprint: raw.tls.fingerprint } : {}),
    ...(raw.hostKey ? { hostKey: raw.hostKey } : {}),
    ...(kind === "vsftpd-ftps-implicit" ? { implicitTls: true } : {}),
    timeoutMs: 15_000,
    ...options.remote,
  });
  return {
    kind,
    remoteConfig,
    env,
    passwordVar,
    host: raw.host,
    port: raw.port,
    user: raw.user,
    password: raw.password,
    rootDir: raw.rootDir,
    certFile: raw.tls?.certFile,
    privateKeyFile: raw.privateKeyFile,
    knownHostsLine: raw.hostKeyLine,
    async resolve(value) {
      const match = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value);
      if (!match) return new Secret(value);
      const found = env[match[1] as string] ?? process.env[match[1] as string];
      if (found === undefined) throw new Error(`test server: ${value} is not set`);
      return new Secret(found);
    },
    async authorizeKey(publicKey) {
      if (!raw.authorizedKeysFile) throw new Error(`test server: ${kind} has no authorized_keys`);
      await appendFile(raw.authorizedKeysFile, `${publicKey.trim()}\n`);
    },
    async own(path) {
      await _chownRecursive(path, raw.uid, raw.gid);
    },
    restart: () => raw.restart(),
    async stop() {
      delete process.env[passwordVar];
      await raw.stop();
    },
  };
}

// --- internal ---

async function _startRaw(
  kind: ServerKind,
  idleSeconds: number | undefined,
  hostAddress: string | undefined,
  passiveRange: [number, number] | undefined,
): Promise<RawServer> {
  if (idleSeconds !== undefined && kind.startsWith("pure-ftpd")) {
    throw new Error(`test server: ${kind} has no idle timeout in seconds`);
  }
  switch (kind) {
    case "vsftpd-ftp":
    case "vsftpd-ftps":
    case "vsftpd-ftps-implicit": {
      const { startVsftpd } = await import("./vsftpd.ts");
      return startVsftpd({
        tls: kind !== "vsftpd-ftp",
        implicit: kind === "vsftpd-ftps-implicit",
        idleSeconds,
        hostAddress,
        passiveRange,
      });
    }
    case "pure-ftpd-ftp":
    case "pure-ftpd-ftps": {
      const { startPureFtpd } = await import("./pure-ftpd.ts");
      return startPureFtpd({ tls: kind === "pure-ftpd-ftps" });
    }
    case "proftpd-ftp":
    case "proftpd-ftps": {
      const { startProftpd } = await import("./proftpd.ts");
      return startProftpd({ tls: kind === "proftpd-ftps", idleSeconds });
    }
    case "sftp": {
      const { startSshd } = await import("./sshd.ts");
      return startSshd({ idleSeconds });
    }
  }
}

async function _chownRecursive(path: string, uid: number, gid: number): Promise<void> {
  const info = await lstat(path);
  await lchown(path, uid, gid).catch(() => undefined);
  if (info.isDirectory()) {
    for (const name of await readdir(path)) await _chownRecursive(join(path, name), uid, gid);
  }
}
