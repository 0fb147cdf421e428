import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomValue } from "./helpers.ts";
import { useCloudStores } from "./support/cloud-stores.ts";

const { cloudWorkspace, servers } = useCloudStores();

describe("secrets: leak canary over every remote store", { timeout: 600_000 }, () => {
  it("leak canary: a value never appears in output, errors, audit or state files, whichever store holds it", async () => {
    const ws = await cloudWorkspace();
    const canary = `Canary-${randomValue("leak")}/+=&?`;
    const forms = [canary, encodeURIComponent(canary), Buffer.from(canary).toString("base64")];
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const r = await ws.run(args, input);
      outputs.push(`$ ${args.join(" ")}\n${r.stdout}${r.stderr}`);
      return r;
    };
    await run(["secrets", "init"]);
    for (const store of ["aws", "gcp", "azure", "do", "vault"]) {
      const set = await run(["secrets", "set", "shop/FTP_PASSWORD", "--stdin", "--store", store, "--debug"], canary);
      expect(set.code, `${store}: ${set.stderr}`).toBe(0);
      await run(["secrets", "get", "shop/FTP_PASSWORD", "--store", store, "--json", "--debug"]);
      await run(["secrets", "list", "--store", store, "--json", "--debug"]);
      await run(["secrets", "rotate", "shop/FTP_PASSWORD", "--stdin", "--store", store, "--debug"], canary);
      await run(["secrets", "history", "shop/FTP_PASSWORD", "--store", store, "--json"]);
      await run(["secrets", "copy", "--from", store, "--to", "file", "--debug"]);
      await run(["secrets", "get", "shop/NOPE", "--store", store, "--debug"]);
      await run(["secrets", "rotate", "shop/NOPE", "--stdin", "--store", store, "--debug"], canary);
      // service refusals: too large a value echoes nothing back
      await run(
        ["secrets", "set", "shop/BIG", "--stdin", "--store", store, "--debug"],
        `${canary}${"x".repeat(70_000)}`,
      );
    }
    servers.aws.deny.add("secretsmanager:GetSecretValue");
    servers.gcp.deny.add("secretmanager.versions.access");
    servers.azure.deny.add("getSecret");
    try {
      for (const store of ["aws", "gcp", "azure"]) {
        const denied = await run(["secrets", "get", "shop/FTP_PASSWORD", "--store", store, "--debug"]);
        expect(denied.stderr).toContain("permission denied for");
      }
    } finally {
      servers.aws.deny.clear();
      servers.gcp.deny.clear();
      servers.azure.deny.clear();
    }
    await run(["audit", "--json"]);
    const text = outputs.join("\n");
    for (const form of forms) expect(text).not.toContain(form);
    const files = await _allFiles(ws.root);
    expect(files.some((f) => f.endsWith("audit.log"))).toBe(true);
    for (const file of files) {
      const content = (await readFile(file)).toString("latin1");
      for (const form of forms) expect(content, file).not.toContain(form);
    }
    // and it really was stored in each service
    expect((await ws.run(["secrets", "get", "shop/FTP_PASSWORD", "--reveal", "--store", "azure"])).stdout).toBe(
      `${canary}\n`,
    );
    expect(servers.digitalocean.runtimeEnv.SITELOOM_SECRET_SHOP__FTP_PASSWORD).toBe(canary);
  });
});

async function _allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await _allFiles(full)));
    else out.push(full);
  }
  return out;
}
