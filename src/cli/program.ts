import { Command, CommanderError } from "commander";
import { EXIT_CODES, exitCodeFor, isSiteloomError, SiteloomError } from "../errors.ts";
import { PACKAGE_VERSION } from "../package-info.ts";
import { settlePending } from "../pending.ts";
import { printable } from "../printable.ts";
import { redact } from "../secret.ts";
import { loadCommands } from "./commands/index.ts";
import { createCliContext, type Interrupts } from "./context.ts";

/** How long a second Ctrl-C waits for the clean-up hooks (a PostgreSQL store's last writes) before leaving. */
const FORCED_EXIT_WAIT_MS = 3000;

/**
 * Builds the program (exported so argument parsing can be tested in-process): with the command line's words (`args`,
 * without node and the script), only the command files they name are loaded (see loadCommands); without, all.
 */
export async function buildProgram(
  interrupts: Interrupts = _createInterrupts(false),
  args?: readonly string[],
): Promise<Command> {
  const program = new Command("siteloom")
    .description("Export, enrich and deploy small websites on shared hosting, with secrets kept out of config.")
    .version(PACKAGE_VERSION, "-V, --version")
    .option("-w, --workspace <dir>", "workspace root (default: search upward for siteloom.yaml, or SITELOOM_WORKSPACE)")
    .option("-e, --env <name>", "environment profile (default: SITELOOM_ENV, then `environment:` in siteloom.yaml)")
    .option(
      "--set <path=value>",
      "override one setting for this run, highest layer (repeatable): --set deploy.parallel=4",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--json", "machine-readable JSON output")
    .option("-q, --quiet", "only errors")
    .option("-v, --verbose", "more detail")
    .option("--debug", "debug logging and stack traces on errors")
    .option("--no-color", "no colours (NO_COLOR is respected too)")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom init my-sites --example                      # a workspace with the example site
  $ siteloom --workspace my-sites config show --site example --origin
  $ SITELOOM_ENV=production siteloom config validate

Configuration layers, later wins: defaults < siteloom.yaml < its environments.<env> < sites/<name>/site.yaml
< its environments.<env> < SITELOOM_* variables (SITELOOM_DEPLOY__PARALLEL=8, SITELOOM_SITES__SHOP__DEPLOY__PARALLEL=8)
< --set path=value.
Exit codes: 0 ok, 1 failure, 2 usage error, 3 invalid configuration, 4 secrets, 5 transfer, 6 budget, 7 locked,
130 interrupted.`,
    )
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  const ctx = createCliContext(program, interrupts);
  for (const register of await loadCommands(args)) register(program, ctx);
  return program;
}

/**
 * Runs the CLI and returns the exit code: the one place where errors become exit codes (the table in errors.ts),
 * Ctrl-C becomes an abort and then exit code 130, and a closed stdout (`siteloom --help | head -1`) ends output quietly.
 */
export async function runMain(argv: string[] = process.argv): Promise<number> {
  const interrupts = _createInterrupts(argv.includes("--json"));
  const program = await buildProgram(interrupts, argv.slice(2));
  const debug = argv.includes("--debug");
  process.stdout.on("error", _onStdoutError);
  try {
    try {
      await program.parseAsync(argv);
    } finally {
      // audit entries still on their way to a shared store are written before the exit code is final
      await settlePending();
    }
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    return _report(error, debug);
  } finally {
    interrupts.dispose();
  }
}

// --- internal ---

/**
 * The reader of our stdout went away (`| head -1`): what is left to print is no longer wanted, and the work goes on
 * (a run still records itself). Any other write error is reported once.
 */
function _onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code === "EPIPE") return;
  process.stderr.write(`error: cannot write to stdout: ${error.message}\n`);
  process.exitCode = EXIT_CODES.failure;
}

/** Ctrl-C handling, installed when a command first asks for the abort signal. */
function _createInterrupts(json: boolean): Interrupts & { dispose(): void } {
  let controller: AbortController | undefined;
  const hooks: (() => unknown)[] = [];
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1 && controller) {
      if (!json) {
        process.stderr.write(`${signal}: stopping after the current operations (press Ctrl-C again to quit now)\n`);
      }
      controller.abort(new SiteloomError("ERR_INTERRUPTED", `interrupted by ${signal}`));
      return;
    }
    if (count > 2) process.exit(EXIT_CODES.interrupted);
    // Second signal: clean up (record the run as interrupted, release its locks), then leave. SQLite answers at once;
    // a PostgreSQL store needs its round trips, so the hooks get a short while before the process ends.
    const pending: Promise<unknown>[] = [];
    for (const hook of hooks) {
      try {
        pending.push(Promise.resolve(hook()));
      } catch {
        // leaving anyway
      }
    }
    const deadline = setTimeout(() => process.exit(EXIT_CODES.interrupted), FORCED_EXIT_WAIT_MS);
    void Promise.allSettled(pending).then(() => {
      clearTimeout(deadline);
      process.exit(EXIT_CODES.interrupted);
    });
  };
  return {
    signal() {
      if (!controller) {
        controller = new AbortController();
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      }
      return controller.signal;
    },
    onForcedExit(hook) {
      hooks.push(hook);
    },
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

function _report(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // help and version "errors" are normal exits; commander has printed what was asked for
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0) {
      return 0;
    }
    return EXIT_CODES.usage;
  }
  if (isSiteloomError(error)) {
    // messages may quote what a server or a file said: shown inert, whatever it holds
    process.stderr.write(`${redact(`error: ${printable(error.message)}`)}\n`);
    for (const line of error.details) process.stderr.write(`${redact(printable(line))}\n`);
    if (debug) process.stderr.write(`${redact(String(error.stack))}\n`);
    return exitCodeFor(error.code);
  }
  const message = printable(error instanceof Error ? error.message : String(error));
  process.stderr.write(`${redact(`error: ${message}`)}\n`);
  process.stderr.write(
    debug
      ? `${redact(String((error as Error)?.stack ?? ""))}\n`
      : "(this is unexpected; rerun with --debug for details and report it)\n",
  );
  return EXIT_CODES.failure;
}
