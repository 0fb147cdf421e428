import type { TlsMaterial } from "./common.ts";

/** What each server starter returns; index.ts turns it into the public `TestServer`. */
export interface RawServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Owner of the files under rootDir. */
  uid: number;
  gid: number;
  /** Server-side directory that is the remote root. */
  rootDir: string;
  /** `remote.root` to put in the config ("/" for chrooted FTP users, the absolute path for SFTP). */
  remoteRoot: string;
  tls: TlsMaterial | undefined;
  /** SFTP only: pinned host key fingerprint and a client key that is authorised. */
  hostKey?: string;
  hostKeyLine?: string;
  privateKeyFile?: string;
  authorizedKeysFile?: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}
