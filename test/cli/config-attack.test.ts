import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";

/** Each case spawns the CLI once; on a busy 2-core machine one spawn can take seconds. */
const SLOW = 300_000;

/** Issue 15, item 9: hostile configuration input is a usage (2) or config (3) error in one line, never exit 1. */
async function workspace(site = "domain: shop.example.com\n"): Promise<string> {
  const dir = await useTempDir();
  await writeFile(join(dir, "siteloom.yaml"), "environment: development\n");
  await mkdir(join(dir, "sites", "shop"), { recursive: true });
  await writeFile(join(dir, "sites", "shop", "site.yaml"), site);
  return dir;
}

/** The message lines of stderr: no stack trace, no raw zod dump, at most the message and one detail line. */
function expectShortError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  expect(lines.length, stderr).toBeLessThanOrEqual(2);
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/unexpected/i);
}

describe("cli: hostile configuration input", { timeout: SLOW }, () => {
  it.each([
    ["__proto__.x=1", 2, /"__proto__" is not a setting name/],
    ["constructor.prototype.x=1", 2, /"constructor" is not a setting name/],
    ["toString=1", 3, /unknown setting "toString"/],
  ])("--set %s → exit %i", async (set, code, message) => {
    const dir = await workspace();
    const r = await runCli(["config", "show", "--site", "shop", "--set", set], { cwd: dir });
    expect(r.code, r.stderr).toBe(code);
    expectShortError(r.stdout + r.stderr, message);
  });

  it("a YAML __proto__ key is refused with its line, not merged into a prototype", async () => {
    const dir = await workspace("domain: shop.example.com\n__proto__:\n  deploy:\n    parallel: 99\n");
    const r = await runCli(["config", "validate"], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain('sites/shop/site.yaml:2:1 __proto__: "__proto__" is not a setting name');
    expectShortError(r.stdout + r.stderr, /__proto__/);
  });

  it("a YAML alias bomb is a config error", async () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
      "",
    ].join("\n");
    const dir = await workspace(bomb);
    const r = await runCli(["config", "validate"], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expectShortError(r.stdout + r.stderr, /aliases expand too far/);
  });

  it("a 50 MB configuration file is refused by its size, unread", async () => {
    const dir = await workspace();
    const handle = await open(join(dir, "sites", "shop", "site.yaml"), "w");
    const megabyte = Buffer.from(`# ${"x".repeat(1021)}\n`.repeat(1024));
    for (let i = 0; i < 50; i++) await handle.write(megabyte);
    await handle.close();
    const r = await runCli(["config", "validate"], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expectShortError(r.stdout + r.stderr, /the file is 50\.0 MB; configuration files are limited to 1 MB/);
  });

  it("config validate --env production names a plaintext credential with its line (item 3)", async () => {
    const dir = await workspace(
      "domain: shop.example.com\nremote:\n  host: ftp.example.com\n  password: hunter2-plain\n",
    );
    const r = await runCli(["config", "validate", "--env", "production"], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toContain(
      "sites/shop/site.yaml:4:13 remote.password: is a plaintext credential, refused in production: move it into the secret store with siteloom secrets migrate --env production",
    );
    expect(r.stdout + r.stderr).not.toContain("hunter2-plain");
  });
});
