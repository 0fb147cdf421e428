import type pc from "picocolors";
import type { PipelineEvent, StepProgress } from "../../pipeline/index.ts";
import { printable } from "../../printable.ts";
import { redact } from "../../secret.ts";
import { clipLine, formatBar, formatBytes, formatCost, formatDuration } from "./format.ts";

type Colors = ReturnType<typeof pc.createColors>;

/** Options of the renderer of a single command's step (`siteloom deploy`, `export`, `generate`, `enrich`). */
export interface StepRendererOptions {
  /** `tty`: one progress bar redrawn in place on stderr; `plain`: only the step's notices, one line each. */
  mode: "tty" | "plain";
  colors: Colors;
  /** Where output goes. @default process.stderr */
  write?: (text: string) => void;
  /** Terminal width. @default process.stderr.columns or 80 */
  columns?: number;
  /** Also show the step's info notices (the warnings always show). @default true */
  verbose?: boolean;
  /** Clock for the time left (tests pass their own). @default Date.now */
  now?: () => number;
}

/**
 * The progress of one step run on its own: the command prints its own result afterwards, so this shows only what
 * happens meanwhile (a bar on a terminal, the step's notices and lock messages) and leaves nothing behind.
 */
export function createStepRenderer(options: StepRendererOptions): {
  onEvent(event: PipelineEvent): void;
  close(): void;
} {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const c = options.colors;
  const tty = options.mode === "tty";
  const now = options.now ?? Date.now;
  let drawn = false;
  let lastDraw = 0;
  let stepStarted = now();
  const clear = () => {
    if (drawn) write("\r\u001b[2K");
    drawn = false;
  };
  const line = (text: string) => {
    clear();
    write(`${redact(text)}\n`);
  };
  const draw = (step: string, progress: StepProgress, final: boolean) => {
    const at = now();
    if (!final && at - lastDraw < 80) return;
    lastDraw = at;
    const done = progress.done ?? 0;
    const total = progress.total ?? 0;
    const amount =
      progress.unit === "bytes"
        ? `${formatBytes(done)}/${formatBytes(total)}`
        : `${done}/${total || "?"}${progress.unit ? ` ${progress.unit}` : ""}`;
    const cost = progress.costUsd === undefined ? "" : ` ${formatCost(progress.costUsd)}`;
    const left = _timeLeft(at - stepStarted, done, total, progress.unit);
    const eta = left === undefined ? "" : ` ${c.dim(`ETA ${formatDuration(left)}`)}`;
    const text = `${step.padEnd(8)} ${formatBar(done, total)} ${amount}${cost}${eta}${progress.message ? ` ${c.dim(progress.message)}` : ""}`;
    const columns = options.columns ?? process.stderr.columns ?? 80;
    write(`\r\u001b[2K${redact(clipLine(text, columns - 1))}`);
    drawn = true;
  };
  return {
    onEvent(event) {
      switch (event.type) {
        case "step-started":
          stepStarted = now();
          break;
        case "lock-waiting":
        case "lock-takeover":
          line(`${c.yellow("!")} ${event.message}`);
          break;
        case "step-progress":
          if (tty && event.total !== undefined && event.total > 0) draw(event.step, event, event.done === event.total);
          break;
        case "step-log":
          // a step's notice may quote a server (a reply, a file name): shown inert
          if (event.level === "warn") line(`${c.yellow("warning:")} ${printable(event.message)}`);
          else if (options.verbose !== false) line(printable(event.message));
          break;
        case "step-finished":
        case "run-finished":
          clear();
          break;
        default:
          break;
      }
    },
    close: clear,
  };
}

// --- internal ---

/** Time left at the pace so far; none before the first unit is done, when done, or for bytes (the bar says enough). */
function _timeLeft(elapsedMs: number, done: number, total: number, unit: string | undefined): number | undefined {
  if (unit === "bytes" || done <= 0 || total <= done || elapsedMs <= 0) return undefined;
  return (elapsedMs / done) * (total - done);
}
