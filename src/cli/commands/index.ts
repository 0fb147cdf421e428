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

/**
 * The command files a command line needs, so that a start-up compiles one of them, not all: the groups of the words
 * in `args` that name a top-level command (a word that is only an option's value or an argument loads one group more,
 * which changes nothing), all of them when no word does (`--help`, `help`, a mistyped command, which commander
 * answers with the closest names), none for a lone `--version`. Without `args`, all of them.
 */
export async function loadCommands(args?: readonly string[]): Promise<RegisterCommands[]> {
  if (args?.length === 1 && (args[0] === "--version" || args[0] === "-V")) return [];
  const named = args === undefined ? [] : COMMAND_GROUPS.filter((g) => g.names.some((n) => args.includes(n)));
  return Promise.all((named.length > 0 ? named : COMMAND_GROUPS).map((g) => g.load()));
}
