import { createRemote } from "../../src/transfer/index.ts";
import { startServer } from "../support/servers/index.ts";
import { testRemoteFS } from "./contract.ts";

testRemoteFS(
  "pure-ftpd ftp (MLSD)",
  async () => {
    const server = await startServer("pure-ftpd-ftp");
    return {
      connect: (options) => createRemote(server.remoteConfig, server.resolve, options),
      rootDir: server.rootDir,
      own: server.own,
      stop: server.stop,
    };
  },
  { reportsUnsafe: true },
);

testRemoteFS(
  "pure-ftpd explicit ftps (MLSD)",
  async () => {
    const server = await startServer("pure-ftpd-ftps");
    return {
      connect: (options) => createRemote(server.remoteConfig, server.resolve, options),
      rootDir: server.rootDir,
      own: server.own,
      stop: server.stop,
    };
  },
  { large: true, reportsUnsafe: true },
);
