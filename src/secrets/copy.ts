import { mapLimit } from "../concurrency.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import { backendTypes } from "./backends/index.ts";
import { READS_IN_FLIGHT } from "./resolved-cache.ts";
import type { SecretStore } from "./store.ts";

export interface CopySecretsOptions {
  /** Only this scope (a site, or `global`). */
  scope?: string | undefined;
  /** Report what would be copied, write nothing. */
  dryRun?: boolean | undefined;
}

export interface CopyReport {
  /** References new in the target. */
  copied: string[];
  /** References whose value in the target differed. */
  updated: string[];
  /** References already equal in the target. */
  unchanged: string[];
}

/**
 * Copies every secret (of a scope) from one store to another, writing only what differs, so a rerun changes
 * nothing. Values never leave the two stores; the copy is one audit event.
 */
export async function copySecrets(
  from: SecretStore,
  to: SecretStore,
  options: CopySecretsOptions = {},
): Promise<CopyReport> {
  if (from.name === to.name && from.env === to.env) {
    throw new SiteloomError("ERR_USAGE", "--from and --to are the same store");
  }
  if (to.readOnly) {
    throw new SiteloomError(
      "ERR_SECRET_READ_ONLY",
      `store "${to.name}" is read-only; copy into a store of a writable type (${backendTypes()
        .filter((t) => t.writable)
        .map((t) => t.type)
        .join(", ")})`,
    );
  }
  // plan: what differs (reads only, 16 at a time); then apply: the writes, 16 at a time (a store that queues its
  // writes, like digitalocean's spec, gets them together)
  const report: CopyReport = { copied: [], updated: [], unchanged: [] };
  const present = new Set((await to.list(options.scope)).map((info) => `secret://${info.scope}/${info.name}`));
  const plan = await mapLimit(await from.list(options.scope), READS_IN_FLIGHT, async (info) => {
    const ref = `secret://${info.scope}/${info.name}`;
    const value = await from.get(ref);
    const existing = present.has(ref) ? await _readBack(to, ref) : undefined;
    const kind: keyof CopyReport =
      existing === undefined ? "copied" : existing !== false && existing === value.reveal() ? "unchanged" : "updated";
    return { ref, value, kind };
  });
  for (const { ref, kind } of plan) report[kind].push(ref);
  if (!options.dryRun) {
    await mapLimit(
      plan.filter((p) => p.kind !== "unchanged"),
      READS_IN_FLIGHT,
      (p) => to.set(p.ref, p.value),
    );
  }
  if (!options.dryRun) {
    publishEvent({
      action: "copy",
      ref: `store:${from.name}(${from.env})->${to.name}(${to.env})`,
      store: to.name,
      env: to.env,
      actor: currentActor(),
      outcome: "ok",
    });
  }
  return report;
}

// --- internal ---

/**
 * The target's value of a reference it lists, to compare; false when a write-only store cannot hand it back here
 * (DigitalOcean outside its app): it is written again.
 */
async function _readBack(to: SecretStore, ref: string): Promise<string | false | undefined> {
  try {
    return (await to.find(ref))?.reveal();
  } catch (error) {
    if (to.backend.capabilities.writeOnly && isSiteloomError(error) && error.code === "ERR_SECRET_BACKEND")
      return false;
    throw error;
  }
}
