import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { readAuditLog, verifyAuditLog } from "../../src/audit/index.ts";
import { createFileBackend, createSecretStore } from "../../src/secrets/index.ts";
import { useTempDir } from "../support/cli.ts";

const WRITER = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url));
/**
 * The issue asks for 200 kills and 2 × 200 rotations. Each child start costs about 2 s on the shared 2-core test
 * machine, so the default here is scaled down; SITELOOM_FAULT_KILLS=200 SITELOOM_FAULT_ROTATIONS=200 runs the full size.
 */
const KILLS = Number(process.env.SITELOOM_FAULT_KILLS ?? 25);
const ROTATIONS = Number(process.env.SITELOOM_FAULT_ROTATIONS ?? 200);

function startWriter(args: string[], identity: string): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, ...args], {
    env: { ...process.env, SITELOOM_AGE_IDENTITY: identity },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (/ready|done/.test(out)) resolve(out);
    });
    child.stderr!.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code, signal) => {
      if (!/ready|done/.test(out)) reject(new Error(`writer exited (${code ?? signal}) before it was ready: ${err}`));
    });
  });
  return { child, ready };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on("exit", (code) => resolve(code));
  });
}

async function fixture() {
  const dir = await useTempDir("siteloom-faults-");
  const key = await generateX25519Identity();
  const identity = { identities: [key], recipients: [await identityToRecipient(key)], source: "test" };
  const path = join(dir, "secrets.development.age");
  const open = () =>
    createSecretStore(createFileBackend({ path, env: "development", identity: async () => identity }), {
      name: "file",
      env: "development",
      actor: "checker",
    });
  return { dir, key, path, open };
}

describe("secrets: faults", { timeout: 1_800_000 }, () => {
  it(`a writer killed with SIGKILL at random moments (${KILLS} times) leaves the old or the new store`, async () => {
    const { key, path, open, dir } = await fixture();
    const seeded = open();
    for (let i = 0; i < 40; i++) await seeded.set(`secret://shop/FILLER_${i}`, `filler-${i}-${"x".repeat(200)}`);
    let lastVersion = 0;
    for (let round = 1; round <= KILLS; round++) {
      const { child, ready } = startWriter(["set-forever", path, "-", `k${round}`], key);
      await ready;
      await new Promise((r) => setTimeout(r, Math.random() * 120));
      child.kill("SIGKILL");
      await exited(child);
      // every time: the store opens, holds all other secrets, and a whole value of the counter
      const store = open();
      const value = (await store.get("secret://shop/COUNTER")).reveal();
      expect(value).toMatch(/^value-k\d+-\d+$/);
      const [info] = await store.list("shop").then((l) => l.filter((s) => s.name === "COUNTER"));
      expect(info!.version).toBeGreaterThan(lastVersion);
      lastVersion = info!.version;
      expect((await store.list("shop")).length).toBe(41);
    }
    // a leftover lock or temp file does not stop the next writer
    await open().set("secret://shop/AFTER", "after-the-kills");
    expect((await open().get("secret://shop/AFTER")).reveal()).toBe("after-the-kills");
    const leftovers = (await import("node:fs")).readdirSync(dir).filter((n) => n.includes(".tmp-"));
    expect(leftovers).toEqual([]);
  });

  it(`two processes × ${ROTATIONS} writes of one secret lose no update, and the audit log holds them all`, async () => {
    const { key, path, open, dir } = await fixture();
    const audit = join(dir, "audit.log");
    const a = startWriter(["set-n", path, audit, "alice", String(ROTATIONS)], key);
    const b = startWriter(["set-n", path, audit, "bob", String(ROTATIONS)], key);
    await Promise.all([a.ready, b.ready]);
    expect(await exited(a.child)).toBe(0);
    expect(await exited(b.child)).toBe(0);
    const store = open();
    const history = await store.history("secret://shop/SHARED");
    expect(history.at(-1)!.version).toBe(2 * ROTATIONS);
    const writes = readAuditLog(audit, { action: "write" });
    expect(writes).toHaveLength(2 * ROTATIONS);
    expect(writes.filter((e) => e.actor === "alice")).toHaveLength(ROTATIONS);
    expect(writes.map((e) => e.version).sort((x, y) => x! - y!)).toEqual(
      Array.from({ length: 2 * ROTATIONS }, (_, i) => i + 1),
    );
    expect(verifyAuditLog(audit)).toEqual({ ok: true, entries: 2 * ROTATIONS });
  });

  it("a truncated or flipped-byte store is a clear error, never partial data", async () => {
    const { path, open } = await fixture();
    await open().set("secret://shop/A", "intact-value-123");
    const good = await readFile(path);
    for (let cut = 1; cut < good.length; cut += Math.max(1, Math.floor(good.length / 25))) {
      await writeFile(path, good.subarray(0, cut));
      const error = await open()
        .get("secret://shop/A")
        .then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
      expect(error?.code, `cut at ${cut}`).toMatch(/ERR_SECRET_CORRUPT|ERR_SECRET_LOCKED/);
      expect(error?.message).not.toContain("intact-value-123");
    }
    for (let at = 0; at < good.length; at += Math.max(1, Math.floor(good.length / 25))) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x20;
      await writeFile(path, bad);
      const error = await open()
        .get("secret://shop/A")
        .then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
      expect(error?.code, `byte ${at}`).toMatch(/ERR_SECRET_CORRUPT|ERR_SECRET_LOCKED/);
    }
  });
});
