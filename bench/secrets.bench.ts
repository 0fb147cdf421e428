// Secrets benchmarks: get after unlock, resolving every reference of a 100-site workspace (unlock included), and
// 1,000 sequential atomic fsync'd writes.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateX25519Identity } from "age-encryption";
import { parseSecretReference } from "../src/config/index.ts";
import { createFileBackend, createSecretResolver, createSecretStore, loadIdentity } from "../src/secrets/index.ts";
import { loadWorkspace } from "../src/workspace/index.ts";
import { type BenchRow, type BenchSuite, timeMs } from "./support.ts";

const SITES = 100;
const WRITES = Number(process.env.SITELOOM_BENCH_SECRET_WRITES ?? 1000);

const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-secrets-"));
  const rows: BenchRow[] = [];
  try {
    const identityText = await generateX25519Identity();
    const vars = { SITELOOM_AGE_IDENTITY: identityText, XDG_CONFIG_HOME: join(dir, "xdg") };
    const root = join(dir, "ws");
    await mkdir(join(root, "sites"), { recursive: true });
    await writeFile(join(root, "siteloom.yaml"), "environment: development\n");
    const identity = await loadIdentity({ root, env: "development", vars });
    const path = join(root, ".siteloom", "secrets.development.age");
    const seed = createSecretStore(createFileBackend({ path, env: "development", identity: async () => identity }), {
      name: "file",
      env: "development",
      actor: "bench",
    });
    for (let i = 0; i < SITES; i++) {
      const site = `site-${i}`;
      await mkdir(join(root, "sites", site), { recursive: true });
      await writeFile(
        join(root, "sites", site, "site.yaml"),
        `remote:\n  host: ftp.example.com\n  user: u${i}\n  password: secret://${site}/FTP_PASSWORD\n`,
      );
      await seed.set(`secret://${site}/FTP_PASSWORD`, `password-${i}-${Math.random().toString(36).slice(2)}`);
    }

    // 1. get of one secret once the store is unlocked (decrypted and cached)
    const store = createSecretStore(createFileBackend({ path, env: "development", identity: async () => identity }), {
      name: "file",
      env: "development",
    });
    await store.get("secret://site-1/FTP_PASSWORD");
    const getMs = await timeMs(() => store.get("secret://site-1/FTP_PASSWORD"), 200);
    rows.push({
      group: "secrets",
      name: "get one secret after unlock",
      value: getMs,
      unit: "ms",
      note: "median of 200",
    });

    // 2. all references of a 100-site workspace, from a cold resolver: identity load, unlock (X25519), 100 resolves
    const workspace = await loadWorkspace({ workspace: root, vars });
    const configs = await Promise.all(workspace.sites.map((s) => workspace.site(s)));
    const refs = configs.map((c) => parseSecretReference(c.config.remote.password!));
    const resolveMs = await timeMs(async () => {
      const resolver = createSecretResolver(workspace, { vars });
      for (const ref of refs) await resolver.resolve(ref);
    }, 7);
    rows.push({
      group: "secrets",
      name: `resolve all references of a ${SITES}-site workspace (incl. unlock)`,
      value: resolveMs,
      unit: "ms",
      target: "< 50 ms",
      ok: resolveMs < 50,
      note: "X25519 identity from SITELOOM_AGE_IDENTITY; config loading excluded; median of 7",
    });

    // 3. sequential writes: each one locks, decrypts, re-encrypts, writes a temp file, fsyncs, renames, fsyncs the dir
    const writePath = join(dir, "writes.age");
    const writer = createSecretStore(
      createFileBackend({ path: writePath, env: "development", identity: async () => identity }),
      { name: "file", env: "development", actor: "bench" },
    );
    const start = performance.now();
    for (let i = 0; i < WRITES; i++) await writer.set(`secret://bench/KEY_${i % 50}`, `value-${i}-abcdefgh`);
    const totalS = (performance.now() - start) / 1000;
    rows.push({
      group: "secrets",
      name: `${WRITES} sequential set (atomic, fsync'd)`,
      value: totalS,
      unit: "s",
      note: `${((totalS * 1000) / WRITES).toFixed(1)} ms per set; 50 keys × history 10; audit log not attached`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;
