import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Turns on Node's on-disk cache of compiled code (Node 22.1+, `module.enableCompileCache`): every later start of the
 * CLI skips compiling the modules it loads, a large part of its start-up. The cache lives under the user's cache
 * folder (`$XDG_CACHE_HOME`, ~/.cache, ~/Library/Caches or %LOCALAPPDATA%, then siteloom/compile-cache); Node's own
 * NODE_COMPILE_CACHE wins when set, and NODE_DISABLE_COMPILE_CACHE turns it off. On older Node it does nothing, and a
 * cache that cannot be written (read-only home) only means no cache.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  const enable = (module as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (enable === undefined || env.NODE_DISABLE_COMPILE_CACHE) return;
  try {
    enable(env.NODE_COMPILE_CACHE ?? join(userCacheDir(env), "siteloom", "compile-cache"));
  } catch {
    // no cache: the CLI works the same, only its start is slower
  }
}

/** The platform's folder for a user's caches. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return env.XDG_CACHE_HOME;
  if (process.platform === "darwin") return join(homedir(), "Library", "Caches");
  if (process.platform === "win32") return env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local");
  return join(homedir(), ".cache");
}
