import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { appendAuditEntry, attachAuditLog, readAuditLog, verifyAuditLog } from "../../src/audit/index.ts";
import { createFileBackend, createSecretStore } from "../../src/secrets/index.ts";
import { useTempDir } from "../support/cli.ts";

async function logWith(n: number) {
  const dir = await useTempDir("siteloom-audit-");
  const file = join(dir, "audit.log");
  for (let i = 1; i <= n; i++) {
    appendAuditEntry(file, {
      actor: "alice",
      action: "read",
      ref: `secret://shop/K${i}`,
      env: "development",
      outcome: "ok",
    });
  }
  return { dir, file };
}

async function lines(file: string) {
  return (await readFile(file, "utf8")).split("\n").filter(Boolean);
}

describe("audit: hash-chained log", () => {
  it("verifies an untouched log", async () => {
    const { file } = await logWith(5);
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 5 });
    const entries = readAuditLog(file, { ref: "K3" });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: "alice", action: "read", env: "development", outcome: "ok" });
  });

  it.each([
    [
      "edited",
      (l: string[]) => {
        l[2] = l[2]!.replace('"alice"', '"mallory"');
        return l;
      },
      3,
    ],
    [
      "deleted",
      (l: string[]) => {
        l.splice(2, 1);
        return l;
      },
      3,
    ],
    [
      "inserted",
      (l: string[]) => {
        l.splice(2, 0, l[1]!);
        return l;
      },
      3,
    ],
    [
      "reordered",
      (l: string[]) => {
        [l[1], l[2]] = [l[2]!, l[1]!];
        return l;
      },
      2,
    ],
    ["cut at the end", (l: string[]) => l.slice(0, 4), 5],
  ])("names the first bad line of a log with an %s entry", async (_label, change, bad) => {
    const { file } = await logWith(6);
    await writeFile(file, `${change(await lines(file)).join("\n")}\n`);
    const result = verifyAuditLog(file);
    expect(result.ok).toBe(false);
    expect(result.line).toBe(bad);
    expect(result.problem).toMatch(/\S/);
  });

  it("a cut tail with audit.log.head deleted is still a failure, also after the next append rebuilds the head", async () => {
    const { file } = await logWith(6);
    await writeFile(file, `${(await lines(file)).slice(0, 4).join("\n")}\n`);
    await rm(`${file}.head`);
    const missing = verifyAuditLog(file);
    expect(missing).toMatchObject({ ok: false, entries: 4, line: 5 });
    expect(missing.problem).toMatch(/audit\.log\.head is missing or damaged/);
    appendAuditEntry(file, {
      actor: "mallory",
      action: "read",
      ref: "secret://shop/X",
      env: "development",
      outcome: "ok",
    });
    const rebuilt = verifyAuditLog(file);
    expect(rebuilt).toMatchObject({ ok: false, line: 5 });
    expect(rebuilt.problem).toMatch(/went missing and was rebuilt at entry 5/);
    await writeFile(`${file}.head`, "not json");
    expect(verifyAuditLog(file).problem).toMatch(/missing or damaged/);
  });

  it("a new log's first entry writes a head that verifies", async () => {
    const { file } = await logWith(1);
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 1 });
    expect(JSON.parse(await readFile(`${file}.head`, "utf8"))).toEqual({ count: 1, hash: expect.any(String) });
  });

  it("records store accesses published on the diagnostics channel, never values", async () => {
    const dir = await useTempDir("siteloom-audit2-");
    const file = join(dir, "audit.log");
    const id = await generateX25519Identity();
    const identity = { identities: [id], recipients: [await identityToRecipient(id)], source: "t" };
    const store = createSecretStore(
      createFileBackend({ path: join(dir, "s.age"), env: "staging", identity: async () => identity }),
      { name: "file", env: "staging", actor: "bob" },
    );
    const detach = attachAuditLog(file);
    try {
      await store.set("secret://shop/FTP_PASSWORD", "canary-value-audit-1");
      await store.get("secret://shop/FTP_PASSWORD");
      await store.get("secret://shop/NOPE").catch(() => undefined);
      await store.rotate("secret://shop/FTP_PASSWORD", "canary-value-audit-2");
    } finally {
      detach();
    }
    const entries = readAuditLog(file);
    expect(entries.map((e) => [e.action, e.outcome, e.ref])).toEqual([
      ["write", "ok", "secret://shop/FTP_PASSWORD"],
      ["read", "ok", "secret://shop/FTP_PASSWORD"],
      ["read", "not-found", "secret://shop/NOPE"],
      ["rotate", "ok", "secret://shop/FTP_PASSWORD"],
    ]);
    expect(entries.every((e) => e.actor === "bob" && e.env === "staging")).toBe(true);
    const text = await readFile(file, "utf8");
    expect(text).not.toContain("canary-value-audit");
    expect(verifyAuditLog(file).ok).toBe(true);
  });
});
