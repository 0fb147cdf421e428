// The web console in a real browser (Debian's chromium through playwright-core) against a real `siteloom serve` on
// loopback: one server, one browser for the whole file. Needs scripts/setup-check-tools.sh (chromium).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { testApiKey, testLlmConfig } from "../content/support/workspace.ts";
import { runCli } from "../support/cli.ts";
import { type ServeProcess, startServe } from "../support/serve.ts";
import { makeTestCertificates } from "../support/tls.ts";

const CHROMIUM = process.env.CHROME_PATH ?? "/usr/bin/chromium";
// a page re-renders after each action; a loaded CI machine can take seconds, so polls wait longer than the 1 s default
const POLL = { timeout: 20_000, interval: 100 };
/** A credential written as a literal in a config file: it must never reach a page or a response. */
const CANARY = `canary-${Math.random().toString(36).slice(2)}-pw`;
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let dir: string;
let llm: LlmServer;
let serve: ServeProcess;
let url: string;
let browser: Browser;
const key = testApiKey();
const tokens: Record<"admin" | "editor" | "viewer", string> = { admin: "", editor: "", viewer: "" };
/** Every response body the browser saw, for the canary check. */
const seen: string[] = [];

const cli = (args: string[]) => runCli(["--workspace", dir, ...args], { env: { LLM_KEY: key, HOME: dir } });
const articleFile = (slug: string) => join(dir, "sites/shop/articles", `${slug}.json`);

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} missing: run scripts/setup-check-tools.sh`).toBe(true);
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-console-")));
  llm = await startLlmServer();
  await _writeWorkspace();
  for (const role of ["admin", "editor", "viewer"] as const) {
    const created = await cli(["tokens", "create", "--name", `${role}-1`, "--role", role]);
    expect(created.code, created.stderr).toBe(0);
    tokens[role] = /slt_[A-Za-z0-9_-]+/.exec(created.stdout + created.stderr)![0];
  }
  // three drafts waiting for review, and a first deploy
  const run = await cli(["run", "shop"]);
  expect(run.code, run.stderr).toBe(0);
  serve = await startServe(dir, { LLM_KEY: key });
  url = serve.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  await llm?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("console: sign-in and sessions", () => {
  it("signs in with a token into an HttpOnly, SameSite=Strict cookie; the token is in no script-readable storage", async () => {
    const { context, page } = await signIn("editor");
    const cookies = await context.cookies();
    expect(cookies).toEqual([
      expect.objectContaining({ name: "siteloom_session", httpOnly: true, sameSite: "Strict", secure: false }),
    ]);
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    }));
    expect(visible).toEqual({ cookie: "", local: "{}", session: "{}" });
    expect(JSON.stringify(visible)).not.toContain(tokens.editor);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").waitFor();
    // the old cookie no longer opens a session
    const after = await page.evaluate(() => fetch("/console/sites").then((r) => r.status));
    expect(after).toBe(401);
    await context.close();
  });

  it("a screen whose data arrives after Sign out does not cover the sign-in form", async () => {
    const context = await newContext();
    const page = await context.newPage();
    // the Sites screen's answer (given while the session was valid) reaches the page only after Sign out
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let answered!: () => void;
    const sitesAnswered = new Promise<void>((resolve) => {
      answered = resolve;
    });
    await page.route("**/console/sites", async (route) => {
      const response = await route.fetch();
      expect(response.status()).toBe(200);
      answered();
      await held;
      await route.fulfill({ response });
    });
    await page.goto(url);
    await page.getByLabel("API token").fill(tokens.viewer);
    await page.getByRole("button", { name: "Sign in" }).click();
    await sitesAnswered;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Signed out.").waitFor();
    const delivered = page.waitForResponse("**/console/sites");
    release();
    await delivered;
    // the late answer has been handled by now: the form is still there, no Sites screen over it
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
    expect(await page.getByLabel("API token").isVisible()).toBe(true);
    expect(await page.getByRole("heading", { name: "Sites" }).count()).toBe(0);
    await context.close();
  });

  it("over TLS the browser holds the cookie as Secure too", async () => {
    // a second serve of the same workspace in an environment that sets server.tls (certificates from a test CA)
    const tls = await startServe(dir, { LLM_KEY: key, SITELOOM_ENV: "tls" });
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto(tls.url);
      await page.getByLabel("API token").fill(tokens.viewer);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      expect(await context.cookies()).toEqual([
        expect.objectContaining({ name: "siteloom_session", httpOnly: true, sameSite: "Strict", secure: true }),
      ]);
      expect(await page.evaluate(() => document.cookie)).toBe("");
      await context.close();
    } finally {
      await tls.stop();
    }
  });

  it("a wrong token is refused with a readable message", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel("API token").fill("slt_not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toMatch(/token/i);
    await context.close();
  });
});

describe("console: review, runs, costs, config as editor and admin", () => {
  it("shows the sites with their article counts", async () => {
    const { context, page } = await signIn("editor");
    const row = page.locator("tbody tr", { hasText: "shop" });
    await expect(row.textContent()).resolves.toContain("shop.example.com");
    const cells = await row.locator("td.num").allTextContents();
    expect(cells.slice(0, 3)).toEqual(["3", "0", "0"]);
    await context.close();
  });

  it("approves one draft, rejects one with a reason, and an invalid edit shows its error and changes nothing", async () => {
    const { context, page } = await signIn("editor");
    await page.goto(`${url}/#/review`);
    const drafts = page.getByRole("navigation", { name: "Drafts waiting for review" }).getByRole("button");
    await expect.poll(() => drafts.count(), POLL).toBe(3);
    // the preview is the page as enrich renders it, framed without scripts
    await drafts.filter({ hasText: "Baking bread" }).click();
    await page.locator('#detail[data-shown="shop/baking-bread"]').waitFor();
    const frame = page.locator("iframe.preview");
    await expect(frame.getAttribute("sandbox")).resolves.toBe("");
    const preview = page.frameLocator("iframe.preview");
    await expect(preview.locator("h1").first().textContent()).resolves.toContain("Baking bread");
    await expect(preview.locator("footer").textContent()).resolves.toContain("© Shop");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => drafts.count(), POLL).toBe(2);
    expect(JSON.parse(await readFile(articleFile("baking-bread"), "utf8")).status).toBe("ready");

    await drafts.filter({ hasText: "Keeping a starter" }).click();
    await page.locator('#detail[data-shown="shop/keeping-a-starter"]').waitFor();
    await page.getByLabel("Reason for rejecting").fill("off topic");
    await page.getByRole("button", { name: "Reject" }).click();
    await expect.poll(() => drafts.count(), POLL).toBe(1);
    const rejected = JSON.parse(await readFile(articleFile("keeping-a-starter"), "utf8"));
    expect(rejected.status).toBe("rejected");
    expect(rejected.review.at(-1)).toMatchObject({ action: "reject", by: "editor-1", reason: "off topic" });

    const before = await readFile(articleFile("proofing-dough"), "utf8");
    await drafts.first().click();
    await page.locator('#detail[data-shown="shop/proofing-dough"]').waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    const editor = page.getByLabel("Front matter and Markdown");
    const text = await editor.inputValue();
    await editor.fill(text.replace(/^title: .*$/m, 'title: ""'));
    await page.getByRole("button", { name: "Save" }).click();
    const alert = page.getByRole("alert");
    await expect(alert.textContent()).resolves.toContain("not valid; nothing was saved");
    await expect(alert.textContent()).resolves.toContain("title:");
    expect(await readFile(articleFile("proofing-dough"), "utf8")).toBe(before);
    await context.close();
  });

  it("starts a run, watches it live to its end, and the approved article is deployed by it", async () => {
    // its own precondition, whichever tests ran before: one article approved, the other two not
    if (JSON.parse(await readFile(articleFile("baking-bread"), "utf8")).status !== "ready") {
      const approved = await cli(["articles", "approve", "shop", "baking-bread"]);
      expect(approved.code, approved.stderr).toBe(0);
    }
    for (const slug of ["keeping-a-starter", "proofing-dough"]) {
      expect(JSON.parse(await readFile(articleFile(slug), "utf8")).status).not.toBe("ready");
    }
    const { context, page } = await signIn("editor");
    await page.goto(`${url}/#/runs`);
    await page.locator("#r-site").selectOption("shop");
    await page.getByLabel("Steps (comma-separated, empty: all)").fill("export,enrich,deploy");
    await page.getByRole("button", { name: "Start run" }).click();
    const running = page.locator(".live-run").first();
    await running.waitFor();
    await expect(running.textContent()).resolves.toContain("shop/");
    await page.locator('.live-run[data-status="succeeded"]').waitFor({ timeout: 60_000 });
    await expect(running.textContent()).resolves.toMatch(/shop\/deploy: succeeded/);
    const remote = join(dir, "remote", "blog");
    await expect(readFile(join(remote, "baking-bread/index.html"), "utf8")).resolves.toContain("Baking bread");
    expect(existsSync(join(remote, "keeping-a-starter/index.html"))).toBe(false);
    expect(existsSync(join(remote, "proofing-dough/index.html"))).toBe(false);
    // the finished run is in the history
    await page.goto(`${url}/#/sites`);
    await page.goto(`${url}/#/runs`);
    await expect.poll(() => page.locator("#runs tbody tr").count(), POLL).toBeGreaterThanOrEqual(2);
    await context.close();
  });

  it("draws the costs chart against the budget", async () => {
    const { context, page } = await signIn("viewer");
    await page.goto(`${url}/#/costs`);
    const chart = page.locator("svg#cost-months");
    await chart.waitFor();
    await expect(chart.getAttribute("aria-label")).resolves.toMatch(/\d{4}-\d{2} \$\d/);
    await expect(page.locator("svg#cost-sites line.budget").count()).resolves.toBe(1);
    await context.close();
  });

  it("an admin rolls back a configuration version and the change is live", async () => {
    const patch = await fetch(`${url}/config`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${tokens.admin}`, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ deploy: { parallel: 3 } }),
    });
    expect(patch.status, await patch.text()).toBe(200);
    const { context, page } = await signIn("admin");
    await page.goto(`${url}/#/config`);
    const v1 = page.locator('#versions tr[data-version="1"]');
    await v1.getByRole("button", { name: "Diff of version 1" }).waitFor();
    await page.locator('#versions tr[data-version="2"]').getByRole("button", { name: "Diff of version 2" }).click();
    await expect(page.locator("pre.diff .add", { hasText: "parallel" }).first().textContent()).resolves.toContain(
      "parallel: 3",
    );
    page.once("dialog", (dialog) => dialog.accept());
    await v1.getByRole("button", { name: "Roll back to version 1" }).click();
    await page.locator('#versions tr[data-version="3"]').waitFor();
    const config = await fetch(`${url}/config`, { headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(((await config.json()) as { config: { deploy: { parallel: number } } }).config.deploy.parallel).toBe(4);
    await context.close();
  });
});

describe("console: audit", () => {
  it("filters the log by action and a time range", async () => {
    const { context, page } = await signIn("admin");
    await page.goto(`${url}/#/audit`);
    const rows = page.locator("#main table tbody tr");
    await page.getByLabel("Action (prefix)").fill("console.signin");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect
      .poll(async () => new Set(await rows.locator("td:nth-child(3)").allTextContents()))
      .toEqual(new Set(["console.signin"]));
    await page.getByLabel("Until (ISO time)").fill("2000-01-01T00:00:00Z");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => rows.locator("td:nth-child(3)").count(), POLL).toBe(0);
    await context.close();
  });
});

describe("console: roles and CSRF", () => {
  it("a viewer sees no write buttons, and forged writes with its session are refused with 403", async () => {
    const { context, page } = await signIn("viewer");
    await page.goto(`${url}/#/review`);
    await page.getByRole("navigation", { name: "Drafts waiting for review" }).waitFor();
    await page.locator("iframe.preview").waitFor();
    expect(await page.getByRole("button", { name: /Approve|Reject|Edit/ }).count()).toBe(0);
    await page.goto(`${url}/#/runs`);
    await page.locator("#runs").waitFor();
    expect(await page.getByRole("button", { name: "Start run" }).count()).toBe(0);
    await page.goto(`${url}/#/config`);
    await page.locator("#versions").waitFor();
    expect(await page.getByRole("button", { name: /Roll back/ }).count()).toBe(0);
    const statuses = await page.evaluate(async () => {
      const { csrf } = await (await fetch("/console/session")).json();
      // with the session's valid CSRF token: only the role check is left to refuse them
      const post = (path: string, body: unknown) =>
        fetch(path, {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": csrf },
          body: JSON.stringify(body),
        }).then(async (r) => `${r.status} ${((await r.json()) as { message: string }).message}`);
      return [
        await post("/articles/shop/proofing-dough/approve", {}),
        await post("/runs", { sites: ["shop"] }),
        await post("/config/rollback/1", {}),
      ];
    });
    expect(statuses).toEqual([
      expect.stringMatching(/^403 token "viewer-1" has role viewer; articles\.approve needs editor/),
      expect.stringMatching(/^403 token "viewer-1" has role viewer; runs\.\w+ needs editor/),
      expect.stringMatching(/^403 token "viewer-1" has role viewer; config\.rollback needs admin/),
    ]);
    expect(JSON.parse(await readFile(articleFile("proofing-dough"), "utf8")).status).toBe("draft");
    await context.close();
  });

  it("a write with the session cookie but without the CSRF token is refused", async () => {
    const { context, page } = await signIn("editor");
    const status = await page.evaluate(() =>
      fetch("/articles/shop/proofing-dough/approve", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }).then((r) => r.status),
    );
    expect(status).toBe(403);
    expect(JSON.parse(await readFile(articleFile("proofing-dough"), "utf8")).status).toBe("draft");
    await context.close();
  });
});

describe("console: accessibility, best practices, no secrets", () => {
  it("axe-core finds no violations on any screen", async () => {
    const { context, page } = await signIn("admin");
    const found: string[] = [];
    for (const screen of ["sites", "runs", "review", "costs", "config", "audit"]) {
      await page.goto(`${url}/#/${screen}`);
      await page.locator("main h1").waitFor();
      await page.waitForLoadState("networkidle").catch(() => undefined);
      await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async () => {
        const result = await (
          window as unknown as { axe: { run(): Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }
        ).axe.run();
        return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
      });
      for (const v of violations) found.push(`${screen}: ${v}`);
    }
    await page.goto(url);
    expect(found).toEqual([]);
    await context.close();
    // the sign-in screen too
    const anonymous = await newContext();
    const signin = await anonymous.newPage();
    await signin.goto(url);
    await signin.getByLabel("API token").waitFor();
    await signin.evaluate(AXE_SOURCE);
    const violations = await signin.evaluate(async () =>
      (
        await (window as unknown as { axe: { run(): Promise<{ violations: { id: string }[] }> } }).axe.run()
      ).violations.map((v) => v.id),
    );
    expect(violations).toEqual([]);
    await anonymous.close();
  });

  it("Lighthouse scores accessibility and best practices ≥ 95 on the main screens", async () => {
    const { default: lighthouse } = await import("lighthouse");
    const chromeLauncher = await import("chrome-launcher");
    const cookie = await _sessionCookie("admin");
    const profile = await mkdtemp(join(tmpdir(), "siteloom-chromium-"));
    const chrome = await chromeLauncher.launch({
      chromePath: CHROMIUM,
      userDataDir: profile,
      chromeFlags: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    const scores: Record<string, { a11y: number; bp: number; failed: string[] }> = {};
    try {
      for (const screen of ["sites", "review"]) {
        const result = await lighthouse(`${url}/#/${screen}`, {
          port: chrome.port,
          onlyCategories: ["accessibility", "best-practices"],
          extraHeaders: { Cookie: cookie },
          logLevel: "error",
          output: "json",
        });
        const lhr = result!.lhr;
        scores[screen] = {
          a11y: Math.round((lhr.categories.accessibility?.score ?? 0) * 100),
          bp: Math.round((lhr.categories["best-practices"]?.score ?? 0) * 100),
          failed: Object.values(lhr.audits)
            .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary")
            .map((a) => a.id),
        };
      }
    } finally {
      await chrome.kill();
      await rm(profile, { recursive: true, force: true });
    }
    console.info(`console lighthouse: ${JSON.stringify(scores)}`);
    for (const [screen, s] of Object.entries(scores)) {
      expect(s.a11y, `${screen} accessibility (failed: ${s.failed.join(", ")})`).toBeGreaterThanOrEqual(95);
      expect(s.bp, `${screen} best practices (failed: ${s.failed.join(", ")})`).toBeGreaterThanOrEqual(95);
    }
  }, 120_000);

  it("the canary credential appears in no page or response the browser saw", async () => {
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((body) => body.includes(CANARY))).toEqual([]);
    const config = await fetch(`${url}/console/config?site=blog`, {
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    const text = await config.text();
    expect(text).toContain("remote.password");
    expect(text).not.toContain(CANARY);
  });
});

// --- internal ---

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  context.on("response", (response) => {
    response
      .text()
      .then((body) => seen.push(body))
      .catch(() => undefined);
  });
  return context;
}

async function signIn(role: keyof typeof tokens): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("API token").fill(tokens[role]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return { context, page };
}

async function _sessionCookie(role: keyof typeof tokens): Promise<string> {
  const res = await fetch(`${url}/console/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: tokens[role] }),
  });
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

async function _writeWorkspace(): Promise<void> {
  await mkdir(join(dir, "etc"));
  await makeTestCertificates(join(dir, "etc"), join(dir, "etc", "ca.crt"));
  const remote = join(dir, "remote");
  await mkdir(remote, { recursive: true });
  await writeFile(
    join(remote, "index.html"),
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="/style.css"></head><body><header><nav><ul><li><a href="/">Home</a></li></ul></nav></header>
<main><h1>Welcome</h1><p>Bread, starters and more for home bakers.</p></main><footer>© Shop</footer></body></html>`,
  );
  await writeFile(join(remote, "style.css"), "body { font-family: serif; }\n");
  await writeFile(
    join(dir, "siteloom.yaml"),
    stringify({
      env: ["LLM_KEY"],
      llm: testLlmConfig(llm.url),
      budgets: { maxMonthlyCost: 5 },
      deploy: { parallel: 4 },
      server: { rateLimit: 100_000 },
      profiles: ["development", "staging", "production", "tls"],
      environments: { tls: { server: { tls: { cert: "etc/server.crt", key: "etc/server.key" } } } },
    }),
  );
  await mkdir(join(dir, "sites/shop"), { recursive: true });
  await writeFile(
    join(dir, "sites/shop/site.yaml"),
    stringify({
      name: "Example Shop",
      domain: "shop.example.com",
      remote: { protocol: "local", root: remote },
      content: { minWords: 120, maxWords: 400, review: "required" },
    }),
  );
  await writeFile(join(dir, "sites/shop/topics.csv"), "topic\nBaking bread\nKeeping a starter\nProofing dough\n");
  await mkdir(join(dir, "sites/blog"), { recursive: true });
  await writeFile(
    join(dir, "sites/blog/site.yaml"),
    stringify({ domain: "blog.example.com", remote: { protocol: "sftp", host: "127.0.0.1", password: CANARY } }),
  );
}
