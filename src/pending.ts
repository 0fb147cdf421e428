/**
 * Work a command starts in the background that must end before the process does: audit entries appended to a shared
 * state store (an event is published synchronously, the append is a network round trip). The CLI awaits
 * `settlePending()` before it returns its exit code; a forced exit (a second Ctrl-C) does not wait.
 */
const running = new Set<Promise<unknown>>();
const closers: (() => Promise<void>)[] = [];

/** Tracks `work` until it settles (its errors are the caller's to handle; here they are only waited for). */
export function trackPending(work: Promise<unknown>): void {
  const tracked = work.then(
    () => undefined,
    () => undefined,
  );
  running.add(tracked);
  void tracked.finally(() => running.delete(tracked));
}

/** Runs `close` once the tracked work has settled, when the command ends (closing a store opened for it). */
export function closeWhenSettled(close: () => Promise<void>): void {
  closers.push(close);
}

/** Waits for every tracked piece of work (also what it started meanwhile), then runs and forgets the closers. */
export async function settlePending(): Promise<void> {
  while (running.size > 0) await Promise.all(running);
  for (const close of closers.splice(0)) await close().catch(() => undefined);
}
