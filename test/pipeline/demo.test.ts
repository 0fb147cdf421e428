import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { BIN } from "../support/cli.ts";

// Spawned CLIs and real servers: on a busy shared machine one test can take minutes; a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const DEMO = fileURLToPath(new URL("../../scripts/demo.mjs", import.meta.url));

// `npm run demo` (the README's first command) end to end: embedded FTP server, init --example, the whole pipeline,
// and it exits by itself. It runs the build under test (SITELOOM_TEST_BIN or dist/) instead of rebuilding.
describe("pipeline: npm run demo", () => {
  it("deploys the example site with its blog to the embedded FTP server and exits by itself", async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [DEMO], {
        env: { ...process.env, SITELOOM_TEST_BIN: BIN },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/ftp:\/\/demo@127\.0\.0\.1:\d+\//);
    // the password never appears: only the reference
    expect(result.stdout).toContain("password: ${DEMO_FTP_PASSWORD}");
    // the offline sample drafts become previews through the example's enrich.drafts: preview, nobody edits them
    expect(result.stdout).not.toMatch(/reviewing:/);
    expect(result.stderr).toMatch(/5 draft article\(s\) rendered as previews/);
    const added = /(\d+) file\(s\) added, (\d+) changed, (\d+) untouched/.exec(result.stdout);
    expect(added).not.toBeNull();
    expect(Number(added?.[1])).toBeGreaterThanOrEqual(6);
    expect(result.stdout).toMatch(/^ {2}\+ blog\/index\.html$/m);
    expect(result.stdout.match(/^ {2}\+ blog\/[a-z0-9-]+\/index\.html$/gm)?.length).toBeGreaterThanOrEqual(5);
    expect(result.stdout).toContain("~ sitemap.xml");
    expect(result.stdout).toContain("To browse it: npm run demo -- --serve");
    // the temporary folders are gone when it exits: its closing lines point at none of them
    const closing = result.stdout.slice(result.stdout.indexOf("result on the FTP server"));
    expect(closing).not.toMatch(/siteloom-demo-/);
  });
});
