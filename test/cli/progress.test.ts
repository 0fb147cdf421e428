import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { createStepRenderer } from "../../src/cli/progress/index.ts";
import type { PipelineEvent } from "../../src/pipeline/index.ts";

const base = { time: "2026-01-01T00:00:00.000Z", runId: "r1", site: "shop", step: "deploy" };
const EVENTS: PipelineEvent[] = [
  { type: "step-started", ...base },
  { type: "step-log", ...base, level: "info", message: "deploy shop (env production) → ftp://u@h/" },
  { type: "step-progress", ...base, done: 512, total: 2048, unit: "bytes", message: "a.html" },
  { type: "step-log", ...base, level: "warn", message: "server said \u001b[2Jhello" },
  { type: "step-progress", ...base, done: 2048, total: 2048, unit: "bytes", message: "b.html" },
  {
    type: "step-finished",
    ...base,
    status: "succeeded",
    durationMs: 5,
    counts: {},
    bytes: 2048,
    costUsd: 0,
    plan: [],
  },
];

function render(mode: "tty" | "plain", colors: boolean, verbose = true): string {
  let out = "";
  const renderer = createStepRenderer({
    mode,
    colors: pc.createColors(colors),
    write: (t) => (out += t),
    columns: 80,
    verbose,
  });
  for (const event of EVENTS) renderer.onEvent(event);
  renderer.close();
  return out;
}

describe("cli: the progress of a single command's step", () => {
  it("on a terminal: a bar redrawn in place, notices above it, cleared at the end; no colour when asked", () => {
    const out = render("tty", false);
    expect(out).toContain("\r\u001b[2Kdeploy   █████░░░░░░░░░░░░░░░ 512 B/2.0 KB a.html");
    expect(out).toContain("████████████████████ 2.0 KB/2.0 KB b.html");
    expect(out).toContain("deploy shop (env production) → ftp://u@h/\n");
    // the server's escape sequence is shown inert
    expect(out).toContain("warning: server said \\x1b[2Jhello\n");
    expect(out.endsWith("\r\u001b[2K")).toBe(true);
    // colour codes only when colours are on (NO_COLOR, --no-color, not a terminal turn them off)
    expect(out).not.toMatch(/\u001b\[\d+m/);
    expect(render("tty", true)).toMatch(/\u001b\[33mwarning:/);
  });

  it("off a terminal: only the notices, one plain line each; --quiet keeps only warnings", () => {
    expect(render("plain", false)).toBe(
      "deploy shop (env production) → ftp://u@h/\nwarning: server said \\x1b[2Jhello\n",
    );
    expect(render("plain", false, false)).toBe("warning: server said \\x1b[2Jhello\n");
  });

  it("generate on a terminal: articles done of the total, the money spent so far and the time left", () => {
    let out = "";
    let clock = 0;
    const renderer = createStepRenderer({
      mode: "tty",
      colors: pc.createColors(false),
      write: (t) => (out += t),
      columns: 100,
      now: () => clock,
    });
    const gen = { ...base, step: "generate" };
    renderer.onEvent({ type: "step-started", ...gen });
    clock = 20_000; // one article in 20 s: three left take about a minute
    renderer.onEvent({
      type: "step-progress",
      ...gen,
      done: 1,
      total: 4,
      unit: "articles",
      costUsd: 0.0042,
      message: "a",
    });
    expect(out).toContain("1/4 articles $0.0042 ETA 1m00s a");
    clock = 80_000;
    renderer.onEvent({
      type: "step-progress",
      ...gen,
      done: 4,
      total: 4,
      unit: "articles",
      costUsd: 0.0168,
      message: "d",
    });
    // the last draw has no time left to show
    expect(out).toContain("4/4 articles $0.02 d");
    renderer.close();
  });
});
