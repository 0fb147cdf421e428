export { createLocalRemote, type LocalRemoteOptions } from "./local.ts";
export type { RemoteEntry, RemoteFS, RemotePool } from "./types.ts";
