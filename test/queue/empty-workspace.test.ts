import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { createPostgresStore } from "../../src/store/index.ts";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";
import { type Proc, spawnCli } from "./support.ts";

// Spawned CLIs and real servers on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 1_500_000, hookTimeout: 300_000 });

// Three machines, each its own workspace folder and process, sharing nothing but PostgreSQL (store.url) and the
// hosts: machine A starts a run and is killed with kill -9 mid-generation; machine B, whose folder holds only
// siteloom.yaml and the site's config, resumes it and is killed mid-deploy; machine C, empty too, finishes the deploy.

const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));
const SITE = "s1";
const REMOTE = "pgstate-s1";
const JOURNALS = "SELECT count(*) AS n FROM documents WHERE namespace = 'deploy-journal'";

describe("many machines: a worker with an empty workspace folder resumes another machine's generation and deploy", () => {
  let pg: TestPostgres;
  let ftp: TestServer;
  let llm: LlmServer;
  let proxy: FaultProxy;
  const procs: Proc[] = [];
  beforeAll(async () => {
    [pg, ftp, llm] = await Promise.all([startPostgres(), startServer("vsftpd-ftp"), startLlmServer()]);
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: ftp.port }, ftp: true });
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await proxy?.close();
    await Promise.all([pg?.stop(), ftp?.stop(), llm?.close()]);
  });

  it("kill -9 mid-generation, then mid-deploy: byte-identical remote tree, no article paid twice, no temp file left", async () => {
    const url = await pg.createDatabase("pgstate_resume");
    const a = await machineA(url);
    const empty = async (name: string) => {
      const root = join(await useTempDir("siteloom-machine-"), name);
      await mkdir(join(root, "sites", SITE), { recursive: true });
      for (const file of ["siteloom.yaml", `sites/${SITE}/site.yaml`, `sites/${SITE}/topics.csv`]) {
        await cp(join(a.root, file), join(root, file));
      }
      return root;
    };
    const db = "pgstate_resume";
    const count = async (sql: string) => Number((await pg.query<{ n: string }>(sql, [], db))[0]?.n ?? 0);
    const articles = () => count("SELECT count(*) AS n FROM documents WHERE namespace = 'articles'");

    // machine A: the model answers the calls of two articles (an outline and an article each, one call at a time),
    // then holds the next call; A is killed once both articles are in the store
    const answer = { delayMs: 0 };
    llm.script(answer, answer, answer, answer);
    llm.latencyMs = 600_000;
    const runA = spawnCli(a.root, a.env, ["run", SITE], procs);
    await until(async () => (await articles()) >= 2, runA, "machine A to store two articles");
    runA.child.kill("SIGKILL");
    await runA.exited;
    llm.latencyMs = 0;
    const byA = await pg.query<{ doc_key: string; value: string }>(
      "SELECT doc_key, value FROM documents WHERE namespace = 'articles' ORDER BY doc_key",
      [],
      db,
    );
    expect(byA).toHaveLength(2);

    // machine B, empty folder: the articles A wrote are taken from the store, the rest generated. Once the host has
    // answered the whole batch of commands that carried the fourth rename (the backup root's deny-all .htaccess put
    // in place, then a replaced file's old version moved aside and the new one renamed into place, then the next
    // file's old version aside: at least one uploaded file is in place; the batch ends with the passive port of the
    // next upload), it answers nothing more: the deploy cannot finish, and B is killed. (The deploy journal's header is written before the first upload; its later records are written in
    // coalesced batches, so how many of them reached the store when the host fell silent is not fixed.)
    const b = await empty("b");
    let renames = 0;
    let silent = false;
    proxy.rewriteControl = (lines) => {
      if (silent) return "";
      for (const [reply] of lines.matchAll(/^(250 Rename successful|22[79] )/gm)) {
        if (reply.startsWith("250")) renames++;
        else if (renames >= 4) silent = true;
      }
      return lines;
    };
    const runB = spawnCli(b, a.env, ["run", SITE], procs);
    await until(
      async () => silent && (await count(JOURNALS)) > 0,
      runB,
      () => `machine B's deploy to rename four times (renames answered: ${renames}, host silent: ${silent})`,
    );
    runB.child.kill("SIGKILL");
    await runB.exited;
    proxy.rewriteControl = undefined;
    expect(await articles()).toBe(5);
    // the deploy B started is still in progress: its journal is in the store
    expect(await count(JOURNALS)).toBeGreaterThan(0);

    // machine C, empty folder: resumes B's deploy from the journal in the store
    const c = await empty("c");
    const runC = await runCli(["--workspace", c, "run", SITE, "--json"], { env: a.env, timeoutMs: 900_000 });
    expect(runC.code, runC.stderr).toBe(0);
    expect(runC.stdout + runC.stderr).toMatch(/resuming an interrupted deploy: \d+ file\(s\) were already in place/);

    const remote = await tree(join(ftp.rootDir, REMOTE));
    expect([...remote.keys()].filter((p) => /(^|\/)\.in\./.test(p))).toEqual([]);
    expect(withoutManifest(remote)).toEqual(await tree(join(c, "sites", SITE, "output")));
    expect([...remote.keys()].filter((p) => /^blog\/[^/]+\/index\.html$/.test(p))).toHaveLength(5);
    // the articles A wrote are the ones C built the site from, byte for byte (the store keeps the file's text)
    for (const row of byA) {
      const slug = row.doc_key.slice(SITE.length + 1);
      expect(await readFile(join(c, "sites", SITE, "articles", `${slug}.json`), "utf8")).toBe(JSON.parse(row.value));
    }
    // the ledger: every topic's article paid for exactly once, across the three machines
    const store = createPostgresStore({ url });
    try {
      const paid = (await store.listCosts({ site: SITE })).filter((e) => e.ok && e.step === "article");
      const perTopic = new Map<string, number>();
      for (const e of paid) perTopic.set(e.topicId, (perTopic.get(e.topicId) ?? 0) + 1);
      expect(perTopic.size).toBe(5);
      expect([...perTopic.values()]).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await store.close();
    }
  });

  /** Machine A's workspace: the example site on vsftpd (through the proxy), 150 more pages, state in PostgreSQL. */
  async function machineA(url: string): Promise<{ root: string; env: Record<string, string> }> {
    const root = join(await useTempDir("siteloom-machine-"), "a");
    const init = await runCli(["init", root, "--example"]);
    expect(init.code, init.stderr).toBe(0);
    const remoteDir = join(ftp.rootDir, REMOTE);
    await cp(EXAMPLE_SITE, remoteDir, { recursive: true });
    // pages for the deploy to upload (each gets the blog's navigation link), so that it can be caught mid-way
    const page = await readFile(join(EXAMPLE_SITE, "index.html"), "utf8");
    await mkdir(join(remoteDir, "more"), { recursive: true });
    for (let i = 0; i < 150; i++)
      await writeFile(join(remoteDir, "more", `p${i}.html`), page.replace(/<title>[^<]*/, `<title>Page ${i}`));
    await ftp.own(ftp.rootDir);
    const siteFile = join(root, "sites", SITE, "site.yaml");
    await cp(join(root, "sites/example"), join(root, "sites", SITE), { recursive: true });
    await rm(join(root, "sites/example"), { recursive: true });
    const doc = parseDocument(await readFile(siteFile, "utf8"));
    doc.set("remote", { ...ftp.remoteConfig, port: proxy.port, root: `/${REMOTE}` });
    doc.setIn(["deploy", "parallel"], 1);
    doc.setIn(["deploy", "retryBaseMs"], 20);
    doc.setIn(["content", "minWords"], 120);
    doc.setIn(["content", "maxWords"], 300);
    await writeFile(siteFile, doc.toString());
    const wsFile = join(root, "siteloom.yaml");
    const ws = parseDocument(await readFile(wsFile, "utf8"));
    ws.set("llm", {
      provider: "openai",
      model: "test-model",
      baseUrl: llm.url,
      apiKey: "${PGSTATE_LLM_KEY}",
      concurrency: 1,
    });
    ws.set("env", ["PGSTATE_LLM_KEY", "PGSTATE_PG_URL", ...Object.keys(ftp.env)]);
    ws.set("store", { url: "${PGSTATE_PG_URL}" });
    await writeFile(wsFile, ws.toString());
    return { root, env: { ...ftp.env, PGSTATE_LLM_KEY: "sk-test-pgstate", PGSTATE_PG_URL: url } };
  }
});

// --- internal ---

/** Polls `condition` until it holds; fails when the process exits first, or after ten minutes. */
async function until(condition: () => Promise<boolean>, proc: Proc, what: string | (() => string)): Promise<void> {
  const name = () => (typeof what === "string" ? what : what());
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    if (await condition().catch(() => false)) return;
    if (proc.child.exitCode !== null) throw new Error(`exited before ${name()}: ${proc.output().slice(-2000)}`);
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${name()}: ${proc.output().slice(-2000)}`);
}
