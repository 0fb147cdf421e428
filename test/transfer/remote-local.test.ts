import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRemote } from "../../src/transfer/index.ts";
import { testRemoteFS } from "./contract.ts";

testRemoteFS(
  "local directory",
  async () => {
    const rootDir = await mkdtemp(join(tmpdir(), "siteloom-local-remote-"));
    return {
      connect: async () => createLocalRemote({ root: rootDir }),
      rootDir,
      stop: () => rm(rootDir, { recursive: true, force: true }),
    };
  },
  {
    large: true,
  },
);
