import type { RegisterCommands } from "../context.ts";

/** A command file: the top-level commands it adds (names and aliases), and the file, imported when needed. */
export interface CommandGroup {
  names: readonly string[];
  load(): Promise<RegisterCommands>;
}

/** Every command group, in the order `--help` lists them (test/cli/dispatch.test.ts checks `names` against each file). */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { names: ["init", "site"], load: async () => (await import("./workspace.ts")).registerWorkspaceCommands },
  { names: ["config"], load: async () => (await import("./config.ts")).registerConfigCommands },
  { names: ["secrets"], load: async () => (await import("./secrets/index.ts")).registerSecretsCommands },
  { names: ["audit"], load: async () => (await import("./audit.ts")).registerAuditCommands },
  { names: ["alerts"], load: async () => (await import("./alerts.ts")).registerAlertsCommands },
  { names: ["serve"], load: async () => (await import("./serve.ts")).registerServeCommands },
  { names: ["tokens"], load: async () => (await import("./tokens.ts")).registerTokensCommands },
  { names: ["export", "deploy"], load: async () => (await import("./transfer.ts")).registerTransferCommands },
  { names: ["generate", "costs"], load: async () => (await import("./generate.ts")).registerGenerateCommands },
  { names: ["articles"], load: async () => (await import("./articles/index.ts")).registerArticlesCommands },
  { names: ["enrich", "preview", "check"], load: async () => (await import("./enrich.ts")).registerEnrichCommands },
  { names: ["publish"], load: async () => (await import("./publish.ts")).registerPublishCommands },
  { names: ["run", "runs"], load: async () => (await import("./run.ts")).registerRunCommands },
  { names: ["worker", "schedule", "status"], load: async () => (await import("./queue.ts")).registerQueueCommands },
  { names: ["doctor"], load: async () => (await import("./doctor.ts")).registerDoctorCommands },
];

/** The program's global options that take a value as the next word (program.ts). */
const VALUE_OPTIONS = new Set(["-w", "--workspace", "-e", "--env", "--set"]);

/**
 * The command files a command line needs, so that a start-up compiles one of them, not all: the group of the first
 * word that is not an option or a global option's value (the command); all of them when there is none, when it names
 * no command (`help`, a mistyped command, which commander answers with the closest names) or when `--help`/`-h` comes
 * before it (the program's help lists every command); none for a lone `--version`. Without `args`, all of them.
 */
export async function loadCommands(args?: readonly string[]): Promise<RegisterCommands[]> {
  if (args?.length === 1 && (args[0] === "--version" || args[0] === "-V")) return [];
  const command = args === undefined ? undefined : _commandWord(args);
  const named = command === undefined ? undefined : COMMAND_GROUPS.find((g) => g.names.includes(command));
  return Promise.all((named ? [named] : COMMAND_GROUPS).map((g) => g.load()));
}

/** The command word of a command line, or undefined when help is asked before it or there is none. */
function _commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === "--") return args[i + 1];
    if (word === "-h" || word === "--help") return undefined;
    if (VALUE_OPTIONS.has(word)) i++;
    else if (!word.startsWith("-")) return word;
  }
  return undefined;
}
