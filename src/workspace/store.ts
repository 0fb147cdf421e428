import { type AuditTrail, auditLogPath, createFileAuditTrail, createStoreAuditTrail } from "../audit/index.ts";
import { openStateStore, type StateStore } from "../store/index.ts";
import type { Workspace } from "./types.ts";

/**
 * Opens the workspace's state store: SITELOOM_STORE when set, else `store.url` of siteloom.yaml (a reference to a
 * postgres:// URL, resolved at first use through the secret store like every credential), else
 * `.siteloom/state.db`. Every command and the server open the store through here, so one setting moves all of them.
 */
export function openWorkspaceStore(
  workspace: Pick<Workspace, "stateDir" | "config" | "resolve">,
  options: { reconnectMs?: number; poolSize?: number } = {},
): StateStore {
  const { url } = workspace.config.store;
  const poolSize = options.poolSize ?? workspace.config.store.poolSize;
  const reconnectMs = options.reconnectMs;
  if (process.env.SITELOOM_STORE || url === undefined)
    return openStateStore({ stateDir: workspace.stateDir, poolSize, reconnectMs });
  return openStateStore({
    stateDir: workspace.stateDir,
    poolSize,
    reconnectMs,
    resolveUrl: async () => (await workspace.resolve(url, { field: "store.url" })).reveal(),
  });
}

/** Whether the workspace's state store is shared by many machines (PostgreSQL), not `.siteloom/state.db`. */
export function isSharedStore(workspace: Pick<Workspace, "config">): boolean {
  const env = process.env.SITELOOM_STORE;
  return env ? /^postgres(ql)?:\/\//.test(env) : workspace.config.store.url !== undefined;
}

/**
 * The workspace's audit trail: `.siteloom/audit.log`, or with a shared store the chain in its `audit_log` table
 * (a store of its own, two connections, closed with the trail), so every machine appends to and verifies one chain.
 * A store that cannot be reached is tried for `reconnectMs` only (a command that does not need the store itself
 * must not wait the store's usual 30 s for its audit entries).
 */
export function openWorkspaceAuditTrail(
  workspace: Pick<Workspace, "stateDir" | "config" | "resolve">,
  options: { reconnectMs?: number } = {},
): AuditTrail {
  if (!isSharedStore(workspace)) return createFileAuditTrail(auditLogPath(workspace));
  const store = openWorkspaceStore(workspace, { poolSize: 2, reconnectMs: options.reconnectMs ?? AUDIT_RECONNECT_MS });
  return createStoreAuditTrail(store, { ownsStore: true });
}

/** How long a command's audit appends try to reach a shared store that is down. */
export const AUDIT_RECONNECT_MS = 3_000;
