import { createRemote } from "../../src/transfer/index.ts";
import { startServer } from "../support/servers/index.ts";
import { testRemoteFS } from "./contract.ts";

testRemoteFS(
  "vsftpd ftp",
  async () => {
    const server = await startServer("vsftpd-ftp");
    return {
      connect: (options) => createRemote(server.remoteConfig, server.resolve, options),
      rootDir: server.rootDir,
      own: server.own,
      stop: server.stop,
    };
  },
  { large: true, reportsUnsafe: true },
);

testRemoteFS(
  "vsftpd explicit ftps",
  async () => {
    const server = await startServer("vsftpd-ftps");
    return {
      connect: (options) => createRemote(server.remoteConfig, server.resolve, options),
      rootDir: server.rootDir,
      own: server.own,
      stop: server.stop,
    };
  },
  { reportsUnsafe: true },
);
