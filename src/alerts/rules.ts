import type { AlertsConfig } from "../config/index.ts";
import { type AlertKind, PRODUCTION_DEFAULT_KINDS } from "./kinds.ts";

/** Where an event happened, as rules see it. */
export interface AlertScope {
  kind: AlertKind;
  env: string;
  site: string | undefined;
}

/**
 * The channels an alert goes to: every rule that picks its kind, environment and site adds its channels; in
 * production the default kinds go to every channel unless `productionDefaults` is off. Unknown channel names are
 * left out (`siteloom alerts list` reports them).
 */
export function channelsFor(config: AlertsConfig, scope: AlertScope): string[] {
  const out = new Set<string>();
  const known = config.channels;
  if (config.productionDefaults && scope.env === "production" && PRODUCTION_DEFAULT_KINDS.includes(scope.kind)) {
    for (const name of Object.keys(known)) out.add(name);
  }
  for (const rule of config.rules) {
    if (!rule.events.includes("*") && !rule.events.includes(scope.kind)) continue;
    if (rule.environments && !rule.environments.includes(scope.env)) continue;
    if (rule.sites && (scope.site === undefined || !rule.sites.includes(scope.site))) continue;
    for (const name of rule.channels) if (Object.hasOwn(known, name)) out.add(name);
  }
  return [...out].sort();
}

/** Whether alerts can be sent at all (at least one channel). */
export function alertsEnabled(config: AlertsConfig | undefined): config is AlertsConfig {
  return config !== undefined && Object.keys(config.channels).length > 0;
}
