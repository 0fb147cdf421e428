import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, useTempDir } from "../support/cli.ts";

describe("cli: program", () => {
  it("ends quietly with exit code 0 when the reader of stdout goes away (`siteloom --help | head -1`)", async () => {
    const dir = await useTempDir();
    // `true` exits before node has started, so every write of the help text meets a closed pipe (EPIPE)
    const script = `("${process.execPath}" "${BIN}" --help 2>"${dir}/stderr"; echo $? >"${dir}/code") | true`;
    const shell = spawnSync("sh", ["-c", script], { encoding: "utf8", timeout: 60_000 });
    expect(shell.status).toBe(0);
    expect((await readFile(join(dir, "code"), "utf8")).trim()).toBe("0");
    expect(await readFile(join(dir, "stderr"), "utf8")).toBe("");
  });
});
