import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseSecretReference } from "../../src/config/index.ts";
import { createSecretResolver, forgetResolvedSecrets, openSecretStore } from "../../src/secrets/index.ts";
import { loadWorkspace, type Workspace } from "../../src/workspace/index.ts";
import { type AwsSecretsManagerFake, startAwsSecretsManager } from "../support/cloud/aws-secrets-manager.ts";
import { type GcpSecretManagerFake, startGcpSecretManager } from "../support/cloud/gcp-secret-manager.ts";
import { startVaultServer, type VaultFake } from "../support/cloud/hashicorp-vault.ts";

const SITES = 100;
let aws: AwsSecretsManagerFake;
let vault: VaultFake;
let gcp: GcpSecretManagerFake;
let dir: string;
let ws: Workspace;
const refs = Array.from({ length: SITES }, (_, i) => parseSecretReference(`secret://site-${i}/FTP_PASSWORD`));

beforeAll(async () => {
  [aws, vault, gcp] = await Promise.all([startAwsSecretsManager(), startVaultServer(), startGcpSecretManager()]);
  dir = await mkdtemp(join(tmpdir(), "siteloom-resolver-"));
  await mkdir(join(dir, "sites"), { recursive: true });
  await writeFile(join(dir, "gcp-key.json"), JSON.stringify(gcp.serviceAccount), { mode: 0o600 });
  await writeFile(
    join(dir, "siteloom.yaml"),
    `secrets:\n  backend: aws\n  stores:\n    aws: { type: aws, region: ${aws.credentials.region}, endpoint: "${aws.url}" }\n    vault: { type: vault, address: "${vault.address}" }\n    gcp: { type: gcp, project: ${gcp.project}, keyFile: gcp-key.json, endpoint: "${gcp.url}" }\n`,
  );
  // the AWS SDK reads its credentials from the process environment (its standard chain)
  vi.stubEnv("AWS_ACCESS_KEY_ID", aws.credentials.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", aws.credentials.secretAccessKey);
  vi.stubEnv("VAULT_TOKEN", vault.token);
  ws = await loadWorkspace({ workspace: dir, vars: process.env });
  for (const name of ["aws", "vault", "gcp"]) {
    const store = await openSecretStore(ws, { name });
    for (const [i, ref] of refs.entries()) await store.set(ref.raw, `password-${name}-${i}`);
  }
});
afterEach(() => forgetResolvedSecrets());
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([aws?.close(), vault?.close(), gcp?.close(), rm(dir, { recursive: true, force: true })]);
});

const awsTargets = (from: number) =>
  aws.requests.slice(from).map((r) => String(r.headers["x-amz-target"]).replace("secretsmanager.", ""));

describe("secrets: resolver cache and batched reads", { timeout: 120_000 }, () => {
  it("aws: 100 references in one batched listing (pages of 20), then none while the TTL holds", async () => {
    let clock = 1_000_000;
    const first = aws.requests.length;
    const resolver = createSecretResolver(ws, { name: "aws", ttlMs: 60_000, now: () => clock });
    const values = await Promise.all(refs.map((r) => resolver.resolve(r)));
    expect(values.map((v) => v.reveal())).toEqual(refs.map((_, i) => `password-aws-${i}`));
    expect(awsTargets(first)).toEqual(Array(5).fill("BatchGetSecretValue"));

    // another resolver of the same process (the server makes one per run) uses the cache
    const again = aws.requests.length;
    const other = createSecretResolver(ws, { name: "aws", ttlMs: 60_000, now: () => clock });
    for (const ref of refs) await other.resolve(ref);
    expect(awsTargets(again)).toEqual([]);

    // past the TTL the store is asked again, once more in one batched listing
    clock += 60_001;
    const later = aws.requests.length;
    for (const ref of refs) await other.resolve(ref);
    expect(awsTargets(later)).toEqual(Array(5).fill("BatchGetSecretValue"));
  });

  it("a write through a store of the process is seen at once; a versioned reference is read on its own", async () => {
    const resolver = createSecretResolver(ws, { name: "aws" });
    expect((await resolver.resolve(refs[3]!)).reveal()).toBe("password-aws-3");
    const store = await openSecretStore(ws, { name: "aws" });
    await store.rotate(refs[3]!.raw, "rotated-value");
    expect((await resolver.resolve(refs[3]!)).reveal()).toBe("rotated-value");
    const before = aws.requests.length;
    const v1 = await resolver.resolve(parseSecretReference(`${refs[3]!.raw}?version=1`));
    expect(v1.reveal()).toBe("password-aws-3");
    // its version id is looked up, then read: no batched listing for one old version
    expect(awsTargets(before)).toEqual(["ListSecretVersionIds", "GetSecretValue"]);
  });

  it("vault (no batched read): one request per reference, then none while the TTL holds", async () => {
    const first = vault.requests.length;
    const resolver = createSecretResolver(ws, { name: "vault" });
    for (const ref of refs) await resolver.resolve(ref);
    expect(vault.requests.length - first).toBe(SITES);
    const again = vault.requests.length;
    for (const ref of refs) await createSecretResolver(ws, { name: "vault" }).resolve(ref);
    expect(vault.requests.length - again).toBe(0);
  });

  it("gcp (a listing, no batched read): a few references are read alone; from the 8th miss on the rest in parallel", async () => {
    const paths = (from: number) => gcp.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/\?.*$/, "")}`);
    const few = gcp.requests.length;
    const one = createSecretResolver(ws, { name: "gcp" });
    for (const ref of refs.slice(0, 3)) await one.resolve(ref);
    expect(paths(few)).toHaveLength(3);
    expect(paths(few).every((p) => p.endsWith("/versions/latest:access"))).toBe(true);

    forgetResolvedSecrets();
    const first = gcp.requests.length;
    const resolver = createSecretResolver(ws, { name: "gcp" });
    const values: string[] = [];
    for (const ref of refs) values.push((await resolver.resolve(ref)).reveal());
    expect(values).toEqual(refs.map((_, i) => `password-gcp-${i}`));
    const sent = paths(first);
    // 7 single reads, the 8th miss lists the store once and reads it all 16 at a time
    expect(sent.filter((p) => p.startsWith(`GET /v1/projects/${gcp.project}/secrets`) && !p.includes(":"))).toEqual([
      `GET /v1/projects/${gcp.project}/secrets`,
    ]);
    expect(sent).toHaveLength(7 + 1 + SITES);
  });

  it("ttlMs 0 asks the store every time; a missing secret is not cached", async () => {
    const resolver = createSecretResolver(ws, { name: "vault", ttlMs: 0 });
    const first = vault.requests.length;
    await resolver.resolve(refs[0]!);
    await resolver.resolve(refs[0]!);
    expect(vault.requests.length - first).toBe(2);
    const missing = parseSecretReference("secret://site-0/NOT_YET");
    const cached = createSecretResolver(ws, { name: "vault" });
    await expect(cached.resolve(missing)).rejects.toThrow(/is not set in store "vault"/);
    await (await openSecretStore(ws, { name: "vault" })).set(missing.raw, "now-set");
    expect((await cached.resolve(missing)).reveal()).toBe("now-set");
  });
});
