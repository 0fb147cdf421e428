import type { QueueClient } from "./client.ts";

/**
 * The API's run starter when a queue is configured: `POST /runs` enqueues one job per site instead of running
 * in-process, and answers with the run ids (the first as `id`; `runs` lists every site's).
 */
export function createQueueRunStarter(client: QueueClient) {
  return {
    async start(request: {
      sites: string[];
      env: string;
      steps: string[] | undefined;
      dryRun: boolean;
      actor: string;
    }) {
      const runs = await client.enqueue({ ...request, via: "api" });
      return {
        id: runs[0]?.runId ?? "",
        env: request.env,
        sites: request.sites,
        steps: request.steps ?? null,
        dryRun: request.dryRun,
        queued: true,
        runs: runs.map((r) => ({ id: r.runId, site: r.site, ...(r.alreadyQueued ? { alreadyQueued: true } : {}) })),
      };
    },
  };
}
