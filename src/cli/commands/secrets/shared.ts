import type { SecretStore } from "../../../secrets/index.ts";
import type { Workspace } from "../../../workspace/index.ts";
import type { CliContext } from "../../context.ts";
import { usageError } from "../../context.ts";

/** The `--store <name>` option most secrets commands take. */
export interface StoreOpt {
  store?: string;
}

/** Loads the workspace (its audit log attached) and opens a store, asking for a passphrase on a terminal. */
export async function openStore(ctx: CliContext, opts: StoreOpt): Promise<{ ws: Workspace; store: SecretStore }> {
  const ws = await ctx.loadWorkspace();
  const { askHidden, openSecretStore } = await import("../../../secrets/index.ts");
  return { ws, store: await openSecretStore(ws, { name: opts.store, askPassphrase: askHidden }) };
}

/** Asks for a new passphrase twice (a store created by this command). */
export function askNewPassphrase(): (question: string) => Promise<string> {
  return async (question) => {
    const { askHidden } = await import("../../../secrets/index.ts");
    const first = await askHidden(question);
    const again = await askHidden("Again, to confirm: ");
    if (first !== again) usageError("the passphrases differ");
    if (first.length < 10) usageError("use a passphrase of at least 10 characters");
    return first;
  };
}

/** Prints the JSON document with --json, else the line. */
export function done(ctx: CliContext, json: Record<string, unknown>, line: string): void {
  if (ctx.globals().json) ctx.printJson(json);
  else ctx.print(line);
}

/** Paths inside the workspace shown relative to it. */
export function rel(ws: Workspace, text: string): string {
  return text.split(`${ws.root}/`).join("");
}
