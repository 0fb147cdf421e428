import { mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAuditLog, verifyAuditLog } from "../../src/audit/index.ts";
import { bearer, LITERAL_PASSWORD, SHOP_YAML, startTestServer, type TestServer, type TestTokens } from "./support.ts";

let s: TestServer;
let dir: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-server-api-")));
  s = await startTestServer(dir);
});

afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

const auditFile = () => join(dir, ".siteloom", "audit.log");
const shopFile = () => join(dir, "sites", "shop", "site.yaml");

function inject(method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  return s.app.inject({
    method: method as "GET",
    url,
    headers: {
      ...(token ? bearer(token) : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

describe("server: public routes", () => {
  it("answers /health without a token", async () => {
    const r = await inject("GET", "/health");
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: "ok", configVersion: expect.any(Number), lastEditRejected: null });
  });

  it("publishes an OpenAPI document built from the route schemas", async () => {
    const r = await inject("GET", "/openapi.json");
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/articles",
        "/articles/{site}/{slug}",
        "/articles/{site}/{slug}/approve",
        "/articles/{site}/{slug}/reject",
        "/console/audit/verify",
        "/console/config",
        "/console/costs",
        "/console/events",
        "/console/preview/{site}/*",
        "/console/session",
        "/console/sites",
        "/audit",
        "/config",
        "/config/rollback/{v}",
        "/config/status",
        "/config/versions",
        "/config/versions/{v}",
        "/health",
        "/metrics",
        "/runs",
        "/secrets",
        "/secrets/{scope}/{name}",
        "/secrets/{scope}/{name}/history",
        "/secrets/{scope}/{name}/rotate",
        "/tokens",
        "/tokens/{name}",
      ].sort(),
    );
    expect(Object.keys(doc.paths["/config"].patch.requestBody.content)).toContain("application/merge-patch+json");
    expect(doc.paths["/config/rollback/{v}"].post["x-required-role"]).toBe("admin");
    expect(doc.paths["/config"].get.security).toEqual([{ bearer: [] }]);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const r = await inject("GET", "/nope");
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe("ERR_NOT_FOUND");
  });
});

describe("server: configuration", () => {
  it("serves the resolved configuration with credentials masked", async () => {
    const blog = await inject("GET", "/config?site=blog", s.tokens.viewer);
    expect(blog.statusCode).toBe(200);
    expect(blog.json().config.remote.password).toBe("****");
    expect(blog.body).not.toContain(LITERAL_PASSWORD);
    const shop = await inject("GET", "/config?site=shop&env=production", s.tokens.viewer);
    expect(shop.json()).toMatchObject({ env: "production", site: "shop" });
    expect(shop.json().config.remote.password).toBe("secret://shop/FTP_PASSWORD");
    expect(shop.json().config.deploy.parallel).toBe(2);
    const ws = await inject("GET", "/config", s.tokens.viewer);
    expect(ws.json().config.llm.apiKey).toBe("secret://global/OPENAI_API_KEY");
    expect(ws.json().env).toBe("development");
  });

  it("rejects unknown sites, environments and query fields with 4xx", async () => {
    expect((await inject("GET", "/config?site=nosuch", s.tokens.viewer)).statusCode).toBe(404);
    const env = await inject("GET", "/config?env=qa", s.tokens.viewer);
    expect(env.statusCode).toBe(400);
    expect(env.json().message).toContain("known environments: development, staging, production");
    expect((await inject("GET", "/config?colour=red", s.tokens.viewer)).statusCode).toBe(400);
  });

  it("applies a merge patch to site.yaml keeping comments and layout, versioned and live", async () => {
    const before = await inject("GET", "/config/status", s.tokens.viewer);
    const r = await inject(
      "PATCH",
      "/config?site=shop",
      // remote.user decides where the password goes: only an admin may change it (test/server/attack.test.ts)
      s.tokens.admin,
      { content: { language: "fr", tone: "friendly" }, remote: { user: null } },
      { "content-type": "application/merge-patch+json" },
    );
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ changed: true, file: "sites/shop/site.yaml", version: before.json().version + 1 });
    expect(body.diff).toContain("+  language: fr # English first");
    expect(body.diff).toContain("-  user: deploy");
    const text = await readFile(shopFile(), "utf8");
    expect(text).toBe(
      SHOP_YAML.replace("  user: deploy\n", "")
        .replace("language: en", "language: fr")
        .replace("# English first\n", "# English first\n  tone: friendly\n"),
    );
    const live = await inject("GET", "/config?site=shop", s.tokens.viewer);
    expect(live.json().config.content).toMatchObject({ language: "fr", tone: "friendly" });
    expect(live.json().config.remote.user).toBeUndefined();

    const versions = await inject("GET", "/config/versions?limit=1", s.tokens.viewer);
    expect(versions.json().versions[0]).toMatchObject({ version: body.version, actor: "admin", source: "api" });
    const one = await inject("GET", `/config/versions/${body.version}`, s.tokens.viewer);
    expect(one.json().diff).toContain("+  tone: friendly");
    expect(one.json().files["sites/shop/site.yaml"]).toBe(text);
    expect(one.json().files["sites/blog/site.yaml"]).toContain('password: "****"');
    expect(one.body).not.toContain(LITERAL_PASSWORD);
  });

  it("writes a patch with ?env= into the file's environments block", async () => {
    const r = await inject("PATCH", "/config?env=staging", s.tokens.editorStaging, { deploy: { parallel: 6 } });
    expect(r.statusCode).toBe(200);
    const text = await readFile(join(dir, "siteloom.yaml"), "utf8");
    expect(text).toContain("  staging:\n    deploy:\n      parallel: 6\n");
    expect(text).toContain("# be gentle in production");
    const staging = await inject("GET", "/config?env=staging", s.tokens.editorStaging);
    expect(staging.json().config.deploy.parallel).toBe(6);
    const dev = await inject("GET", "/config?env=development", s.tokens.viewer);
    expect(dev.json().config.deploy.parallel).toBe(4);
  });

  it("refuses invalid patches with the schema's errors and changes nothing", async () => {
    const before = await readFile(shopFile(), "utf8");
    const version = (await inject("GET", "/config/status", s.tokens.viewer)).json().version;
    const wrongType = await inject("PATCH", "/config?site=shop", s.tokens.editor, { deploy: { parallel: "many" } });
    expect(wrongType.statusCode).toBe(422);
    expect(wrongType.json().details.join("\n")).toContain("deploy.parallel");
    const unknown = await inject("PATCH", "/config?site=shop", s.tokens.editor, { deploy: { turbo: true } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().details.join("\n")).toMatch(/turbo/);
    // valid in the file, invalid once the layers are merged: caught before anything is written
    const layered = await inject("PATCH", "/config?site=shop&env=production", s.tokens.editor, {
      deploy: { parallel: 0 },
    });
    expect(layered.statusCode).toBe(422);
    expect(layered.body).not.toContain("siteloom-candidate");
    const notObject = await inject("PATCH", "/config?site=shop", s.tokens.editor, [1, 2]);
    expect(notObject.statusCode).toBe(400);
    expect(await readFile(shopFile(), "utf8")).toBe(before);
    expect((await inject("GET", "/config/status", s.tokens.viewer)).json().version).toBe(version);
  });

  it("refuses a patch made against a stale version (If-Match)", async () => {
    const r = await inject(
      "PATCH",
      "/config?site=shop",
      s.tokens.editor,
      { content: { tone: "x" } },
      { "if-match": '"1"' },
    );
    expect(r.statusCode).toBe(409);
    expect(r.json().message).toContain("fetch it again");
  });

  it("rolls back to an earlier version as a new version", async () => {
    const r1 = await inject("PATCH", "/config?site=shop", s.tokens.editor, { content: { audience: "makers" } });
    const target = r1.json().version;
    const textAtTarget = await readFile(shopFile(), "utf8");
    const r2 = await inject("PATCH", "/config?site=shop", s.tokens.editor, { content: { audience: "everyone" } });
    expect(r2.json().version).toBe(target + 1);
    const denied = await inject("POST", `/config/rollback/${target}`, s.tokens.editor);
    expect(denied.statusCode).toBe(403);
    const rb = await inject("POST", `/config/rollback/${target}`, s.tokens.admin);
    expect(rb.statusCode).toBe(200);
    expect(rb.json()).toEqual({ version: target + 2, rolledBackTo: target, changed: true });
    expect(await readFile(shopFile(), "utf8")).toBe(textAtTarget);
    const live = await inject("GET", "/config?site=shop", s.tokens.viewer);
    expect(live.json().config.content.audience).toBe("makers");
    const v = await inject("GET", `/config/versions/${target + 2}`, s.tokens.viewer);
    expect(v.json()).toMatchObject({ actor: "admin", source: "rollback", message: `rollback to version ${target}` });
    expect((await inject("POST", "/config/rollback/9999", s.tokens.admin)).statusCode).toBe(404);
  });
});

describe("server: secrets", () => {
  const value = `api-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const rotated = `${value}-rotated`;

  it("sets, lists, rotates and shows history without ever returning a value", async () => {
    const put = await inject("PUT", "/secrets/shop/API_KEY?env=staging", s.tokens.admin, { value });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ env: "staging", ref: "secret://shop/API_KEY", version: 1 });
    const rot = await inject("POST", "/secrets/shop/API_KEY/rotate?env=staging", s.tokens.admin, { value: rotated });
    expect(rot.json().version).toBe(2);
    const list = await inject("GET", "/secrets?env=staging", s.tokens.admin);
    expect(list.json().secrets).toEqual([expect.objectContaining({ scope: "shop", name: "API_KEY", version: 2 })]);
    const hist = await inject("GET", "/secrets/shop/API_KEY/history?env=staging", s.tokens.admin);
    expect(hist.json().versions.map((v: { version: number; actor: string }) => [v.version, v.actor])).toEqual([
      [1, "admin"],
      [2, "admin"],
    ]);
    for (const r of [put, rot, list, hist]) {
      expect(r.body).not.toContain(value);
    }
    const missing = await inject("POST", "/secrets/shop/NOPE/rotate?env=staging", s.tokens.admin, { value: "abcd" });
    expect(missing.statusCode).toBe(404);
    const bad = await inject("PUT", "/secrets/shop/lower-case", s.tokens.admin, { value: "abcd" });
    expect(bad.statusCode).toBe(400);
    const extra = await inject("PUT", "/secrets/shop/X", s.tokens.admin, { value: "abcd", note: "hi" });
    expect(extra.statusCode).toBe(400);
    // the store's own audit events name the token as actor, like the CLI's name the user
    const entries = readAuditLog(auditFile(), { ref: "secret://shop/API_KEY" });
    expect(entries.some((e) => e.action === "rotate" && e.actor === "admin" && e.outcome === "ok")).toBe(true);
    expect(await readFile(auditFile(), "utf8")).not.toContain(value);
  });
});

describe("server: runs", () => {
  it("starts a pipeline run (202 with its id) that GET /runs then lists with the token as actor", async () => {
    const r = await inject("POST", "/runs", s.tokens.editor, { sites: ["shop"], steps: ["enrich"], dryRun: true });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json().id as string;
    expect(r.json()).toMatchObject({ env: "development", sites: ["shop"], steps: ["enrich"], dryRun: true });
    const list = await inject("GET", "/runs?site=shop", s.tokens.viewer);
    const run = list.json().runs.find((x: { id: string }) => x.id === id);
    expect(run).toMatchObject({ actor: "editor", env: "development", dryRun: true });
    const limited = await inject("GET", "/runs", s.tokens.viewerProduction);
    expect(limited.json().runs.some((x: { id: string }) => x.id === id)).toBe(false);
    const badStep = await inject("POST", "/runs", s.tokens.editor, { steps: ["launch"] });
    expect(badStep.statusCode).toBe(400);
  });
});

describe("server: audit", () => {
  it("lets admins filter every entry and others read only their own", async () => {
    const all = await inject("GET", "/audit?action=config.patch", s.tokens.admin);
    expect(all.statusCode).toBe(200);
    const actors = new Set(all.json().entries.map((e: { actor: string }) => e.actor));
    expect(actors.has("editor")).toBe(true);
    const own = await inject("GET", "/audit", s.tokens.viewer);
    expect(own.json().entries.length).toBeGreaterThan(0);
    expect(own.json().entries.every((e: { actor: string }) => e.actor === "viewer")).toBe(true);
    expect((await inject("GET", "/audit?actor=admin", s.tokens.viewer)).statusCode).toBe(403);
    const since = new Date(Date.now() + 60_000).toISOString();
    expect((await inject("GET", `/audit?since=${since}`, s.tokens.admin)).json().entries).toEqual([]);
    expect((await inject("GET", "/audit?since=yesterday", s.tokens.admin)).statusCode).toBe(400);
  });
});

describe("server: tokens", () => {
  it("lists tokens without hashes and revokes them", async () => {
    const list = await inject("GET", "/tokens", s.tokens.admin);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain("sha256:");
    expect(list.json().tokens.map((t: { name: string }) => t.name)).toContain("viewer-production");
    const r = await inject("DELETE", "/tokens/viewer-production", s.tokens.admin);
    expect(r.json().token.revoked).toEqual(expect.any(String));
    const after = await inject("GET", "/config", s.tokens.viewerProduction);
    expect(after.statusCode).toBe(401);
    expect(after.headers["www-authenticate"]).toContain("Bearer");
    expect(after.json().message).toContain("revoked");
  });
});

// --- the role × environment × endpoint matrix ---

type TokenName = keyof TestTokens | "none" | "garbage";
interface Endpoint {
  method: string;
  url: (env: string) => string;
  body?: (env: string, i: number) => unknown;
  role: "viewer" | "editor" | "admin";
  /** true: the env query/body decides; "base": needs a token allowed in every environment; false: no env */
  env: true | false | "base";
}

const ENDPOINTS: Endpoint[] = [
  { method: "GET", url: (e) => `/config?env=${e}`, role: "viewer", env: true },
  { method: "GET", url: (e) => `/config?site=shop&env=${e}`, role: "viewer", env: true },
  { method: "GET", url: () => "/config/status", role: "viewer", env: false },
  { method: "GET", url: () => "/config/versions", role: "viewer", env: false },
  { method: "GET", url: () => "/config/versions/1", role: "viewer", env: false },
  {
    method: "PATCH",
    url: (e) => `/config?site=blog&env=${e}`,
    body: (_e, i) => ({ content: { tone: `matrix-${i}` } }),
    role: "editor",
    env: true,
  },
  {
    method: "PATCH",
    url: () => "/config?site=blog",
    body: (_e, i) => ({ content: { audience: `matrix-${i}` } }),
    role: "editor",
    env: "base",
  },
  { method: "POST", url: () => "/config/rollback/1", role: "admin", env: false },
  { method: "GET", url: (e) => `/secrets?env=${e}`, role: "admin", env: true },
  {
    method: "PUT",
    url: (e) => `/secrets/global/MATRIX_KEY?env=${e}`,
    body: (_e, i) => ({ value: `matrix-value-${i}` }),
    role: "admin",
    env: true,
  },
  {
    method: "POST",
    url: (e) => `/secrets/global/MATRIX_KEY/rotate?env=${e}`,
    body: (_e, i) => ({ value: `matrix-rotated-${i}` }),
    role: "admin",
    env: true,
  },
  { method: "GET", url: (e) => `/secrets/global/MATRIX_KEY/history?env=${e}`, role: "admin", env: true },
  { method: "GET", url: () => "/audit?limit=5", role: "viewer", env: false },
  { method: "GET", url: () => "/runs", role: "viewer", env: false },
  {
    method: "POST",
    url: () => "/runs",
    body: (e) => ({ env: e, sites: ["nosuch"], dryRun: true }),
    role: "editor",
    env: true,
  },
  { method: "GET", url: () => "/tokens", role: "admin", env: false },
  { method: "DELETE", url: () => "/tokens/nobody", role: "admin", env: false },
];

const TOKENS: { name: TokenName; role?: "viewer" | "editor" | "admin"; envs: string[]; valid: boolean }[] = [
  { name: "none", envs: [], valid: false },
  { name: "garbage", envs: [], valid: false },
  { name: "expired", envs: [], valid: false },
  { name: "revoked", envs: [], valid: false },
  { name: "viewer", role: "viewer", envs: [], valid: true },
  { name: "editor", role: "editor", envs: [], valid: true },
  { name: "editorStaging", role: "editor", envs: ["staging"], valid: true },
  { name: "admin", role: "admin", envs: [], valid: true },
];
const ENVS = ["development", "staging", "production"];
const RANK = { viewer: 0, editor: 1, admin: 2 };

interface MatrixCase {
  token: (typeof TOKENS)[number];
  endpoint: Endpoint;
  env: string;
  expected: "401" | "403" | "allowed";
}

const CASES: MatrixCase[] = [];
for (const token of TOKENS) {
  for (const endpoint of ENDPOINTS) {
    for (const env of endpoint.env === true ? ENVS : ["development"]) {
      let expected: MatrixCase["expected"] = "allowed";
      if (!token.valid) expected = "401";
      else if (RANK[token.role!] < RANK[endpoint.role]) expected = "403";
      else if (token.role !== "admin" && token.envs.length > 0) {
        if (endpoint.env === "base" || (endpoint.env === true && !token.envs.includes(env))) expected = "403";
      }
      CASES.push({ token, endpoint, env, expected });
    }
  }
}

describe("server: role × environment × endpoint matrix", () => {
  const made: { method: string; path: string; actor: string; outcome: string }[] = [];
  let i = 0;

  it.each(CASES.map((c) => [`${c.token.name} ${c.endpoint.method} ${c.endpoint.url(c.env)} → ${c.expected}`, c]))(
    "%s",
    async (_title, c) => {
      const n = i++;
      const text =
        c.token.name === "none"
          ? undefined
          : c.token.name === "garbage"
            ? "slt_not-a-real-token"
            : s.tokens[c.token.name as keyof TestTokens];
      const body = c.endpoint.body?.(c.env, n);
      const r = await inject(c.endpoint.method, c.endpoint.url(c.env), text, body);
      if (c.expected === "allowed") {
        expect(r.statusCode, r.body).not.toBe(401);
        expect(r.statusCode, r.body).not.toBe(403);
        expect(r.statusCode, r.body).toBeLessThan(500);
      } else {
        expect(r.statusCode, r.body).toBe(Number(c.expected));
      }
      made.push({
        method: c.endpoint.method,
        path: c.endpoint.url(c.env),
        actor: c.token.valid ? tokenActor(c.token.name) : "anonymous",
        outcome: r.statusCode < 400 ? "ok" : r.statusCode === 401 || r.statusCode === 403 ? "denied" : "error",
      });
    },
  );

  it("wrote one audit entry per request, with actor, outcome and source, and an intact chain", () => {
    const entries = readAuditLog(auditFile()) as unknown as {
      actor: string;
      outcome: string;
      source?: string;
      request?: string;
    }[];
    const api = entries.filter((e) => e.request !== undefined);
    for (const m of made) {
      const route = m.path.split("?")[0]!.replace(/\/config\/versions\/\d+/, "/config/versions/:v");
      const match = api.find(
        (e) =>
          e.actor === m.actor &&
          e.outcome === m.outcome &&
          e.source === "127.0.0.1" &&
          e.request?.startsWith(m.method) &&
          _sameRoute(e.request.slice(m.method.length + 1), route),
      );
      expect(match, `${m.actor} ${m.method} ${m.path} ${m.outcome}`).toBeDefined();
    }
    expect(api.length).toBeGreaterThanOrEqual(made.length);
    expect(verifyAuditLog(auditFile()).ok).toBe(true);
  });
});

function tokenActor(name: TokenName): string {
  return { editorStaging: "editor-staging" }[name as string] ?? name;
}

function _sameRoute(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.replace(/:[a-z]+/gi, "[^/]+")}$`);
  return re.test(path);
}
