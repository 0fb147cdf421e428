/**
 * Many machines: pipeline jobs in a pg-boss queue on PostgreSQL, run by `siteloom worker` processes anywhere.
 * One job is one site of one run (`stately` policy, singleton key = site: one waiting and one active per site);
 * workers heartbeat in siteloom_queue.workers, and the jobs of a worker silent for `queue.leaseSeconds` are handed
 * to another, which resumes from the step records. Progress events go through PostgreSQL (table + NOTIFY), so
 * `siteloom runs --follow` works from any machine. See docs/many-machines.md.
 */
export { actorName } from "./actor.ts";
export {
  type EnqueueRequest,
  newWorkerId,
  type OpenQueueOptions,
  openQueue,
  openWorkspaceQueue,
  type QueueClient,
  type QueuedRun,
  type RunJobData,
  resolveQueueUrl,
} from "./client.ts";
export {
  createRunEventSink,
  type FollowRunOptions,
  followRun,
  type RunEventSink,
  type TailRunEventsOptions,
  tailRunEvents,
} from "./events.ts";
export { createQueueRunStarter } from "./run-starter.ts";
export {
  type ConfiguredSchedule,
  listConfiguredSchedules,
  SCHEDULE_PREFIX,
  syncSchedules,
} from "./schedules.ts";
export {
  type DeadLetter,
  listDeadLetters,
  type QueueDepth,
  type QueueStatus,
  queueStatus,
  type WorkerStatus,
} from "./status.ts";
export { type RunWorkerOptions, runWorker, type WorkerSummary } from "./worker.ts";
