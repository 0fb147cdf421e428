import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readAuditLog } from "../../src/audit/index.ts";
import { buildServer } from "../../src/server/index.ts";
import { openStateStore, type StateStore } from "../../src/store/index.ts";
import { createToken } from "../../src/tokens/index.ts";
import { bearer, writeWorkspace } from "./support.ts";

const SERVE = fileURLToPath(new URL("./fixtures/serve.ts", import.meta.url));

// Two `siteloom serve` processes over one workspace and one state database: this test process and a child. Writers
// are spread over both, so the lock that matters is the one across processes, not only the in-process queue.
let dir: string;
let store: StateStore;
let app: Awaited<ReturnType<typeof buildServer>>;
let child: ChildProcess;
let bases: string[];
let admin: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-server-concurrency-")));
  await writeWorkspace(dir);
  await mkdir(join(dir, ".siteloom"), { recursive: true, mode: 0o700 });
  store = openStateStore({ stateDir: join(dir, ".siteloom") });
  admin = (await createToken(store, { name: "admin", role: "admin" })).token;
  app = await buildServer({ root: dir, store, debounceMs: 20, rateLimit: { perToken: 100_000, perAddress: 100_000 } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const own = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  child = spawn(process.execPath, ["--import", "tsx", SERVE, dir], { stdio: ["ignore", "pipe", "pipe"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) => reject(new Error(`second server exited (${code}): ${err}`)));
  });
  bases = [own, `http://127.0.0.1:${port}`];
});

afterAll(async () => {
  child?.kill("SIGTERM");
  await app?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function patch(base: string, body: unknown, ifMatch?: string): Promise<Response> {
  return fetch(`${base}/config?site=shop`, {
    method: "PATCH",
    headers: {
      ...bearer(admin),
      "content-type": "application/merge-patch+json",
      ...(ifMatch ? { "if-match": ifMatch } : {}),
    },
    body: JSON.stringify(body),
  });
}

const shop = async () => parse(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8"));

describe("server: concurrent config writes (two processes, real HTTP)", () => {
  it("keeps every accepted change of many concurrent writers of one file", async () => {
    const changes = [
      { content: { author: "Ada" } },
      { content: { tone: "calm" } },
      { content: { audience: "gardeners" } },
      { content: { minWords: 450 } },
      { enrich: { organization: { name: "Shop Ltd" } } },
      { enrich: { navLink: { label: "Journal" } } },
      { export: { maxFileSize: 12345678 } },
      { deploy: { retries: 7 } },
      { content: { language: "nl" } },
      { deploy: { parallel: 3 } },
      { enrich: { perPage: 9 } },
      { enrich: { feedItems: 11 } },
    ];
    const responses = await Promise.all(changes.map((c, i) => patch(bases[i % 2]!, c)));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ changed: boolean; version: number }>));
    for (const [i, r] of responses.entries()) expect(r.status, JSON.stringify(bodies[i])).toBe(200);
    expect(bodies.every((b) => b.changed)).toBe(true);
    // each accepted change is its own version
    expect(new Set(bodies.map((b) => b.version)).size).toBe(changes.length);
    const file = await shop();
    expect(file.content).toMatchObject({ author: "Ada", tone: "calm", audience: "gardeners", minWords: 450 });
    expect(file.content.language).toBe("nl");
    expect(file.enrich).toMatchObject({ organization: { name: "Shop Ltd" }, navLink: { label: "Journal" } });
    expect(file.enrich).toMatchObject({ perPage: 9, feedItems: 11 });
    expect(file.export.maxFileSize).toBe(12345678);
    expect(file.deploy).toMatchObject({ retries: 7, parallel: 3 });
    // comments of the hand-written file survive every rewrite
    expect(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8")).toContain("# the shop site");
    // each change is one audit entry, the API's own (with the version it made); the file write adds none
    const log = join(dir, ".siteloom", "audit.log");
    const writes = readAuditLog(log, { action: "config.patch" }) as unknown as { ref: string; version?: number }[];
    expect(writes.filter((e) => e.ref.startsWith("sites/shop/site.yaml") && e.version !== undefined).length).toBe(
      changes.length,
    );
    expect(readAuditLog(log, { action: "config.write" })).toEqual([]);
  });

  it("lets exactly one of many writers with the same If-Match win; the others get 409", async () => {
    const current = await fetch(`${bases[1]}/config?site=shop`, { headers: bearer(admin) });
    const etag = current.headers.get("etag")!;
    expect(etag).toMatch(/^"\d+"$/);
    const writers = Array.from({ length: 12 }, (_, i) => i);
    const responses = await Promise.all(
      writers.map((i) => patch(bases[i % 2]!, { content: { author: `writer-${i}` } }, etag)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(writers.length - 1);
    const winner = writers[statuses.indexOf(200)]!;
    expect((await shop()).content.author).toBe(`writer-${winner}`);
    const conflict = (await responses[statuses.indexOf(409)]!.json()) as { error: { message: string } };
    expect(JSON.stringify(conflict)).toContain("fetch it again");
  });
});
