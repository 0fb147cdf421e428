import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";

// Without a queue database the queue commands say what to set, in one line, with the usage exit code.
describe("queue: commands without a queue database", () => {
  it("run --queue, worker, status and runs --follow explain how to configure one (exit 2)", async () => {
    const dir = await useTempDir("siteloom-queue-cli-");
    const root = join(dir, "ws");
    expect((await runCli(["init", root, "--example"])).code).toBe(0);
    for (const args of [["run", "example", "--queue"], ["worker"], ["status"], ["runs", "--follow", "x"]]) {
      const result = await runCli(["--workspace", root, ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toEqual([
        expect.stringMatching(/^error: no job queue configured: set queue\.url .* or a PostgreSQL state store/),
      ]);
    }
    const bad = await runCli(["--workspace", root, "worker", "--concurrency", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--concurrency expects a whole number of at least 1, got "0"');
  });
});
