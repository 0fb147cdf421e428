import { openStateStore, type StateStore } from "../store/index.ts";
import type { Workspace } from "../workspace/index.ts";
import { type Alerter, createAlerter } from "./alerter.ts";
import { alertsEnabled } from "./rules.ts";

const attached = new Map<string, Alerter>();

/**
 * Starts alerts for this process over a loaded workspace, once per workspace: events published from now on that
 * match a rule are queued in the state store and sent in the background, and deliveries left due by earlier
 * processes go out too. Does nothing (and opens nothing) when no channel is configured.
 */
export function attachWorkspaceAlerts(
  workspace: Workspace,
  options: { warn?: (line: string) => void; store?: StateStore } = {},
): Alerter | undefined {
  const config = workspace.config.alerts;
  if (!alertsEnabled(config)) return undefined;
  const existing = attached.get(workspace.stateDir);
  if (existing) return existing;
  const alerter = createAlerter({
    store: options.store ?? openStateStore({ stateDir: workspace.stateDir }),
    config: () => config,
    env: workspace.env,
    resolve: (value, field) => workspace.resolve(value, { field }),
    ...(options.warn ? { warn: options.warn } : {}),
  });
  alerter.attach();
  attached.set(workspace.stateDir, alerter);
  return alerter;
}
