import type { Command } from "commander";
import pc from "picocolors";
import { SiteloomError } from "../errors.ts";
import type { Logger } from "../log/index.ts";
import { redact } from "../secret.ts";
import type { LoadWorkspaceOptions, Workspace } from "../workspace/index.ts";

/** Options every command accepts (defined once on the root program). */
export interface GlobalOptions {
  workspace?: string;
  env?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  debug?: boolean;
  color?: boolean;
  /** `--set path=value` overrides (the flags layer). */
  set?: string[];
}

/** What a command file gets: parsed globals, output helpers and the workspace loader. */
export interface CliContext {
  globals(): GlobalOptions;
  /** Loads the workspace with --workspace/--env applied (`alerts: false`: do not start sending alerts). */
  loadWorkspace(extra?: Partial<LoadWorkspaceOptions> & { alerts?: boolean }): Promise<Workspace>;
  /** The logger (stderr; level from --quiet/--verbose/--debug); loaded on first use. */
  logger(): Promise<Logger>;
  /** Writes a line to stdout (secret values masked). */
  print(line?: string): void;
  /** Writes machine output: one JSON document on stdout. */
  printJson(value: unknown): void;
  /** Writes a human notice to stderr unless --quiet (masked). */
  info(line: string): void;
  /** Writes a warning to stderr (masked), even with --quiet. */
  warn(line: string): void;
  /** Colours, off when not a TTY, with NO_COLOR, or with --no-color. */
  color: ReturnType<typeof pc.createColors>;
  /**
   * How progress is shown: `json` with --json, `plain` lines when stderr is not a terminal, in CI or with --quiet,
   * else `tty` (bars redrawn in place).
   */
  progressMode(): "tty" | "plain" | "json";
  /**
   * Aborted by the first Ctrl-C (or SIGTERM), with an ERR_INTERRUPTED reason; calling it is what makes a command
   * interruptible (program.ts catches the signals from then on). A second Ctrl-C runs the `onForcedExit` hooks, waits
   * a moment for the promises they return, and exits with 130 (a third leaves at once).
   */
  signal(): AbortSignal;
  /** Registers a clean-up for a second Ctrl-C (record the run as interrupted, release locks); may return a promise. */
  onForcedExit(hook: () => unknown): void;
}

/** What program.ts gives the context: the one place that turns Ctrl-C into an abort. */
export interface Interrupts {
  signal(): AbortSignal;
  onForcedExit(hook: () => unknown): void;
}

/**
 * A command file's export: adds its commands to the program. A command line loads only the files of the commands it
 * names (commands/index.ts), `--help` all of them, so registration must stay cheap: command files load domain modules
 * with `await import()` inside their actions.
 */
export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export function createCliContext(program: Command, interrupts: Interrupts): CliContext {
  let logger: Logger | undefined;
  const globals = () => program.opts<GlobalOptions>();
  const colorEnabled = () =>
    globals().color !== false &&
    !("NO_COLOR" in process.env) &&
    Boolean(process.stdout.isTTY || process.env.FORCE_COLOR);
  const ctx: CliContext = {
    globals,
    async loadWorkspace(extra = {}) {
      const g = globals();
      const warn = (line: string) => ctx.warn(line);
      const [{ askHidden, guardPlaintext, workspaceSecrets }, { loadWorkspace, openWorkspaceAuditTrail }, audit] =
        await Promise.all([
          import("../secrets/index.ts"),
          import("../workspace/index.ts"),
          import("../audit/index.ts"),
        ]);
      // secret:// resolves through the configured store (audited); plaintext credentials warn, or fail in production
      const { alerts: _alerts, ...loadOptions } = extra;
      const workspace = await loadWorkspace({
        workspace: g.workspace,
        env: g.env,
        flags: await parseSetFlags(g.set ?? []),
        secrets: workspaceSecrets({ askPassphrase: askHidden }),
        ...loadOptions,
      });
      // every event this command publishes from here on (secret accesses, config writes) joins the audit log
      audit.attachWorkspaceAudit(openWorkspaceAuditTrail(workspace), warn);
      const guarded = guardPlaintext(workspace, { warn });
      // alerts subscribe after the audit log, so they see each event's audit entry id; nothing loads without channels
      if (Object.keys(guarded.config.alerts?.channels ?? {}).length > 0 && extra.alerts !== false) {
        const { attachWorkspaceAlerts } = await import("../alerts/index.ts");
        attachWorkspaceAlerts(guarded, { warn });
      }
      return guarded;
    },
    async logger() {
      if (logger) return logger;
      const g = globals();
      const { createLogger } = await import("../log/index.ts");
      logger ??= createLogger({ level: g.debug ? "debug" : g.verbose ? "info" : g.quiet ? "error" : "warn" });
      return logger;
    },
    print(line = "") {
      process.stdout.write(`${redact(line)}\n`);
    },
    printJson(value) {
      process.stdout.write(`${redact(JSON.stringify(value, null, 2))}\n`);
    },
    info(line) {
      if (!globals().quiet) process.stderr.write(`${redact(line)}\n`);
    },
    warn(line) {
      process.stderr.write(`${ctx.color.yellow("warning:")} ${redact(line)}\n`);
    },
    get color() {
      return pc.createColors(colorEnabled());
    },
    progressMode() {
      const g = globals();
      if (g.json) return "json";
      return g.quiet || !process.stderr.isTTY || process.env.CI ? "plain" : "tty";
    },
    signal: () => interrupts.signal(),
    onForcedExit: (hook) => interrupts.onForcedExit(hook),
  };
  return ctx;
}

/**
 * Turns `--set path=value` flags into the loader's `flags` layer; values follow the SITELOOM_* variable rules (YAML
 * scalars, text where the schema wants a string).
 */
export async function parseSetFlags(sets: readonly string[]): Promise<Record<string, unknown>> {
  const flags: Record<string, unknown> = {};
  if (sets.length === 0) return flags;
  const { parseSettingValue, PROTOTYPE_KEYS, SiteConfigSchema } = await import("../config/index.ts");
  for (const item of sets) {
    const eq = item.indexOf("=");
    if (eq <= 0) usageError(`--set expects path=value (e.g. --set deploy.parallel=4), got "${item}"`);
    const path = item.slice(0, eq).trim();
    const bad = path.split(".").find((segment) => PROTOTYPE_KEYS.has(segment));
    if (bad) usageError(`--set ${path}: "${bad}" is not a setting name`);
    flags[path] = parseSettingValue(item.slice(eq + 1), SiteConfigSchema, path.split("."));
  }
  return flags;
}

/** Throws a usage error (exit code 2) in the one format the CLI prints. */
export function usageError(message: string): never {
  throw new SiteloomError("ERR_USAGE", message);
}
