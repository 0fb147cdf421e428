import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bearer, SHOP_YAML, startTestServer, type TestServer, WORKSPACE_YAML } from "./support.ts";

/**
 * Issue 15, item 1: no role below admin can make siteloom send a secret or an environment variable to a new
 * destination, or make it readable by a new key, through any sequence of API calls. Every case ends with what a
 * listener the test owns received, byte for byte.
 */

/** Values the attacker wants: each must never reach the listener. */
const CANARY = {
  shop: `shop-ftp-${Math.random().toString(36).slice(2)}`,
  global: `sk-global-${Math.random().toString(36).slice(2)}`,
  blog: `blog-ftp-${Math.random().toString(36).slice(2)}`,
  variable: `var-${Math.random().toString(36).slice(2)}`,
};

/** A TCP listener on loopback speaking just enough FTP to be sent a password; it keeps every byte it receives. */
interface Listener {
  port: number;
  received(): Buffer;
  reset(): void;
  close(): Promise<void>;
}

async function startListener(): Promise<Listener> {
  let chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.write("220 listener\r\n");
    socket.on("data", (data) => {
      chunks.push(data);
      for (const line of data.toString("latin1").split("\r\n").filter(Boolean)) {
        const verb = line.split(" ")[0]!.toUpperCase();
        socket.write(verb === "USER" ? "331 password please\r\n" : "530 no\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    received: () => Buffer.concat(chunks),
    reset: () => {
      chunks = [];
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let s: TestServer;
let dir: string;
let listener: Listener;
/** A key the attacker (an editor) holds. */
let editorIdentity: string;
let editorRecipient: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-attack-")));
  s = await startTestServer(dir, {});
  s.vars.CANARY_VAR = CANARY.variable;
  listener = await startListener();
  editorIdentity = await generateX25519Identity();
  editorRecipient = await identityToRecipient(editorIdentity);
  for (const env of ["staging", "production"]) {
    for (const [scope, name, value] of [
      ["shop", "FTP_PASSWORD", CANARY.shop],
      ["blog", "FTP_PASSWORD", CANARY.blog],
      ["global", "OPENAI_API_KEY", CANARY.global],
    ] as const) {
      const r = await inject("PUT", `/secrets/${scope}/${name}?env=${env}`, s.tokens.admin, { value });
      expect(r.statusCode, r.body).toBeLessThan(300);
    }
  }
});

afterAll(async () => {
  await listener?.close();
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  // every case starts from the same files, written by hand (not through the API)
  await writeFile(join(dir, "siteloom.yaml"), WORKSPACE_YAML);
  await writeFile(join(dir, "sites", "shop", "site.yaml"), SHOP_YAML);
  await s.app.configRuntime.reloadFromDisk();
  listener.reset();
});

function inject(method: string, url: string, token: string, body?: unknown) {
  return s.app.inject({
    method: method as "GET",
    url,
    headers: { ...bearer(token), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

/** Starts an export of shop in `env` and waits until the run has finished; returns its steps' errors. */
async function runExport(token: string, env = "staging"): Promise<string[]> {
  const r = await inject("POST", "/runs", token, { sites: ["shop"], env, steps: ["export"] });
  expect(r.statusCode, r.body).toBe(202);
  const id = r.json().id as string;
  for (let i = 0; i < 600; i++) {
    const run = (await s.store.listRuns({ limit: 50 })).find((x) => x.id === id);
    if (run && run.status !== "running") {
      const steps = await s.store.listSteps(id);
      return [run.error ?? "", ...steps.map((st) => `${st.errorCode ?? ""} ${st.error ?? ""}`)];
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${id} did not finish`);
}

/** The listener got no byte of any canary (and, where said, no byte at all). */
function expectNothingLeaked(options: { silent?: boolean } = {}): void {
  const got = listener.received();
  for (const value of Object.values(CANARY)) expect(got.includes(Buffer.from(value))).toBe(false);
  expect(got.includes(Buffer.from(s.vars.SITELOOM_AGE_IDENTITY!))).toBe(false);
  if (options.silent) expect(got.length).toBe(0);
}

const toListener = (password: string) => ({
  protocol: "ftp",
  host: "127.0.0.1",
  port: listener.port,
  user: "x",
  password,
});

describe("attack: the listener proves it can receive (control)", () => {
  it("an admin pointing shop at the listener sends shop's own password there", async () => {
    const r = await inject("PATCH", "/config?site=shop&env=staging", s.tokens.admin, {
      remote: toListener("secret://shop/FTP_PASSWORD"),
    });
    expect(r.statusCode, r.body).toBe(200);
    await runExport(s.tokens.admin);
    expect(listener.received().toString("latin1")).toContain(`PASS ${CANARY.shop}\r\n`);
  });
});

describe("attack: an editor cannot move a credential (PATCH, then POST /runs)", () => {
  const attempts: [string, string, Record<string, unknown>, RegExp][] = [
    [
      "the whole remote with a global secret",
      "/config?site=shop&env=staging",
      { remote: toListenerLater("secret://global/OPENAI_API_KEY") },
      /environments\.staging\.remote\.(protocol|host|port|user|password)/,
    ],
    ["only host and port", "/config?site=shop&env=staging", { remote: { host: "127.0.0.1", port: 0 } }, /remote.host/],
    ["only the password", "/config?site=shop&env=staging", { remote: { password: "${CANARY_VAR}" } }, /password/],
    [
      "the age identity variable",
      "/config?site=shop&env=staging",
      { remote: { password: "${SITELOOM_AGE_IDENTITY}" } },
      /remote\.password is a credential/,
    ],
    [
      "an environments block written through the base layer",
      "/config?site=shop",
      { environments: { staging: { remote: { port: 0 } } } },
      /environments\.staging\.remote\.port/,
    ],
    ["the workspace's remote for every site", "/config?env=staging", { remote: { port: 0 } }, /remote\.port/],
    ["deleting the user", "/config?site=shop", { remote: { user: null } }, /remote\.user/],
    ["deleting the remote section", "/config?site=shop", { remote: null }, /remote\./],
    ["the LLM endpoint", "/config?env=staging", { llm: { baseUrl: "http://127.0.0.1:1/v1" } }, /llm\.baseUrl/],
    ["the LLM provider", "/config", { llm: { provider: "openai" } }, /llm\.provider/],
    [
      "a WordPress target",
      "/config?site=shop&env=staging",
      { wordpress: { url: "http://127.0.0.1:1/", user: "x", appPassword: "secret://shop/FTP_PASSWORD" } },
      /wordpress\./,
    ],
    ["TLS verification", "/config?site=shop&env=staging", { remote: { insecure: true } }, /remote\.insecure/],
    ["the variables references may read", "/config", { env: ["CANARY_VAR"] }, /env: |env decides|\benv\b/],
    [
      "a global secret declared for another field",
      "/config",
      { secrets: { globals: { OPENAI_API_KEY: ["remote.password"] } } },
      /secrets\.globals/,
    ],
  ];

  for (const token of ["editor", "editorStaging"] as const) {
    it.each(attempts)(
      `${token}: %s → 403 naming the field; the run sends nothing`,
      async (_title, url, patch, field) => {
        const body = JSON.parse(JSON.stringify(patch).replaceAll('"port":0', `"port":${listener.port}`));
        const before = await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8");
        const wsBefore = await readFile(join(dir, "siteloom.yaml"), "utf8");
        const r = await inject("PATCH", url, s.tokens[token], body);
        if (token === "editorStaging" && !url.includes("env=staging")) {
          // a staging-limited token cannot touch the base layer at all
          expect(r.statusCode, r.body).toBe(403);
        } else {
          expect(r.statusCode, r.body).toBe(403);
          expect(r.json().message).toMatch(field);
          expect(r.json().message).toMatch(/admin|never through the API/);
        }
        expect(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8")).toBe(before);
        expect(await readFile(join(dir, "siteloom.yaml"), "utf8")).toBe(wsBefore);
        await runExport(s.tokens.editor);
        expectNothingLeaked({ silent: true });
      },
    );
  }

  it("an editor may still change fields that send nothing anywhere", async () => {
    const r = await inject("PATCH", "/config?site=shop&env=staging", s.tokens.editor, {
      content: { tone: "dry" },
      remote: { timeoutMs: 5000 },
    });
    expect(r.statusCode, r.body).toBe(200);
  });

  it("an editor's patch that repeats guarded values unchanged is accepted", async () => {
    const r = await inject("PATCH", "/config?site=shop", s.tokens.editor, {
      remote: { host: "127.0.0.1", password: "secret://shop/FTP_PASSWORD" },
      content: { tone: "same remote" },
    });
    expect(r.statusCode, r.body).toBe(200);
  });
});

describe("attack: references are bound to where they may be used (even when an admin or a hand edit writes them)", () => {
  const cases: [string, string, RegExp][] = [
    ["a global secret made for the LLM", "secret://global/OPENAI_API_KEY", /global secret goes only into/],
    ["another site's secret", "secret://blog/FTP_PASSWORD", /belongs to site "blog"/],
    ["an undeclared variable", "${CANARY_VAR}", /not in the workspace's env: list/],
    ["an undeclared variable with a default", "${CANARY_VAR:-x}", /not in the workspace's env: list/],
    ["the age identity", "${SITELOOM_AGE_IDENTITY}", /holds a key of the secret stores/],
  ];
  it.each(cases)("%s in remote.password: the run fails before connecting", async (_title, ref, why) => {
    const r = await inject("PATCH", "/config?site=shop&env=staging", s.tokens.admin, { remote: toListener(ref) });
    expect(r.statusCode, r.body).toBe(200);
    const errors = await runExport(s.tokens.admin);
    expect(errors.join("\n")).toMatch(why);
    expectNothingLeaked({ silent: true });
  });

  it("the age identity stays unreadable even when env: lists it (hand edit)", async () => {
    await writeFile(join(dir, "siteloom.yaml"), `${WORKSPACE_YAML}env: [SITELOOM_AGE_IDENTITY, CANARY_VAR]\n`);
    await writeFile(
      join(dir, "sites", "shop", "site.yaml"),
      `domain: shop.example.com\nremote: { protocol: ftp, host: 127.0.0.1, port: ${listener.port}, user: x, password: "\${SITELOOM_AGE_IDENTITY}" }\n`,
    );
    await s.app.configRuntime.reloadFromDisk();
    const errors = await runExport(s.tokens.admin);
    expect(errors.join("\n")).toMatch(/holds a key of the secret stores/);
    expectNothingLeaked({ silent: true });
  });

  it("a variable the workspace declares is resolved (control)", async () => {
    await writeFile(join(dir, "siteloom.yaml"), `${WORKSPACE_YAML}env: [CANARY_VAR]\n`);
    await writeFile(
      join(dir, "sites", "shop", "site.yaml"),
      `domain: shop.example.com\nremote: { protocol: ftp, host: 127.0.0.1, port: ${listener.port}, user: x, password: "\${CANARY_VAR}" }\n`,
    );
    await s.app.configRuntime.reloadFromDisk();
    await runExport(s.tokens.admin);
    expect(listener.received().toString("latin1")).toContain(`PASS ${CANARY.variable}\r\n`);
  });

  it("a global secret declared for the field in secrets.globals is resolved (control)", async () => {
    await writeFile(
      join(dir, "siteloom.yaml"),
      `${WORKSPACE_YAML}secrets:\n  globals:\n    OPENAI_API_KEY: [remote.password]\n`,
    );
    await writeFile(
      join(dir, "sites", "shop", "site.yaml"),
      `domain: shop.example.com\nremote: { protocol: ftp, host: 127.0.0.1, port: ${listener.port}, user: x, password: "secret://global/OPENAI_API_KEY" }\n`,
    );
    await s.app.configRuntime.reloadFromDisk();
    await runExport(s.tokens.admin);
    expect(listener.received().toString("latin1")).toContain(`PASS ${CANARY.global}\r\n`);
  });
});

describe("attack: no new key can read the store (PATCH, then an admin write)", () => {
  const storeFile = (env: string) => join(dir, ".siteloom", `secrets.${env}.age`);

  async function editorCanOpen(env: string): Promise<boolean> {
    const d = new Decrypter();
    d.addIdentity(editorIdentity);
    try {
      await d.decrypt(new Uint8Array(await readFile(storeFile(env))), "text");
      return true;
    } catch {
      return false;
    }
  }

  it.each(["editor", "admin"] as const)("%s: adding a recipient through the API → 403", async (token) => {
    const r = await inject("PATCH", "/config", s.tokens[token], {
      secrets: { stores: { file: { type: "file", recipients: [editorRecipient] } } },
    });
    expect(r.statusCode, r.body).toBe(403);
    expect(r.json().message).toMatch(/secrets\.stores.*never through the API/);
    const put = await inject("PUT", "/secrets/shop/AFTER?env=staging", s.tokens.admin, { value: "after-1" });
    expect(put.statusCode, put.body).toBeLessThan(300);
    expect(await editorCanOpen("staging")).toBe(false);
  });

  it("adding a backend or switching the default store through the API → 403", async () => {
    for (const patch of [
      { secrets: { stores: { v: { type: "vault", address: `http://127.0.0.1:${listener.port}` } } } },
      { secrets: { backend: "env" } },
    ]) {
      const r = await inject("PATCH", "/config", s.tokens.admin, patch);
      expect(r.statusCode, r.body).toBe(403);
    }
    expectNothingLeaked({ silent: true });
  });

  it("a recipient written into siteloom.yaml by hand is refused at the next write, which writes nothing", async () => {
    const before = await readFile(storeFile("staging"));
    await writeFile(
      join(dir, "siteloom.yaml"),
      `${WORKSPACE_YAML}secrets:\n  stores:\n    file:\n      type: file\n      recipients: [${editorRecipient}]\n`,
    );
    await s.app.configRuntime.reloadFromDisk();
    const put = await inject("PUT", "/secrets/shop/AFTER?env=staging", s.tokens.admin, { value: "after-2" });
    expect(put.statusCode).toBeGreaterThanOrEqual(400);
    expect(put.json().message).toMatch(/not encrypted to; nothing was written.*secrets recipients add/);
    expect(await readFile(storeFile("staging"))).toEqual(before);
    expect(await editorCanOpen("staging")).toBe(false);
  });

  it("a rollback through the API cannot restore a store change", async () => {
    await writeFile(
      join(dir, "siteloom.yaml"),
      `${WORKSPACE_YAML}secrets:\n  stores:\n    file:\n      type: file\n      recipients: [${editorRecipient}]\n`,
    );
    await s.app.configRuntime.reloadFromDisk();
    const withRecipient = s.app.configRuntime.current().version;
    await writeFile(join(dir, "siteloom.yaml"), WORKSPACE_YAML);
    await s.app.configRuntime.reloadFromDisk();
    const r = await inject("POST", `/config/rollback/${withRecipient}`, s.tokens.admin);
    expect(r.statusCode, r.body).toBe(403);
    expect(await readFile(join(dir, "siteloom.yaml"), "utf8")).toBe(WORKSPACE_YAML);
  });
});

describe("attack: plaintext credentials through the API (item 3)", () => {
  it.each([
    ["/config?site=shop&env=production", { remote: { password: "plain-Pw-" } }],
    ["/config?site=shop", { remote: { passphrase: "plain-Pw-" } }],
    ["/config", { llm: { apiKey: "plain-Pw-" } }],
    [
      "/config?site=shop&env=staging",
      { wordpress: { url: "https://shop.example.com/", user: "u", appPassword: "plain-Pw-" } },
    ],
  ])("an admin's %s with a plaintext credential → 422, nothing written or versioned", async (url, patch) => {
    const value = `plain-Pw-${Math.random().toString(36).slice(2)}`;
    const body = JSON.parse(JSON.stringify(patch).replace("plain-Pw-", value));
    const versionsBefore = (await inject("GET", "/config/versions?limit=1", s.tokens.viewer)).json().versions[0]
      .version;
    const r = await inject("PATCH", url, s.tokens.admin, body);
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json().message).toMatch(/a plaintext credential is never written through the API/);
    expect(r.body).not.toContain(value);
    expect(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8")).toBe(SHOP_YAML);
    expect(await readFile(join(dir, "siteloom.yaml"), "utf8")).toBe(WORKSPACE_YAML);
    const versionsAfter = (await inject("GET", "/config/versions?limit=1", s.tokens.viewer)).json().versions[0].version;
    expect(versionsAfter).toBe(versionsBefore);
  });

  it("a reference is accepted where the plaintext was refused", async () => {
    const r = await inject("PATCH", "/config?site=shop&env=production", s.tokens.admin, {
      remote: { password: "secret://shop/FTP_PASSWORD" },
    });
    expect(r.statusCode, r.body).toBe(200);
  });
});

describe("attack: hostile PATCH bodies", () => {
  it("a body nested 10,000 levels is a 400 with a message, and the server goes on", async () => {
    const deep = `${'{"content":'.repeat(1)}${'{"a":'.repeat(10_000)}1${"}".repeat(10_001)}`;
    const r = await s.app.inject({
      method: "PATCH",
      url: "/config?site=shop",
      headers: { ...bearer(s.tokens.editor), "content-type": "application/json" },
      payload: deep,
    });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ code: "ERR_USAGE", message: expect.stringMatching(/nested deeper than 16/) });
    expect(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8")).toBe(SHOP_YAML);
    expect((await inject("GET", "/config/status", s.tokens.viewer)).statusCode).toBe(200);
  });

  it("a body with too many keys is a 400", async () => {
    const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    const r = await inject("PATCH", "/config?site=shop", s.tokens.editor, { content: wide });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().message).toMatch(/more than 1000 keys/);
  });

  it("a value typed as a key name is refused and never reaches the audit log", async () => {
    const typed = `hunter2-${Math.random().toString(36).slice(2)} oops`;
    const r = await inject("PATCH", "/config?site=shop", s.tokens.editor, { content: { [typed]: "x" } });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.body).not.toContain(typed);
    // a key that looks fine but is not in the schema: refused by the schema, and not audited either
    const unknown = `sk${Math.random().toString(36).slice(2)}`;
    const r2 = await inject("PATCH", "/config?site=shop", s.tokens.editor, { content: { [unknown]: "x" } });
    expect(r2.statusCode, r2.body).toBe(422);
    const audit = await readFile(join(dir, ".siteloom", "audit.log"), "utf8");
    expect(audit).not.toContain(typed);
    expect(audit).not.toContain(unknown);
    expect(audit).toContain(
      '"action":"config.patch","ref":"sites/shop/site.yaml","env":"","outcome":"error","error":"ERR_USAGE"',
    );
  });
});

// --- internal ---

/** The listener's port is known only once it listens; attempts are built before, so 0 is patched in later. */
function toListenerLater(password: string): Record<string, unknown> {
  return { protocol: "ftp", host: "127.0.0.1", port: 0, user: "x", password };
}
