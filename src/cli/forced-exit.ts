import type { StateStore } from "../store/index.ts";
import type { CliContext } from "./context.ts";

/**
 * On a second Ctrl-C, records the command's run as interrupted and releases its sites' locks before the process
 * leaves (program.ts waits for these writes a moment, long enough for a PostgreSQL store's round trips), so the next
 * run takes the sites at once instead of waiting for the lock's lease to run out.
 */
export function releaseRunOnForcedExit(
  ctx: CliContext,
  store: StateStore,
  sites: readonly string[],
  runId: () => string | undefined,
  lockName: (site: string) => string,
): void {
  ctx.onForcedExit(() => {
    const id = runId();
    if (id === undefined) return;
    return Promise.allSettled([
      store.updateRun(id, { status: "interrupted", finished: new Date().toISOString(), error: "interrupted" }),
      ...sites.map((site) => store.releaseLock(lockName(site), id)),
    ]);
  });
}
