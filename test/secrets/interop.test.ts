import { execFileSync, spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomValue, tempWorkspace } from "./helpers.ts";

const hasAge = spawnSync("age", ["--version"]).status === 0;
if (!hasAge) {
  console.warn("secrets: age interop tests SKIPPED: the `age` command is missing (run scripts/setup-secrets.sh)");
}

describe.skipIf(!hasAge)("secrets: interoperability with the age CLI", { timeout: 300_000 }, () => {
  it("a store written by siteloom is decrypted by `age -d`, and a store encrypted by `age -r` is read by siteloom", async () => {
    const ws = await tempWorkspace();
    await ws.cli(["secrets", "init"]);
    const value = randomValue("interop");
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: value });
    const [keyName] = await readdir(join(ws.xdg, "siteloom"));
    const key = join(ws.xdg, "siteloom", keyName!);
    const store = join(ws.root, ".siteloom", "secrets.development.age");

    // siteloom → age: the documented recovery path
    const plain = execFileSync("age", ["-d", "-i", key, store], { encoding: "utf8" });
    const payload = JSON.parse(plain);
    expect(payload.secrets["shop/FTP_PASSWORD"].versions.at(-1).value).toBe(value);

    // age → siteloom: edit the JSON by hand, encrypt it with the age CLI to our public key, read it back
    const recipient = (await readFile(key, "utf8")).match(/public key: (age1[0-9a-z]+)/)![1]!;
    const edited = randomValue("from-age");
    payload.secrets["global/OPENAI_API_KEY"] = {
      versions: [{ version: 1, value: edited, createdAt: new Date().toISOString(), actor: "age-cli" }],
    };
    await writeFile(join(ws.root, "..", "plain.json"), JSON.stringify(payload));
    execFileSync("age", ["-r", recipient, "-o", store, join(ws.root, "..", "plain.json")]);
    const back = await ws.cli(["secrets", "get", "global/OPENAI_API_KEY", "--reveal"]);
    expect(back.stdout).toBe(`${edited}\n`);
    expect((await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"])).stdout).toBe(`${value}\n`);

    // a key made by age-keygen works as SITELOOM_AGE_IDENTITY_FILE, and added as a recipient it can decrypt
    const teamKey = join(ws.root, "..", "team.key");
    execFileSync("age-keygen", ["-o", teamKey], { stdio: "ignore" });
    const teamRecipient = execFileSync("age-keygen", ["-y", teamKey], { encoding: "utf8" }).trim();
    const add = await ws.cli(["secrets", "recipients", "add", teamRecipient]);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(execFileSync("age", ["-d", "-i", teamKey, store], { encoding: "utf8" })).env).toBe("development");
    const asTeam = await ws.cli(["secrets", "get", "shop/FTP_PASSWORD", "--reveal"], {
      env: { SITELOOM_AGE_IDENTITY_FILE: teamKey },
    });
    expect(asTeam.stdout).toBe(`${value}\n`);
    const remove = await ws.cli(["secrets", "recipients", "remove", teamRecipient]);
    expect(remove.code, remove.stderr).toBe(0);
    expect(spawnSync("age", ["-d", "-i", teamKey, store]).status).not.toBe(0);
  });
});
