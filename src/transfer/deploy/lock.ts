import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { SiteloomError } from "../../errors.ts";

/**
 * Takes the lock of one deploy target (site + environment) on this machine: two deploys of the same target at once
 * would fight over the journal and the temp names. A lock left by a process that no longer exists (kill -9) is taken
 * over. Returns the release function.
 */
export async function acquireDeployLock(file: string, what: string): Promise<() => Promise<void>> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const me = `${process.pid}@${hostname()}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(me);
      await handle.close();
      return async () => {
        if ((await readFile(file, "utf8").catch(() => "")) === me) await unlink(file).catch(() => {});
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = (await readFile(file, "utf8").catch(() => "")).trim();
      const [pid, host] = holder.split("@");
      if (host === hostname() && pid !== undefined && !_alive(Number(pid))) {
        await unlink(file).catch(() => {});
        continue; // the holder is gone: take over
      }
      throw new SiteloomError(
        "ERR_LOCKED",
        `another deploy of ${what} is running (${holder || "unknown holder"}); wait for it to finish, or remove ${file} if it is not running`,
      );
    }
  }
  throw new SiteloomError("ERR_LOCKED", `cannot take the deploy lock ${file}; try again`);
}

// --- internal ---

function _alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
