import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { COMMAND_GROUPS, loadCommands } from "../../src/cli/commands/index.ts";
import { createCliContext } from "../../src/cli/context.ts";
import { buildProgram } from "../../src/cli/program.ts";

const interrupts = { signal: () => new AbortController().signal, onForcedExit() {} };

function helpOf(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

function topLevel(program: Command): string[] {
  return program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
}

// A start-up loads only the command files its command line names: the table that says which file adds which command
// must match the files, and a command must parse and print the same whether it was loaded alone or with all.
describe("cli: commands loaded on dispatch", () => {
  it.each(COMMAND_GROUPS.map((g) => [g.names.join(", "), g] as const))(
    "group %s adds exactly those commands",
    async (_, group) => {
      const program = new Command("siteloom");
      (await group.load())(program, createCliContext(program, interrupts));
      expect(topLevel(program)).toEqual(group.names);
    },
  );

  it("a command line naming a command loads its file only; --help, help and a typo load all; --version none", async () => {
    const all = COMMAND_GROUPS.flatMap((g) => g.names);
    expect(topLevel(await buildProgram(interrupts, ["deploy", "shop", "--dry-run"]))).toEqual(["export", "deploy"]);
    expect(topLevel(await buildProgram(interrupts, ["-e", "production", "site", "add", "shop"]))).toEqual([
      "init",
      "site",
    ]);
    // the command is the first operand: a command name further on (a site called "status", a help topic) loads
    // nothing more, and help asked before the command, or a typo, lists every command
    expect(topLevel(await buildProgram(interrupts, ["--workspace", "run", "deploy", "status"]))).toEqual([
      "export",
      "deploy",
    ]);
    for (const args of [
      [],
      ["--help"],
      ["help"],
      ["deplyo", "shop"],
      ["--help", "deploy"],
      ["-h", "site"],
      ["deplyo", "status"],
    ])
      expect(topLevel(await buildProgram(interrupts, args))).toEqual(all);
    expect(topLevel(await buildProgram(interrupts))).toEqual(all);
    expect(await loadCommands(["--version"])).toEqual([]);
  });

  it("every command's help is the same loaded alone as loaded with all", async () => {
    const full = await buildProgram(interrupts);
    for (const name of COMMAND_GROUPS.flatMap((g) => g.names)) {
      const alone = await buildProgram(interrupts, [name, "--help"]);
      const find = (p: Command) => p.commands.find((c) => c.name() === name)!;
      expect(helpOf(find(alone)), name).toBe(helpOf(find(full)));
    }
  });
});
