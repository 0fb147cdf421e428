import { readFile } from "node:fs/promises";
import type { RemoteConfig } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import { createFtpRemote } from "./ftp/remote.ts";
import type { UnsafeEntryHandler } from "./paths.ts";
import { createRemotePool } from "./pool.ts";
import { createSftpRemote } from "./sftp.ts";
import type { RemoteFS, RemotePool } from "./types.ts";

/**
 * Resolves a credential value from config (a `secret://` or `${ENV}` reference, or a literal) used in `field`
 * (`remote.password`): `workspace.resolve`, which refuses references that do not belong there.
 */
export type CredentialResolver = (value: string, field: string) => Promise<Secret>;

export interface CreateRemoteOptions {
  /** Called for every listing entry refused for safety (export reports them as skipped). */
  onUnsafe?: UnsafeEntryHandler;
  /** Receives warnings such as "TLS verification is off" (printed on every run). @default console.error */
  warn?: (message: string) => void;
  /** SFTP: record an unknown host key in knownHostsFile instead of refusing it (`--accept-new`). */
  acceptNew?: boolean;
  /** SFTP: known_hosts file. @default ~/.ssh/known_hosts */
  knownHostsFile?: string;
  /** Told when acceptNew recorded a host key. */
  onHostKeyAdded?: (line: string, file: string) => void;
  /** Protocol trace (FTP commands, SSH debug); passwords are not part of it. */
  debug?: (line: string) => void;
  /** A second root for backups, outside remote.root (`RemoteFS.backups`; deploy/backup-root.ts). */
  backupRoot?: string | undefined;
}

/** Opens one logged-in connection described by the `remote` section of the config. */
export async function createRemote(
  remote: RemoteConfig,
  resolve: CredentialResolver,
  options: CreateRemoteOptions = {},
): Promise<RemoteFS> {
  const connect = await createRemoteConnector(remote, resolve, options);
  return connect();
}

/**
 * Checks the `remote` section, resolves its credentials and warns (once) about insecure settings, then returns a
 * function opening one more connection each call: hand it to `createRemotePool({ connect })`.
 */
export async function createRemoteConnector(
  remote: RemoteConfig,
  resolve: CredentialResolver,
  options: CreateRemoteOptions = {},
): Promise<() => Promise<RemoteFS>> {
  const warn = options.warn ?? ((message: string) => console.error(`warning: ${message}`));
  if (remote.protocol === "local") {
    const { createLocalRemote } = await import("./local.ts");
    return async () =>
      createLocalRemote({ root: remote.root, backupRoot: options.backupRoot, onUnsafe: options.onUnsafe });
  }
  const host = remote.host;
  if (!host) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `remote.host is missing for protocol ${remote.protocol}: set the server name in site.yaml`,
    );
  }
  const password = remote.password === undefined ? undefined : await resolve(remote.password, "remote.password");
  if (remote.protocol === "sftp") {
    if (!remote.user) throw new SiteloomError("ERR_CONFIG_INVALID", "remote.user is missing: SFTP needs a user name");
    if (password === undefined && remote.privateKey === undefined) {
      throw new SiteloomError("ERR_CONFIG_INVALID", "remote.password or remote.privateKey is needed for SFTP");
    }
    const passphrase =
      remote.passphrase === undefined ? undefined : await resolve(remote.passphrase, "remote.passphrase");
    const user = remote.user;
    return () =>
      createSftpRemote({
        host,
        user,
        password,
        passphrase,
        privateKeyFile: remote.privateKey,
        root: remote.root,
        backupRoot: options.backupRoot,
        hostKey: remote.hostKey,
        timeoutMs: remote.timeoutMs,
        onUnsafe: options.onUnsafe,
        ...(remote.port !== undefined ? { port: remote.port } : {}),
        ...(options.knownHostsFile !== undefined ? { knownHostsFile: options.knownHostsFile } : {}),
        ...(options.acceptNew !== undefined ? { acceptNew: options.acceptNew } : {}),
        ...(options.onHostKeyAdded !== undefined ? { onHostKeyAdded: options.onHostKeyAdded } : {}),
        ...(options.debug !== undefined ? { debug: options.debug } : {}),
      });
  }
  const tls = remote.protocol === "ftps" || remote.implicitTls;
  if (!tls) {
    if (remote.tlsFingerprint || remote.caFile) {
      warn(
        `remote.tlsFingerprint/caFile are set but protocol is ftp: the connection to ${host} is NOT encrypted (use protocol: ftps)`,
      );
    }
  } else if (remote.insecure) {
    warn(
      `remote.insecure is set: the TLS certificate of ${host} is NOT verified, so the password can be intercepted; ` +
        "pin it with remote.tlsFingerprint instead",
    );
  }
  let ca: Buffer | undefined;
  if (tls && remote.caFile && !remote.insecure) {
    try {
      ca = await readFile(remote.caFile);
    } catch (error) {
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `remote.caFile ${remote.caFile} cannot be read (${(error as NodeJS.ErrnoException).code}): check the path`,
        { cause: error },
      );
    }
  }
  // one pipelining fault found by any connection turns it off for every connection (the open ones at their next
  // operation), with one warning
  let pipelining = remote.pipelining;
  const onPipeliningFault = (message: string) => {
    if (pipelining === "off") return;
    pipelining = "off";
    warn(`${message}: FTP command pipelining is off for the rest of this run (remote.pipelining: off skips the test)`);
  };
  return () =>
    createFtpRemote({
      host,
      pipelining: () => pipelining,
      onPipeliningFault,
      secure: !tls ? false : remote.implicitTls ? "implicit" : "explicit",
      password,
      root: remote.root,
      backupRoot: options.backupRoot,
      encoding: remote.encoding,
      timeoutMs: remote.timeoutMs,
      insecure: remote.insecure,
      tlsFingerprint: tls && !remote.insecure ? remote.tlsFingerprint : undefined,
      ca,
      onUnsafe: options.onUnsafe,
      ...(remote.port !== undefined ? { port: remote.port } : {}),
      ...(remote.user !== undefined ? { user: remote.user } : {}),
      ...(options.debug !== undefined ? { debug: options.debug } : {}),
    });
}

export interface OpenRemotePoolOptions extends CreateRemoteOptions {
  /** Connections at most (`deploy.parallel`). @default 8 */
  size?: number;
}

/** A pool of connections to the configured remote, opened lazily; see createRemotePool. */
export async function openRemotePool(
  remote: RemoteConfig,
  resolve: CredentialResolver,
  options: OpenRemotePoolOptions = {},
): Promise<RemotePool> {
  const connect = await createRemoteConnector(remote, resolve, options);
  return createRemotePool({ connect, size: options.size ?? 8 });
}
