// Resolving the references of a 100-site workspace through each remote backend, against its local wire-format
// server (test/support/cloud/): wall time from a cold process cache, the requests it took, and the CPU time of the
// process (client and local server together: on a loaded machine the wall time follows it). AWS reads in one
// batched listing (BatchGetSecretValue, 20 per page); Secret Manager and Key Vault have no batched read, so after
// 8 misses the store is listed once and read 16 at a time; Vault reads one secret per request, 16 at a time when
// asked at once; DigitalOcean reads the app's runtime environment (its values come back encrypted from the API).
// Then the same from a warm cache.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSecretReference } from "../src/config/index.ts";
import { createSecretResolver, forgetResolvedSecrets, openSecretStore } from "../src/secrets/index.ts";
import { loadWorkspace } from "../src/workspace/index.ts";
import { startAwsSecretsManager } from "../test/support/cloud/aws-secrets-manager.ts";
import { startAzureKeyVault } from "../test/support/cloud/azure-key-vault.ts";
import { startDigitalOceanApps } from "../test/support/cloud/digitalocean-apps.ts";
import { startGcpSecretManager } from "../test/support/cloud/gcp-secret-manager.ts";
import { startVaultServer } from "../test/support/cloud/hashicorp-vault.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const SITES = 100;
const RUNS = 5;

const suite: BenchSuite = async () => {
  const [aws, gcp, azure, digitalocean, vault] = await Promise.all([
    startAwsSecretsManager(),
    startGcpSecretManager(),
    startAzureKeyVault(),
    startDigitalOceanApps(),
    startVaultServer(),
  ]);
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-cloud-"));
  const saved = { ...process.env };
  const rows: BenchRow[] = [];
  try {
    await mkdir(join(dir, "sites"), { recursive: true });
    await writeFile(join(dir, "gcp-key.json"), JSON.stringify(gcp.serviceAccount), { mode: 0o600 });
    await writeFile(
      join(dir, "siteloom.yaml"),
      `secrets:
  stores:
    aws: { type: aws, region: ${aws.credentials.region}, endpoint: "${aws.url}" }
    gcp: { type: gcp, project: ${gcp.project}, keyFile: gcp-key.json, endpoint: "${gcp.url}" }
    azure: { type: azure, vaultUrl: "${azure.vaultUrl}", caFile: "${azure.caFile}", verifyChallengeResource: false }
    digitalocean: { type: digitalocean, appId: ${digitalocean.appId}, endpoint: "${digitalocean.url}" }
    vault: { type: vault, address: "${vault.address}" }
`,
    );
    // what the SDKs' standard credential chains read
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      ...azure.identityEnv,
      DIGITALOCEAN_TOKEN: digitalocean.token,
      VAULT_TOKEN: vault.token,
    });
    const ws = await loadWorkspace({ workspace: dir, vars: process.env });
    const refs = Array.from({ length: SITES }, (_, i) => parseSecretReference(`secret://site-${i}/FTP_PASSWORD`));
    // requests seen by each service (Azure: the vault and its token endpoint)
    const servers: Record<string, () => number> = {
      aws: () => aws.requests.length,
      gcp: () => gcp.requests.length,
      azure: () => azure.vault.requests.length + azure.identity.requests.length,
      digitalocean: () => digitalocean.requests.length,
      vault: () => vault.requests.length,
    };
    for (const [type, seen] of Object.entries(servers)) {
      const store = await openSecretStore(ws, { name: type });
      for (const [i, ref] of refs.entries()) await store.set(ref.raw, `password-${type}-${i}`);
      // the app's containers see the values it deployed: the env store inside the app reads them
      if (type === "digitalocean") Object.assign(process.env, digitalocean.runtimeEnv);

      for (const mode of ["one after another", "all at once"] as const) {
        let requests = 0;
        let cpuMs = 0;
        const samples: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          forgetResolvedSecrets();
          const before = seen();
          const cpu = process.cpuUsage();
          const start = performance.now();
          const resolver = createSecretResolver(ws, { name: type });
          if (mode === "all at once") await Promise.all(refs.map((ref) => resolver.resolve(ref)));
          else for (const ref of refs) await resolver.resolve(ref);
          samples.push(performance.now() - start);
          const used = process.cpuUsage(cpu);
          cpuMs = (used.user + used.system) / 1000;
          requests = seen() - before;
        }
        samples.sort((a, b) => a - b);
        const ms = samples[Math.floor(RUNS / 2)]!;
        rows.push({
          group: "secrets",
          name: `resolve ${SITES} sites' references via ${type}, ${mode} (cold cache)`,
          value: ms,
          unit: "ms",
          target: "< 200 ms",
          ok: ms < 200,
          note: `${requests} requests, ${cpuMs.toFixed(0)} ms CPU; local wire-format server; median of ${RUNS}`,
        });
      }
      const warmBefore = seen();
      const start = performance.now();
      const warm = createSecretResolver(ws, { name: type });
      for (const ref of refs) await warm.resolve(ref);
      rows.push({
        group: "secrets",
        name: `resolve ${SITES} sites' references via ${type} (process cache warm)`,
        value: performance.now() - start,
        unit: "ms",
        note: `${seen() - warmBefore} requests (TTL 60 s)`,
      });
    }
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await Promise.all([aws.close(), gcp.close(), azure.close(), digitalocean.close(), vault.close()]);
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;
