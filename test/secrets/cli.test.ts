import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomValue, tempWorkspace } from "./helpers.ts";

describe("secrets: CLI", { timeout: 300_000 }, () => {
  it("init, set (stdin and file), get (masked and revealed), list, rotate, history, rollback, remove", async () => {
    const ws = await tempWorkspace();
    const init = await ws.cli(["secrets", "init"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/public key: age1/);
    const keys = await readdir(join(ws.xdg, "siteloom"));
    expect(keys).toHaveLength(1);
    expect((await stat(join(ws.xdg, "siteloom", keys[0]!))).mode & 0o777).toBe(0o600);
    expect((await stat(join(ws.xdg, "siteloom"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(ws.root, ".siteloom", "secrets.development.age"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(ws.root, ".siteloom"))).mode & 0o777).toBe(0o700);
    expect((await ws.cli(["secrets", "init"])).stdout).toContain("already exists");

    const v1 = randomValue("pw");
    const set = await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: `${v1}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("version 1");
    const get = await ws.cli(["secrets", "get", "secret://shop/FTP_PASSWORD"]);
    expect(get.stdout).toContain("****");
    expect(get.stdout).not.toContain(v1);
    const reveal = await ws.cli(["secrets", "get", "secret://shop/FTP_PASSWORD", "--reveal"]);
    expect(reveal.stdout).toBe(`${v1}\n`);

    const v2 = randomValue("pw2");
    await writeFile(join(ws.root, "..", "v2.txt"), `${v2}\n`);
    const rot = await ws.cli(["secrets", "rotate", "shop/FTP_PASSWORD", "--from-file", join(ws.root, "..", "v2.txt")]);
    expect(rot.stdout).toContain("version 2");
    const list = await ws.cli(["secrets", "list", "--json"]);
    const items = JSON.parse(list.stdout);
    expect(items).toMatchObject([
      { ref: "secret://shop/FTP_PASSWORD", scope: "shop", name: "FTP_PASSWORD", version: 2 },
    ]);
    expect(list.stdout).not.toContain(v2);
    const old = await ws.cli(["secrets", "get", "secret://shop/FTP_PASSWORD?version=1", "--reveal"]);
    expect(old.stdout).toBe(`${v1}\n`);
    const history = await ws.cli(["secrets", "history", "shop/FTP_PASSWORD", "--json"]);
    expect(JSON.parse(history.stdout).map((h: { version: number }) => h.version)).toEqual([1, 2]);
    const back = await ws.cli(["secrets", "rollback", "shop/FTP_PASSWORD", "1"]);
    expect(back.stdout).toContain("as version 3");
    expect((await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"])).stdout).toBe(`${v1}\n`);
    expect((await ws.cli(["secrets", "remove", "shop/FTP_PASSWORD"])).code).toBe(0);
    const gone = await ws.cli(["secrets", "get", "shop/FTP_PASSWORD"]);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain(
      'error: secret://shop/FTP_PASSWORD is not set in store "file" (development): run siteloom secrets set shop/FTP_PASSWORD --env development',
    );
    expect(gone.stderr).not.toContain("    at ");
  });

  it("never takes a value from arguments, and reports bad references in one line", async () => {
    const ws = await tempWorkspace();
    await ws.cli(["secrets", "init"]);
    const noValue = await ws.cli(["secrets", "set", "shop/FTP_PASSWORD"]);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain("values are never taken from arguments");
    const extra = await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "hunter2"]);
    expect(extra.code).not.toBe(0);
    const bad = await ws.cli(["secrets", "get", "shop/ftp_password"]);
    expect(bad.code).toBe(3);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("must be upper-case letters, digits and _");
  });

  it("the development identity cannot open the production store; a group-readable key is refused", async () => {
    const ws = await tempWorkspace();
    expect((await ws.cli(["secrets", "init"])).code).toBe(0);
    expect((await ws.cli(["secrets", "init", "--env", "production"])).code).toBe(0);
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin", "--env", "production"], { input: randomValue() });
    const keys = (await readdir(join(ws.xdg, "siteloom"))).sort();
    const devKey = join(ws.xdg, "siteloom", keys.find((k) => k.includes(".development."))!);
    const asDev = await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--env", "production"], {
      env: { SITELOOM_AGE_IDENTITY_FILE: devKey },
    });
    expect(asDev.code).toBe(4);
    expect(asDev.stderr).toContain("wrong key");
    const { chmod } = await import("node:fs/promises");
    await chmod(devKey, 0o644);
    const loose = await ws.cli(["secrets", "list"]);
    expect(loose.code).toBe(4);
    expect(loose.stderr).toContain("readable by group or others");
    expect(loose.stderr).toContain("chmod 600");
  });

  it("copies between stores idempotently, exports for containers, and the env store reads the export back", async () => {
    const ws = await tempWorkspace({
      "siteloom.yaml":
        "environment: development\nsecrets:\n  stores:\n    ci:\n      type: env\n      secretsDir: run-secrets\n",
    });
    await ws.cli(["secrets", "init"]);
    await ws.cli(["secrets", "init", "--env", "staging"]);
    const a = randomValue("a");
    const b = randomValue("b");
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: a });
    await ws.cli(["secrets", "set", "global/OPENAI_API_KEY", "--stdin"], { input: b });
    const dry = await ws.cli(["secrets", "copy", "--from", "file", "--to", "file", "--to-env", "staging", "--dry-run"]);
    expect(dry.stdout).toContain("would copy secret://shop/FTP_PASSWORD");
    const copy = await ws.cli(["secrets", "copy", "--from", "file", "--to", "file", "--to-env", "staging", "--json"]);
    expect(JSON.parse(copy.stdout)).toMatchObject({
      copied: ["secret://global/OPENAI_API_KEY", "secret://shop/FTP_PASSWORD"],
    });
    const again = await ws.cli(["secrets", "copy", "--from", "file", "--to", "file", "--to-env", "staging", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      copied: [],
      unchanged: ["secret://global/OPENAI_API_KEY", "secret://shop/FTP_PASSWORD"],
    });
    for (const out of [copy, again, dry]) expect(out.stdout + out.stderr).not.toMatch(new RegExp(`${a}|${b}`));
    expect((await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal", "--env", "staging"])).stdout).toBe(
      `${a}\n`,
    );
    const ro = await ws.cli(["secrets", "copy", "--from", "file", "--to", "ci"]);
    expect(ro.stderr).toContain("read-only");

    const preview = await ws.cli(["secrets", "export", "--to", "env"]);
    expect(preview.stdout).toContain("SITELOOM_SECRET_SHOP__FTP_PASSWORD=****");
    expect(preview.stdout + preview.stderr).not.toContain(a);
    const envOut = await ws.cli(["secrets", "export", "--to", "env", "--scope", "shop", "--out", "shop.env"]);
    expect(envOut.stderr).toContain("PLAINTEXT");
    expect(await readFile(join(ws.root, "shop.env"), "utf8")).toContain(`SITELOOM_SECRET_SHOP__FTP_PASSWORD=${a}\n`);
    expect((await stat(join(ws.root, "shop.env"))).mode & 0o777).toBe(0o600);
    await ws.cli(["secrets", "export", "--to", "compose", "--out", "run-secrets"]);
    expect(await readFile(join(ws.root, "run-secrets", "shop.FTP_PASSWORD"), "utf8")).toBe(a);
    expect(await readFile(join(ws.root, "run-secrets", "compose.secrets.yaml"), "utf8")).toContain(
      "file: ./shop.FTP_PASSWORD",
    );
    await ws.cli(["secrets", "export", "--to", "k8s", "--out", "secret.yaml"]);
    const k8s = await readFile(join(ws.root, "secret.yaml"), "utf8");
    expect(k8s).toContain("kind: Secret");
    expect(k8s).toContain(`shop.FTP_PASSWORD: ${Buffer.from(a).toString("base64")}`);
    // the compose export, mounted, is what the env store reads
    const fromEnv = await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal", "--store", "ci"]);
    expect(fromEnv.stdout).toBe(`${a}\n`);
    const fromVar = await ws.cli(["secrets", "get", "global/OPENAI_API_KEY", "--reveal"], {
      env: { SITELOOM_SECRETS_BACKEND: "env", SITELOOM_SECRET_GLOBAL__OPENAI_API_KEY: "from-variable" },
    });
    expect(fromVar.stdout).toBe("from-variable\n");
  });

  it("audit lists accesses without values and verify names the first bad line", async () => {
    const ws = await tempWorkspace();
    await ws.cli(["secrets", "init"]);
    const v = randomValue();
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: v });
    await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"]);
    const reveals = await ws.cli(["audit", "--action", "reveal", "--json"]);
    const entries = JSON.parse(reveals.stdout);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: "reveal",
      ref: "secret://shop/FTP_PASSWORD",
      outcome: "ok",
      env: "development",
    });
    expect((await ws.cli(["audit", "verify"])).code).toBe(0);
    const log = join(ws.root, ".siteloom", "audit.log");
    expect(await readFile(log, "utf8")).not.toContain(v);
    const lines = (await readFile(log, "utf8")).split("\n");
    lines[1] = lines[1]!.replace('"ok"', '"denied"');
    await writeFile(log, lines.join("\n"));
    const verify = await ws.cli(["audit", "verify"]);
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toContain("line 2");
  });

  it("warns about plaintext credentials with file:line and refuses them in production", async () => {
    const ws = await tempWorkspace({
      "sites/shop/site.yaml":
        "remote:\n  protocol: ftp\n  host: 127.0.0.1\n  port: 1\n  user: shop\n  password: plain-text-pw-1\n",
    });
    const dev = await ws.cli(["secrets", "test", "shop"]);
    expect(dev.stderr).toContain("plaintext credential in sites/shop/site.yaml:6 (remote.password)");
    expect(dev.stderr).toContain("siteloom secrets migrate");
    expect(dev.stdout + dev.stderr).not.toContain("plain-text-pw-1");
    const prod = await ws.cli(["secrets", "test", "shop", "--env", "production"]);
    expect(prod.code).not.toBe(0);
    expect(prod.stdout + prod.stderr).toContain("refused in production");
  });

  it("backend shows the stores and `backend use` changes the default in siteloom.yaml, keeping its comments", async () => {
    const ws = await tempWorkspace({
      "siteloom.yaml":
        "# my workspace\nenvironment: development # dev by default\nsecrets:\n  stores:\n    ci: { type: env, secretsDir: run-secrets }\n",
    });
    const show = await ws.cli(["secrets", "backend", "--json"]);
    expect(JSON.parse(show.stdout)).toMatchObject({
      default: "file",
      stores: [{ name: "file" }, { name: "env" }, { name: "ci" }],
    });
    const use = await ws.cli(["secrets", "backend", "use", "ci"]);
    expect(use.code, use.stderr).toBe(0);
    const yaml = await readFile(join(ws.root, "siteloom.yaml"), "utf8");
    expect(yaml).toContain("# my workspace");
    expect(yaml).toContain("# dev by default");
    expect(yaml).toMatch(/backend: ci/);
    const unknown = await ws.cli(["secrets", "backend", "use", "nope"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no secret store named "nope"');
    const audit = await ws.cli(["audit", "--since", "1h", "--action", "config.write", "--json"]);
    expect(JSON.parse(audit.stdout)).toHaveLength(1);
    expect((await ws.cli(["audit", "--since", "yesterday-ish"])).code).toBe(2);
  });
});
