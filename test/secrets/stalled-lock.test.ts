import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "../support/cli.ts";
import { randomValue, tempWorkspace } from "./helpers.ts";

/**
 * Issue 15, item 6: a `secrets rotate` frozen with SIGSTOP while it holds the store's lock; a second rotate takes
 * the stale lock over and writes. When the first one wakes up it must not replace the newer store with its older
 * read: every rotate that exits 0 is one more version, and the value in force is the last successful one.
 */
describe("secrets: a stalled lock holder", { timeout: 400_000 }, () => {
  it("a rotate frozen with SIGSTOP while holding the lock loses no other writer's update", async () => {
    const ws = await tempWorkspace();
    expect((await ws.cli(["secrets", "init"])).code).toBe(0);
    expect((await ws.cli(["secrets", "set", "shop/API_KEY", "--stdin"], { input: randomValue("v0") })).code).toBe(0);
    const lockDir = join(ws.root, ".siteloom", "secrets.development.age.lock");
    const env = { ...cleanEnv(), XDG_CONFIG_HOME: ws.xdg, NO_COLOR: "1" };

    // catch the first rotate inside its locked section (it holds the lock for milliseconds): retry until caught
    let frozen: Rotate | undefined;
    const first = randomValue("first");
    for (let attempt = 0; attempt < 10 && !frozen; attempt++) {
      const a = startRotate(ws.root, env, first);
      const deadline = Date.now() + 20_000;
      // a tight poll (the lock lives a few milliseconds) that still lets this process's I/O run
      while (!existsSync(lockDir) && a.exitCode() === null && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (a.exitCode() === null && existsSync(lockDir)) {
        a.child.kill("SIGSTOP");
        if (existsSync(lockDir)) {
          frozen = a;
          break;
        }
        a.child.kill("SIGCONT");
      }
      await a.done;
    }
    expect(frozen, "the first rotate was never caught holding the lock").toBeDefined();

    const second = randomValue("second");
    const b = startRotate(ws.root, env, second);
    const bResult = await b.done; // waits until the frozen holder's lock is stale (10 s), then takes it over
    frozen!.child.kill("SIGCONT");
    const aResult = await frozen!.done;

    expect(bResult.code, bResult.stderr).toBe(0);
    const history = await ws.cli(["--json", "secrets", "history", "shop/API_KEY"]);
    expect(history.code, history.stderr).toBe(0);
    const versions = JSON.parse(history.stdout) as { version: number }[] | { versions: { version: number }[] };
    const list = Array.isArray(versions) ? versions : versions.versions;
    const latest = Math.max(...list.map((v) => v.version));
    const succeeded = [aResult, bResult].filter((r) => r.code === 0).length;
    // version 1 was the set; each successful rotate adds exactly one
    expect(latest).toBe(1 + succeeded);
    const now = await ws.cli(["secrets", "get", "shop/API_KEY", "--reveal"]);
    if (aResult.code === 0) {
      // both rotates wrote, one after the other: the first froze either after its write (the second read it and
      // wrote after it) or before its read (it read the second's write when it woke): versions 2 and 3 hold the two
      // values, none lost, and the value in force is the later of them
      const v2 = await ws.cli(["secrets", "get", "shop/API_KEY?version=2", "--reveal"]);
      expect(v2.code, v2.stderr).toBe(0);
      expect([v2.stdout.trim(), now.stdout.trim()].sort()).toEqual([first, second].sort());
    } else {
      expect(aResult.code, aResult.stderr).toBe(7);
      expect(aResult.stderr).toMatch(/changed by another process while this one held its lock.*nothing was written/);
      expect(aResult.stderr.trim().split("\n")).toHaveLength(1);
      expect(now.stdout.trim()).toBe(second);
    }
  });
});

// --- internal ---

interface Rotate {
  child: ReturnType<typeof spawn>;
  exitCode(): number | null;
  done: Promise<{ code: number; stderr: string }>;
}

function startRotate(cwd: string, env: Record<string, string | undefined>, value: string): Rotate {
  const child = spawn(process.execPath, [BIN, "secrets", "rotate", "shop/API_KEY", "--stdin"], {
    cwd,
    env: env as NodeJS.ProcessEnv,
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  let code: number | null = null;
  const done = new Promise<{ code: number; stderr: string }>((resolve) => {
    child.on("close", (c, signal) => {
      code = c ?? (signal ? 128 : 1);
      resolve({ code, stderr });
    });
  });
  child.stdin!.end(value);
  return { child, exitCode: () => code ?? child.exitCode, done };
}

function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SITELOOM_")));
}
