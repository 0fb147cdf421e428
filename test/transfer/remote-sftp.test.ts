import { createRemote } from "../../src/transfer/index.ts";
import { startServer } from "../support/servers/index.ts";
import { testRemoteFS } from "./contract.ts";

testRemoteFS(
  "openssh sftp (password)",
  async () => {
    const server = await startServer("sftp");
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
  "openssh sftp (key file)",
  async () => {
    const server = await startServer("sftp");
    const { password: _password, ...rest } = server.remoteConfig;
    const remote = { ...rest, privateKey: server.privateKeyFile as string };
    return {
      connect: (options) => createRemote(remote, server.resolve, options),
      rootDir: server.rootDir,
      own: server.own,
      stop: server.stop,
    };
  },
  { reportsUnsafe: true },
);
