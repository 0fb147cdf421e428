import type { RemoteEntry, RemotePool } from "./types.ts";

/** A remote entry with its path relative to the remote root. */
export interface RemoteItem extends RemoteEntry {
  path: string;
}

export interface WalkRemoteOptions {
  /** Directory to start from ("" is the root). @default "" */
  dir?: string;
  /** Directories not descended into (their entry is still returned). */
  skipDir?: (path: string) => boolean;
  /** Called for every directory listed (progress). */
  onDir?: (path: string) => void;
}

export interface RemoteTree {
  /** Files and symlinks by path. */
  files: Map<string, RemoteItem>;
  /** Directories by path (not the start directory itself). */
  dirs: Map<string, RemoteItem>;
}

/** Lists a remote tree, several directories at once (one per pool connection). */
export async function walkRemote(pool: RemotePool, options: WalkRemoteOptions = {}): Promise<RemoteTree> {
  const files = new Map<string, RemoteItem>();
  const dirs = new Map<string, RemoteItem>();
  const queue: string[] = [options.dir ?? ""];
  let active = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (failure !== undefined && active === 0) return resolve();
      if (queue.length === 0 && active === 0) return resolve();
      while (failure === undefined && active < pool.size && queue.length > 0) {
        const dir = queue.shift()!;
        active++;
        pool
          .run((fs) => fs.list(dir))
          .then((entries) => {
            options.onDir?.(dir);
            for (const entry of entries) {
              const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
              const item: RemoteItem = { ...entry, path };
              if (entry.type === "dir") {
                dirs.set(path, item);
                if (!options.skipDir?.(path)) queue.push(path);
              } else {
                files.set(path, item);
              }
            }
          })
          .catch((error: unknown) => {
            failure ??= error;
          })
          .finally(() => {
            active--;
            pump();
          });
      }
    };
    pump();
  });
  if (failure !== undefined) throw failure;
  return { files, dirs };
}
