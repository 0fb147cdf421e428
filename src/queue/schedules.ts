import { createHash } from "node:crypto";
import cronParser from "cron-parser";
import { SiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import type { Workspace } from "../workspace/index.ts";
import { actorName } from "./actor.ts";
import type { QueueClient } from "./client.ts";

/** pg-boss schedule (and relay queue) names of siteloom start with this. */
export const SCHEDULE_PREFIX = "siteloom-schedule-";

/** One schedule in force: the sites that share a cron expression, time zone and steps. */
export interface ConfiguredSchedule {
  /** `siteloom-schedule-<hash>` (stable while cron, tz and steps stay the same). */
  name: string;
  cron: string;
  tz: string;
  steps: string[] | undefined;
  sites: string[];
  env: string;
  /** Next time it fires (ISO, UTC). */
  next: string;
}

/**
 * The schedules the configuration asks for: every site's resolved `schedule:` (its own, or the workspace's default),
 * grouped so sites with the same cron, time zone and steps share one pg-boss schedule. An invalid expression or
 * time zone is ERR_CONFIG_INVALID naming the site.
 */
export async function listConfiguredSchedules(workspace: Workspace): Promise<ConfiguredSchedule[]> {
  const groups = new Map<string, ConfiguredSchedule>();
  for (const siteName of workspace.sites) {
    const site = await workspace.site(siteName);
    const schedule = site.config.schedule;
    if (!schedule) continue;
    let next: string;
    try {
      next = cronParser.parseExpression(schedule.cron, { tz: schedule.tz }).next().toISOString() ?? "";
    } catch (error) {
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `schedule of site ${siteName}: "${schedule.cron}" in ${schedule.tz} is not a valid cron expression and time zone (${(error as Error).message}); e.g. cron: "0 3 * * *", tz: Europe/Paris`,
        { site: siteName },
      );
    }
    const key = JSON.stringify([schedule.cron, schedule.tz, schedule.steps ?? null]);
    const name = SCHEDULE_PREFIX + createHash("sha256").update(key).digest("hex").slice(0, 10);
    const group = groups.get(name) ?? {
      name,
      cron: schedule.cron,
      tz: schedule.tz,
      steps: schedule.steps,
      sites: [],
      env: workspace.env,
      next,
    };
    group.sites.push(siteName);
    groups.set(name, group);
  }
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Makes pg-boss's schedules match the configuration (adds, updates, removes siteloom's own) and, for a worker,
 * relays each schedule's jobs into the run queue: when a schedule fires, one run per site is enqueued (a site
 * already waiting keeps its one job).
 */
export async function syncSchedules(
  client: QueueClient,
  workspace: Workspace,
  options: { logger?: Logger; relay?: boolean } = {},
): Promise<ConfiguredSchedule[]> {
  const logger = options.logger ?? createSilentLogger();
  const { boss } = client;
  const configured = await listConfiguredSchedules(workspace);
  for (const schedule of configured) {
    await client.ensureQueue(schedule.name, { policy: "standard" });
    await boss.schedule(
      schedule.name,
      schedule.cron,
      { sites: schedule.sites, steps: schedule.steps ?? null, env: schedule.env },
      { tz: schedule.tz },
    );
    if (options.relay !== false) {
      await boss.work<{ sites: string[]; steps: string[] | null; env: string }>(
        schedule.name,
        { pollingIntervalSeconds: Math.min(5, client.config.scheduleCheckSeconds) },
        async (jobs) => {
          for (const job of jobs) {
            const runs = await client.enqueue({
              sites: job.data.sites,
              steps: job.data.steps ?? undefined,
              env: job.data.env,
              dryRun: false,
              actor: actorName(),
              via: `schedule:${schedule.name}`,
            });
            logger.info({ schedule: schedule.name, runs: runs.length }, "queue: scheduled runs enqueued");
          }
        },
      );
    }
  }
  const wanted = new Set(configured.map((s) => s.name));
  for (const existing of await boss.getSchedules()) {
    if (existing.name.startsWith(SCHEDULE_PREFIX) && !wanted.has(existing.name)) await boss.unschedule(existing.name);
  }
  return configured;
}
