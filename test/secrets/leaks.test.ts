import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomValue, tempWorkspace } from "./helpers.ts";

/** Every file under a directory, recursively. */
async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(full)));
    else out.push(full);
  }
  return out;
}

describe("secrets: leak canary", { timeout: 600_000 }, () => {
  it("a canary value never appears in output, logs, audit or state files, whatever the command", async () => {
    const canary = `Canary-${randomValue("leak")}/+=&?`;
    const forms = [canary, encodeURIComponent(canary), Buffer.from(canary).toString("base64")];
    const migrated = `Migrated-${randomValue("plain")}`;
    const ws = await tempWorkspace({
      "siteloom.yaml":
        "environment: development\nsecrets:\n  stores:\n    other:\n      type: file\n      path: .siteloom/other.{env}.age\n",
      "sites/shop/site.yaml": `remote:\n  protocol: ftp\n  host: 127.0.0.1\n  port: 1\n  user: shop\n  password: secret://shop/FTP_PASSWORD\nwordpress:\n  url: https://wp.example.com\n  user: me\n  appPassword: ${migrated}\n`,
    });
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const r = await ws.cli(args, input === undefined ? {} : { input });
      outputs.push(`$ ${args.join(" ")}\n${r.stdout}${r.stderr}`);
      return r;
    };
    const ok = async (args: string[], input?: string) => {
      const r = await run(args, input);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      return r;
    };
    await ok(["secrets", "init"]);
    await ok(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], canary);
    await run(["secrets", "get", "shop/FTP_PASSWORD"]);
    await run(["secrets", "get", "shop/FTP_PASSWORD", "--json"]);
    await run(["secrets", "list"]);
    await run(["secrets", "list", "--json", "--debug"]);
    await ok(["secrets", "rotate", "shop/FTP_PASSWORD", "--stdin", "--debug"], canary);
    await run(["secrets", "history", "shop/FTP_PASSWORD", "--json"]);
    await run(["secrets", "migrate", "--dry-run", "--debug"]);
    await ok(["secrets", "migrate", "--debug"]);
    await ok(["secrets", "copy", "--from", "file", "--to", "other", "--debug"]);
    await ok(["secrets", "export", "--to", "env"]);
    await run(["secrets", "export", "--to", "k8s", "--debug"]);
    await run(["secrets", "export", "--to", "compose"]);
    // errors, with stack traces
    await run(["secrets", "get", "shop/NOPE", "--debug"]);
    await run(["secrets", "rotate", "shop/NOPE", "--stdin", "--debug"], canary);
    await run(["secrets", "set", "shop/BAD", "--from-file", "/nonexistent/file", "--debug"]);
    const login = await run(["secrets", "test", "shop", "--debug", "--verbose"]);
    expect(login.stdout).toContain("FAIL shop");
    await run(["secrets", "get", "shop/FTP_PASSWORD", "--env", "production", "--debug"]);
    await run(["audit", "--json"]);
    await run(["audit", "verify"]);

    const text = outputs.join("\n");
    for (const form of forms) expect(text).not.toContain(form);
    expect(text).not.toContain(migrated);
    const files = [...(await allFiles(ws.root)), ...(await allFiles(ws.xdg))];
    expect(files.some((f) => f.endsWith("audit.log"))).toBe(true);
    for (const file of files) {
      const content = (await readFile(file)).toString("latin1");
      for (const form of forms) expect(content, file).not.toContain(form);
      // the migrated plaintext survives only in the user-only backup of the file it was taken from
      if (!file.includes(`${join(".siteloom", "backups")}`)) expect(content, file).not.toContain(migrated);
    }
    // and the canary really was stored and usable
    const reveal = await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"]);
    expect(reveal.stdout).toBe(`${canary}\n`);
  });
});
