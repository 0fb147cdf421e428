import type pc from "picocolors";
import type { PipelineEvent, RunReport, SiteReport, StepProgress } from "../../pipeline/index.ts";
import { printable } from "../../printable.ts";
import { redact } from "../../secret.ts";
import type { RunStatus, StepStatus } from "../../store/index.ts";
import {
  clipLine,
  formatBar,
  formatBytes,
  formatCost,
  formatCounts,
  formatDuration,
  formatTable,
  stepDurationMs,
} from "./format.ts";

export { formatBar, formatBytes, formatCost, formatCounts, formatDuration, formatTable } from "./format.ts";
export { createStepRenderer, type StepRendererOptions } from "./step.ts";

type Colors = ReturnType<typeof pc.createColors>;

export interface ProgressRendererOptions {
  /** `tty`: live task tree redrawn in place; `plain`: one line per event (CI, --quiet); `json`: one event per line. */
  mode: "tty" | "plain" | "json";
  /** Where output goes. @default process.stderr (tty, plain) or process.stdout (json) */
  write?: (text: string) => void;
  colors: Colors;
  /** Redraw interval of the TTY tree. @default 100 */
  intervalMs?: number;
  /** Terminal width for the TTY tree. @default process.stderr.columns or 100 */
  columns?: number;
  /** Terminal height for the TTY tree; a taller tree is shown compacted. @default process.stderr.rows or 40 */
  rows?: number;
  /** Plain mode: also print step-log lines at info level. @default true */
  verbose?: boolean;
}

export interface ProgressRenderer {
  onEvent(event: PipelineEvent): void;
  /** Stops redrawing and leaves the final tree on screen. */
  close(): void;
}

/** Creates the renderer for a run's events. */
export function createProgressRenderer(options: ProgressRendererOptions): ProgressRenderer {
  switch (options.mode) {
    case "json":
      return _jsonRenderer(options.write ?? ((text) => process.stdout.write(text)));
    case "plain":
      return _plainRenderer(options);
    case "tty":
      return _ttyRenderer(options);
  }
}

/** The end-of-run table: every site and step with status, counts, bytes, cost and duration. */
export function formatRunSummary(
  report: { run: RunReport["run"]; sites: Pick<SiteReport, "site" | "status" | "error" | "steps">[] },
  colors: Colors,
): string[] {
  const rows: string[][] = [["SITE", "STEP", "STATUS", "RESULT", "BYTES", "COST", "TIME"]];
  for (const site of report.sites) {
    if (site.steps.length === 0)
      rows.push([site.site, "-", _status(site.status, colors), site.error ?? "", "", "", ""]);
    site.steps.forEach((step, i) => {
      const duration = stepDurationMs(step);
      const result =
        step.error ??
        step.summary ??
        (Object.keys(step.counts).length > 0 ? formatCounts(step.counts) : i === 0 && site.error ? site.error : "");
      rows.push([
        i === 0 ? site.site : "",
        step.step,
        _status(step.status, colors),
        result,
        step.bytes > 0 ? formatBytes(step.bytes) : "",
        step.costUsd > 0 ? formatCost(step.costUsd) : "",
        duration === undefined ? "" : formatDuration(duration),
      ]);
    });
  }
  const run = report.run;
  const duration = run.finished ? formatDuration(Date.parse(run.finished) - Date.parse(run.started)) : "";
  const counts = _siteCounts(report);
  return [
    ...formatTable(rows),
    "",
    `run ${run.id} ${_status(run.status, colors)}${run.dryRun ? " (dry run)" : ""}: ${counts}; cost ${formatCost(run.costUsd)}; ${duration}`,
  ];
}

// --- internal ---

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

function _status(status: StepStatus | RunStatus | string, c: Colors): string {
  switch (status) {
    case "succeeded":
      return c.green(status);
    case "failed":
      return c.red(status);
    case "interrupted":
      return c.yellow(status);
    case "skipped":
    case "pending":
      return c.dim(status);
    default:
      return c.cyan(status);
  }
}

function _siteCounts(report: { sites: Pick<SiteReport, "status">[] }): string {
  const by = new Map<string, number>();
  for (const site of report.sites) by.set(site.status, (by.get(site.status) ?? 0) + 1);
  return [...by.entries()].map(([status, n]) => `${n} ${status}`).join(", ");
}

function _jsonRenderer(write: (text: string) => void): ProgressRenderer {
  return {
    onEvent(event) {
      write(`${redact(JSON.stringify(event))}\n`);
    },
    close() {},
  };
}

function _plainRenderer(options: ProgressRendererOptions): ProgressRenderer {
  const write = options.write ?? ((text) => process.stderr.write(text));
  const c = options.colors;
  const line = (text: string) => write(`${redact(text)}\n`);
  // Sites whose failure a step line already showed; their site line would only repeat it.
  const reported = new Set<string>();
  return {
    onEvent(event) {
      switch (event.type) {
        case "run-started":
          line(
            `run ${event.runId}: ${event.sites.join(", ")} → ${event.steps.join(", ")} (env ${event.env}${event.dryRun ? ", dry run" : ""})`,
          );
          break;
        case "lock-waiting":
        case "lock-takeover":
          line(`${c.yellow("!")} ${event.message}`);
          break;
        case "step-started":
          line(`${event.site} ${event.step}: started`);
          break;
        case "step-log":
          // a step's notice may quote a server (a reply, a file name): shown inert
          if (event.level === "warn") {
            line(`${c.yellow("warning:")} ${event.site} ${event.step}: ${printable(event.message)}`);
          } else if (options.verbose !== false) line(`${event.site} ${event.step}: ${printable(event.message)}`);
          break;
        case "step-finished": {
          const detail = event.error ?? event.summary ?? formatCounts(event.counts);
          line(
            `${event.site} ${event.step}: ${_status(event.status, c)}${detail ? ` — ${detail}` : ""} (${formatDuration(event.durationMs)})`,
          );
          for (const item of event.plan) line(`  would ${item}`);
          if (event.status === "failed" || event.status === "interrupted") reported.add(event.site);
          break;
        }
        case "site-finished":
          if (event.status !== "succeeded" && !reported.has(event.site)) {
            line(`${event.site}: ${_status(event.status, c)}${event.error ? ` — ${event.error}` : ""}`);
          }
          break;
        default:
          break;
      }
    },
    close() {},
  };
}

interface TreeStep {
  status: StepStatus;
  progress?: StepProgress;
  detail?: string;
  startedAt?: number;
  durationMs?: number;
}

function _ttyRenderer(options: ProgressRendererOptions): ProgressRenderer {
  const write = options.write ?? ((text) => process.stderr.write(text));
  const c = options.colors;
  const sites = new Map<string, Map<string, TreeStep>>();
  const siteStatus = new Map<string, string>();
  let drawnLines = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  let stepWidth = 8;

  const erase = () => {
    if (drawnLines > 0) write(`\u001b[${drawnLines}A\u001b[0J`);
    drawnLines = 0;
  };
  const draw = () => {
    const columns = Math.max(40, options.columns || process.stderr.columns || 100);
    const rows = Math.max(10, options.rows || process.stderr.rows || 40);
    const full = [...sites].reduce((n, [, steps]) => n + 1 + steps.size, 0);
    // A tree taller than the terminal cannot be redrawn in place: then finished sites take one line each and
    // sites not started yet are counted.
    const compact = full > rows - 1;
    const lines: string[] = [];
    let waiting = 0;
    for (const [site, steps] of sites) {
      const status = siteStatus.get(site);
      const started = [...steps.values()].some((s) => s.status !== "pending");
      if (compact && !status && !started) {
        waiting++;
        continue;
      }
      const mark =
        status === "succeeded"
          ? c.green("✔")
          : status === "failed"
            ? c.red("✖")
            : status === "interrupted"
              ? c.yellow("■")
              : c.cyan("●");
      if (compact && status) {
        const failed = [...steps].find(([, s]) => s.status === "failed");
        lines.push(
          `${mark} ${c.bold(site)} ${c.dim(failed ? `${failed[0]}: ${failed[1].detail ?? "failed"}` : status)}`,
        );
        continue;
      }
      lines.push(`${mark} ${c.bold(site)}`);
      for (const [name, step] of steps) lines.push(`  ${_stepLine(name, step, stepWidth, c, frame)}`);
    }
    if (waiting > 0) lines.push(c.dim(`· ${waiting} more site(s) waiting`));
    if (lines.length > rows - 1) lines.splice(0, lines.length - (rows - 1));
    erase();
    const clipped = lines.map((l) => clipLine(l, columns - 1));
    if (clipped.length > 0) write(`${clipped.join("\n")}\n`);
    drawnLines = clipped.length;
    frame++;
  };
  const above = (text: string) => {
    erase();
    write(`${redact(text)}\n`);
    draw();
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case "run-started":
          stepWidth = Math.max(...event.steps.map((s) => s.length), 4);
          for (const site of event.sites) {
            sites.set(site, new Map(event.steps.map((s) => [s, { status: "pending" as StepStatus }])));
          }
          write(`${c.dim(`run ${event.runId} · env ${event.env}${event.dryRun ? " · dry run" : ""}`)}\n`);
          timer = setInterval(draw, options.intervalMs ?? 100);
          timer.unref();
          draw();
          break;
        case "lock-waiting":
        case "lock-takeover":
          above(`${c.yellow("!")} ${event.message}`);
          break;
        case "step-started": {
          const step = sites.get(event.site)?.get(event.step);
          if (step) Object.assign(step, { status: "running", startedAt: Date.now() });
          break;
        }
        case "step-progress": {
          const step = sites.get(event.site)?.get(event.step);
          if (step) step.progress = { ...step.progress, ...event };
          break;
        }
        case "step-log":
          if (event.level === "warn") {
            above(`${c.yellow("warning:")} ${event.site} ${event.step}: ${printable(event.message)}`);
          }
          break;
        case "step-finished": {
          const step = sites.get(event.site)?.get(event.step);
          if (step) {
            step.status = event.status;
            step.durationMs = event.durationMs;
            const detail = event.error ?? event.summary ?? formatCounts(event.counts);
            if (detail) step.detail = detail;
          }
          if (event.plan.length > 0) {
            above(`${c.bold(event.site)} ${event.step} would:\n${event.plan.map((p) => `  ${p}`).join("\n")}`);
          }
          break;
        }
        case "site-finished": {
          siteStatus.set(event.site, event.status);
          const steps = sites.get(event.site);
          if (event.error && steps) {
            // A site that failed before any step (lock, config) shows why on its first pending step.
            const first = [...steps.values()].find((s) => s.status === "pending" || s.status === "skipped");
            if (first && ![...steps.values()].some((s) => s.detail)) first.detail = event.error;
          }
          if (steps) {
            for (const step of steps.values()) {
              if (step.status === "pending") step.status = event.status === "interrupted" ? "interrupted" : "skipped";
            }
          }
          break;
        }
        case "run-finished":
          if (timer) clearInterval(timer);
          timer = undefined;
          draw();
          drawnLines = 0;
          break;
        default:
          break;
      }
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function _stepLine(name: string, step: TreeStep, width: number, c: Colors, frame: number): string {
  const label = name.padEnd(width);
  switch (step.status) {
    case "running": {
      const spin = c.cyan(SPINNER[frame % SPINNER.length] ?? "•");
      const p = step.progress;
      const elapsed = step.startedAt ? c.dim(formatDuration(Date.now() - step.startedAt)) : "";
      if (p?.total !== undefined && p.total > 0) {
        const done = p.done ?? 0;
        const amount =
          p.unit === "bytes"
            ? `${formatBytes(done)}/${formatBytes(p.total)}`
            : `${done}/${p.total}${p.unit ? ` ${p.unit}` : ""}`;
        return `${spin} ${label} ${formatBar(done, p.total)} ${amount} ${elapsed}${p.message ? ` ${c.dim(p.message)}` : ""}`;
      }
      return `${spin} ${label} ${elapsed}${p?.message ? ` ${c.dim(p.message)}` : ""}`;
    }
    case "succeeded":
      return `${c.green("✔")} ${label} ${step.detail ?? ""} ${c.dim(formatDuration(step.durationMs ?? 0))}`;
    case "failed":
      return `${c.red("✖")} ${label} ${c.red(step.detail ?? "failed")}`;
    case "interrupted":
      return `${c.yellow("■")} ${label} ${c.yellow("interrupted")}`;
    case "skipped":
      return `${c.dim("-")} ${c.dim(label)} ${c.dim(step.detail ?? "skipped")}`;
    default:
      return `${c.dim("·")} ${c.dim(label)}`;
  }
}
