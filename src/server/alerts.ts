import { type Alerter, alertsEnabled, createAlerter } from "../alerts/index.ts";
import type { Logger } from "../log/index.ts";
import { createSecretResolver } from "../secrets/index.ts";
import type { StateStore } from "../store/index.ts";
import { loadWorkspace, type Workspace } from "../workspace/index.ts";
import type { ConfigRuntime } from "./runtime.ts";

/** How often the server sends deliveries that came due (retries of failing channels, alerts of other processes). */
const FLUSH_INTERVAL_MS = 30_000;

export interface ServerAlertsOptions {
  root: string;
  store: StateStore;
  runtime: ConfigRuntime;
  vars: Record<string, string | undefined>;
  logger: Logger;
}

/**
 * Alerts of a running server: events of this process (API config writes, secret accesses, refused requests, runs
 * started over the API) are queued and sent; queued deliveries that come due are sent every 30 s. The `alerts`
 * section in force is read per event, so a reload applies at once. Credentials are resolved at each send through the
 * workspace of the configuration version in force.
 */
export function startServerAlerts(options: ServerAlertsOptions): { alerter: Alerter; close(): Promise<void> } {
  const { runtime, vars } = options;
  const config = () => {
    const current = runtime.current();
    return current.resolved.get(current.defaultEnv)?.workspace.alerts;
  };
  let loaded: { version: number; workspace: Promise<Workspace> } | undefined;
  const workspace = () => {
    const version = runtime.current().version;
    if (loaded?.version !== version) {
      loaded = {
        version,
        workspace: loadWorkspace({
          workspace: options.root,
          vars,
          secrets: (ws) => createSecretResolver(ws, { vars, env: ws.env }),
        }),
      };
      // a failed load is not kept: the next send tries again
      const failed = loaded;
      failed.workspace.catch(() => {
        if (loaded === failed) loaded = undefined;
      });
    }
    return loaded.workspace;
  };
  const alerter = createAlerter({
    store: options.store,
    config,
    env: runtime.current().defaultEnv,
    resolve: async (value, field) => (await workspace()).resolve(value, { field }),
    warn: (line) => options.logger.warn(line),
  });
  const detach = alerter.attach();
  // the periodic round in flight, awaited on close: a send must not outlive the store it writes its outcome to
  let round: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (!alertsEnabled(config())) return;
    round = round.then(() =>
      alerter.flush().then(
        () => {},
        (error: Error) => options.logger.warn(error.message),
      ),
    );
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    alerter,
    async close() {
      clearInterval(timer);
      detach();
      await round;
      await alerter.idle();
    },
  };
}
