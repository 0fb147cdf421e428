import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN } from "../support/cli.ts";
import type { TestPostgres } from "../support/postgres.ts";

/** A `siteloom` process (serve, worker) started by a test, with its output. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

/**
 * Spawns the built CLI in workspace `root` with `env` (the caller's SITELOOM_* variables left out); kept in `procs`.
 * `user` runs it as that user and group (the test runner must be root).
 */
export function spawnCli(
  root: string,
  env: Record<string, string>,
  args: string[],
  procs: Proc[],
  user?: { uid: number; gid: number },
): Proc {
  const base: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("SITELOOM_")) base[key] = value;
  const child = spawn(process.execPath, [BIN, "--workspace", root, ...args], {
    env: { ...base, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    ...user,
  });
  let out = "";
  const waiters: { pattern: RegExp; resolve: (m: string) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const proc: Proc = {
    child,
    output: () => out,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const m = out.match(pattern);
        if (m) return resolve(m[0]);
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`exited ${code} before ${pattern}: ${out}`)));
      }),
  };
  procs.push(proc);
  return proc;
}

/** `siteloom serve` on a free port (`--no-watch`: only what the processes push reaches it); resolves with its URL. */
export async function startServe(
  root: string,
  env: Record<string, string>,
  procs: Proc[],
): Promise<{ url: string; proc: Proc }> {
  const proc = spawnCli(root, env, ["serve", "--port", "0", "--json", "--no-watch"], procs);
  const line = await proc.waitFor(/\{"url":"[^"]+"/);
  return { url: line.slice('{"url":"'.length, -1), proc };
}

/** A row of siteloom_queue.runs. */
export interface QueueRunRow {
  run_id: string;
  site: string;
  status: string;
  worker: string | null;
  attempts: number;
  error_code: string | null;
}

/**
 * Waits until every run is over in the queue's table (succeeded or failed for good); returns them in order. When it
 * gives up, the error holds the runs, their pg-boss jobs, the last events of the runs not over and the end of the
 * output of `procs` (the workers), to tell a stuck step from a lost job.
 */
export async function waitForRuns(
  pg: TestPostgres,
  db: string,
  ids: string[],
  timeoutMs = 240_000,
  procs: Proc[] = [],
): Promise<QueueRunRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await pg.query<QueueRunRow>(
      "SELECT run_id, site, status, worker, attempts, error_code FROM siteloom_queue.runs WHERE run_id = ANY($1)",
      [ids],
      db,
    );
    const over = rows.filter((r) => r.status === "succeeded" || r.status === "failed");
    if (over.length === ids.length) return ids.map((id) => rows.find((r) => r.run_id === id) as QueueRunRow);
    if (Date.now() > deadline) {
      const jobs = await pg.query(
        "SELECT id, state, retry_count, start_after, started_on, output FROM pgboss.job WHERE data->>'runId' = ANY($1)",
        [ids],
        db,
      );
      const stuck = rows.filter((r) => !over.includes(r)).map((r) => r.run_id);
      const events = await pg.query(
        "SELECT run_id, event FROM siteloom_queue.run_events WHERE run_id = ANY($1) ORDER BY seq DESC LIMIT 20",
        [stuck],
        db,
      );
      const outputs = procs.map((p) => `--- pid ${p.child.pid}:\n${p.output().slice(-3000)}`).join("\n");
      throw new Error(
        `runs not over: ${JSON.stringify(rows)}; their jobs: ${JSON.stringify(jobs)}; last events: ${JSON.stringify(events)}\n${outputs}`,
      );
    }
    await sleep(300);
  }
}
