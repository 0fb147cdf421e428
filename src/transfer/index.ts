export type { RemoteEntry, RemoteFS, RemotePool } from "./types.ts";
