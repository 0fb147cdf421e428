/**
 * The RemoteFS contract (contract.ts) against every backend: one row per server and login kind. Each row starts its
 * own server in beforeAll and stops it in afterAll; the 50 MB round trip runs once per server type.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RemoteConfig } from "../../src/config/schema.ts";
import { createLocalRemote, createRemote } from "../../src/transfer/index.ts";
import { type ServerKind, startServer, type TestServer } from "../support/servers/index.ts";
import { type ContractOptions, type ContractTarget, testRemoteFS } from "./contract.ts";

interface ServerRow extends ContractOptions {
  name: string;
  kind: ServerKind;
  /** Changes the `remote` section before connecting (e.g. a key file instead of the password). */
  remote?: (server: TestServer) => RemoteConfig;
}

const SERVERS: ServerRow[] = [
  { name: "vsftpd ftp", kind: "vsftpd-ftp", large: true },
  { name: "vsftpd explicit ftps", kind: "vsftpd-ftps" },
  { name: "pure-ftpd ftp (MLSD)", kind: "pure-ftpd-ftp" },
  { name: "pure-ftpd explicit ftps (MLSD)", kind: "pure-ftpd-ftps", large: true },
  { name: "proftpd ftp (MLSD)", kind: "proftpd-ftp", hidesOutsideLinks: true },
  { name: "proftpd explicit ftps (mod_tls)", kind: "proftpd-ftps", large: true, hidesOutsideLinks: true },
  { name: "openssh sftp (password)", kind: "sftp", large: true },
  {
    name: "openssh sftp (key file)",
    kind: "sftp",
    remote: (server) => {
      const { password: _password, ...rest } = server.remoteConfig;
      return { ...rest, privateKey: server.privateKeyFile as string };
    },
  },
];

for (const row of SERVERS) {
  // network backends report refused listing entries through onUnsafe
  testRemoteFS(row.name, () => _startServerTarget(row), {
    large: row.large === true,
    reportsUnsafe: true,
    hidesOutsideLinks: row.hidesOutsideLinks === true,
  });
}

testRemoteFS(
  "local directory",
  async () => {
    const rootDir = await mkdtemp(join(tmpdir(), "siteloom-local-remote-"));
    return {
      connect: async (options) =>
        createLocalRemote({ root: options?.root ?? rootDir, backupRoot: options?.backupRoot }),
      rootDir,
      serverRoot: rootDir,
      stop: () => rm(rootDir, { recursive: true, force: true }),
    };
  },
  { large: true },
);

// --- internal ---

async function _startServerTarget(row: ServerRow): Promise<ContractTarget> {
  const server = await startServer(row.kind);
  const remote = row.remote?.(server) ?? server.remoteConfig;
  return {
    connect: ({ root, ...options } = {}) => createRemote(root ? { ...remote, root } : remote, server.resolve, options),
    rootDir: server.rootDir,
    serverRoot: remote.root,
    loginFolder: true,
    own: server.own,
    stop: server.stop,
  };
}
