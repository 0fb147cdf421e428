import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.ts";

/** Every command below `command`, with its full name ("site add"). */
function walk(command: Command, prefix: string[] = []): [string, Command][] {
  return command.commands.flatMap((sub) => {
    const name = [...prefix, sub.name()];
    return [[name.join(" "), sub] as [string, Command], ...walk(sub, name)];
  });
}

function helpOf(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

const program = await buildProgram();

describe("cli: help (in-process argument parsing)", () => {
  const FOUNDATION = [
    "init",
    "site",
    "site add",
    "site list",
    "site show",
    "site remove",
    "config",
    "config show",
    "config validate",
    "config schema",
  ];

  it.each(FOUNDATION)("%s --help shows an example and the global options", (name) => {
    const found = walk(program).find(([n]) => n === name);
    expect(found, `command ${name}`).toBeDefined();
    const text = helpOf(found![1]);
    expect(text).toMatch(/Examples?:\n {2}\$ siteloom /);
    expect(text).toContain("--json");
    expect(text).toContain("--set <path=value>");
  });

  it("the root help has examples, the layers and the exit codes", () => {
    const text = helpOf(program);
    expect(text).toMatch(/Examples:\n {2}\$ siteloom init/);
    expect(text).toContain("SITELOOM_SITES__SHOP__DEPLOY__PARALLEL=8");
    expect(text).toContain("3 invalid configuration");
  });

  it("declares the global options once, on the root", () => {
    const flags = program.options.map((o) => o.long);
    expect(flags).toEqual(
      expect.arrayContaining([
        "--workspace",
        "--env",
        "--set",
        "--json",
        "--quiet",
        "--verbose",
        "--debug",
        "--no-color",
      ]),
    );
  });
});
