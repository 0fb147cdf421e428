import { mkdtemp, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAuditLog } from "../../src/audit/index.ts";
import { bearer, SHOP_YAML, startTestServer, type TestServer } from "./support.ts";

let s: TestServer;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-server-reload-")));
  s = await startTestServer(dir);
  await s.app.listen({ host: "127.0.0.1", port: 0 });
  const address = s.app.server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

const shopFile = () => join(dir, "sites", "shop", "site.yaml");

// biome-ignore lint/suspicious/noExplicitAny: one helper reads several JSON shapes
async function get(path: string, token = s.tokens.viewer): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${path}`, { headers: bearer(token) });
  return { status: r.status, body: await r.json() };
}

/** Polls until `check` passes (the watcher is asynchronous); fails after `ms`. */
async function eventually<T>(fn: () => Promise<T>, check: (value: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (check(value)) return value;
    if (Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("server: hot reload over real HTTP", () => {
  it("serves a hand edit of site.yaml without a restart, as a new version by the watcher", async () => {
    const before = await get("/config?site=shop");
    expect(before.body.config.content.language).toBe("en");
    await writeFile(shopFile(), SHOP_YAML.replace("language: en", "language: de"));
    const after = await eventually(
      () => get("/config?site=shop"),
      (r) => r.body.config.content.language === "de",
    );
    expect(after.body.config.content.language).toBe("de");
    expect(after.body.version).toBe(before.body.version + 1);
    const v = await get(`/config/versions/${after.body.version}`);
    expect(v.body).toMatchObject({ actor: "file-watcher", source: "file" });
    expect(v.body.diff).toContain("+  language: de # English first");
  });

  it("sees an editor-style save (write to a temporary file, rename over the original)", async () => {
    const tmp = `${shopFile()}.swp`;
    await writeFile(tmp, SHOP_YAML.replace("language: en", "language: it"));
    await rename(tmp, shopFile());
    const r = await eventually(
      () => get("/config?site=shop"),
      (x) => x.body.config.content.language === "it",
    );
    expect(r.body.config.content.language).toBe("it");
  });

  it("rejects an invalid edit, reports it, and keeps serving the previous configuration", async () => {
    const before = await get("/config?site=shop");
    await writeFile(shopFile(), `${SHOP_YAML.replace("language: en", "language: nl")}deploy:\n  parallel: lots\n`);
    const status = await eventually(
      () => get("/config/status"),
      (r) => r.body.lastRejected !== null,
    );
    expect(status.body.lastRejected.message).toContain("invalid configuration");
    expect(status.body.lastRejected.details.join("\n")).toContain("deploy.parallel");
    const still = await get("/config?site=shop");
    expect(still.body.version).toBe(before.body.version);
    expect(still.body.config.content.language).toBe(before.body.config.content.language);
    const health = (await (await fetch(`${base}/health`)).json()) as { lastEditRejected: unknown };
    expect(health.lastEditRejected).toEqual(expect.any(String));
    const audit = readAuditLog(join(dir, ".siteloom", "audit.log"), { action: "config.reload" });
    expect(audit.some((e) => e.outcome === "error" && e.actor === "file-watcher")).toBe(true);

    // fixing the file clears the report and applies the edit
    await writeFile(shopFile(), SHOP_YAML.replace("language: en", "language: nl"));
    const fixed = await eventually(
      () => get("/config?site=shop"),
      (r) => r.body.config.content.language === "nl",
    );
    expect(fixed.body.config.content.language).toBe("nl");
    expect((await get("/config/status")).body.lastRejected).toBeNull();
  });

  it("applies an API patch and a hand edit made one after the other, in order", async () => {
    const patched = await fetch(`${base}/config?site=shop`, {
      method: "PATCH",
      headers: { ...bearer(s.tokens.editor), "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ content: { tone: "calm" } }),
    });
    expect(patched.status).toBe(200);
    const text = await readFile(shopFile(), "utf8");
    expect(text).toContain("tone: calm");
    await writeFile(shopFile(), text.replace("tone: calm", "tone: lively"));
    const r = await eventually(
      () => get("/config?site=shop"),
      (x) => x.body.config.content.tone === "lively",
    );
    expect(r.body.config.content.tone).toBe("lively");
  });
});
