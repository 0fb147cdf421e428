/**
 * The one way to run async work over a list with a bound on how much runs at once, on top of p-limit. Both helpers
 * wait for every started call to end before they settle, then reject with the first failure (in list order): no
 * work is left running behind a rejected promise.
 *
 * @example
 * const sizes = await mapLimit(paths, 8, (path) => fs.stat(path).then((s) => s.size));
 */
import pLimit from "p-limit";

/** `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const run = pLimit(Math.max(1, limit));
  const outcomes = await Promise.allSettled(items.map((item, i) => run(() => fn(item, i))));
  const failed = outcomes.find((outcome) => outcome.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<R>).value);
}

/** `fn` over `items` with at most `limit` calls in flight, for its effects. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  await mapLimit(items, limit, fn);
}
