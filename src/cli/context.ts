import type { Command } from "commander";
import pc from "picocolors";
import { SiteloomError } from "../errors.ts";
import { createLogger, type Logger } from "../log/index.ts";
import { redact } from "../secret.ts";
import { type LoadWorkspaceOptions, loadWorkspace, type Workspace } from "../workspace/index.ts";

/** Options every command accepts (defined once on the root program). */
export interface GlobalOptions {
  workspace?: string;
  env?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  debug?: boolean;
  color?: boolean;
}

/** What a command file gets: parsed globals, output helpers and the workspace loader. */
export interface CliContext {
  globals(): GlobalOptions;
  /** Loads the workspace with --workspace/--env applied. */
  loadWorkspace(extra?: Partial<LoadWorkspaceOptions>): Promise<Workspace>;
  /** The logger (stderr; level from --quiet/--verbose/--debug). */
  logger(): Logger;
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
}

/** A command file's export: adds its commands to the program. */
export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export function createCliContext(program: Command): CliContext {
  let logger: Logger | undefined;
  const globals = () => program.opts<GlobalOptions>();
  const colorEnabled = () =>
    globals().color !== false &&
    !("NO_COLOR" in process.env) &&
    Boolean(process.stdout.isTTY || process.env.FORCE_COLOR);
  const ctx: CliContext = {
    globals,
    loadWorkspace(extra = {}) {
      const g = globals();
      return loadWorkspace({ workspace: g.workspace, env: g.env, ...extra });
    },
    logger() {
      const g = globals();
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
  };
  return ctx;
}

/** Throws a usage error (exit code 2) in the one format the CLI prints. */
export function usageError(message: string): never {
  throw new SiteloomError("ERR_USAGE", message);
}
