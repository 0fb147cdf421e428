import { readFile } from "node:fs/promises";
import { SiteloomError } from "../errors.ts";
import { registerSecretValue } from "../secret.ts";

/** Asks a question on the terminal without echoing the answer (a password prompt). */
export function askHidden(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    return Promise.reject(
      new SiteloomError("ERR_USAGE", "no terminal to ask on: pass the value with --stdin or --from-file <file>"),
    );
  }
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let answer = "";
    input.setRawMode(true);
    input.resume();
    input.setEncoding("utf8");
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else {
        registerSecretValue(answer);
        resolve(answer);
      }
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new SiteloomError("ERR_INTERRUPTED", "interrupted"));
        if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    input.on("data", onData);
  });
}

export interface ReadValueOptions {
  /** Read the value from standard input. */
  stdin?: boolean | undefined;
  /** Read the value from this file. */
  fromFile?: string | undefined;
  /** What is asked for, for the prompt. */
  label: string;
}

/**
 * Reads a secret value from stdin, a file, or a hidden prompt (asked twice) — never from the command line, which
 * leaks into shell history and process lists. One trailing newline is removed from stdin and files.
 */
export async function readSecretValue(options: ReadValueOptions): Promise<string> {
  let value: string;
  if (options.stdin && options.fromFile) {
    throw new SiteloomError("ERR_USAGE", "use either --stdin or --from-file, not both");
  }
  if (options.stdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    value = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  } else if (options.fromFile) {
    try {
      value = (await readFile(options.fromFile, "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      throw new SiteloomError(
        "ERR_USAGE",
        `cannot read ${options.fromFile} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
        { cause: error },
      );
    }
  } else {
    if (!process.stdin.isTTY) {
      throw new SiteloomError(
        "ERR_USAGE",
        `no value for ${options.label}: pass --stdin (e.g. printf %s "$VALUE" | siteloom secrets set ...) or --from-file <file>; values are never taken from arguments`,
      );
    }
    value = await askHidden(`Value for ${options.label}: `);
    const again = await askHidden("Again, to confirm: ");
    if (again !== value) throw new SiteloomError("ERR_USAGE", "the two values differ; nothing was stored");
  }
  if (value === "") throw new SiteloomError("ERR_USAGE", `the value for ${options.label} is empty; nothing was stored`);
  registerSecretValue(value);
  return value;
}
