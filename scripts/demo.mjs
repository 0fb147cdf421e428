#!/usr/bin/env node
// `npm run demo`: the README's first command. Runs the whole pipeline on the bundled example site with nothing but
// `npm ci`: an FTP server embedded here (ftp-srv) serves a temporary copy of examples/site/ on 127.0.0.1 with a
// generated password; a temporary workspace made by `siteloom init --example` points the example site at it (the
// password goes through a ${DEMO_FTP_PASSWORD} reference, never into a file); then `siteloom run example` exports
// the live site, generates articles with the offline provider, enriches the site and deploys it back. The offline
// articles are sample drafts; the example's site.yaml sets `enrich.drafts: preview`, so they are rendered as pages
// marked "Draft — sample content" (noindex, kept out of the sitemap and feeds) without anyone editing them.
//
//   npm run demo                  # run, print where the result is, exit
//   npm run demo -- --serve       # ... then keep serving the deployed site on http://127.0.0.1:<port>/ (Ctrl-C stops)
//   npm run demo -- --keep        # keep the temporary folders and print them (removed at exit otherwise)
//   npm run demo -- --no-build    # use the existing dist/ build
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
// SITELOOM_TEST_BIN: another build (tests use each developer's own dist-<name>/); it is not rebuilt here.
const CLI = process.env.SITELOOM_TEST_BIN
  ? resolve(process.env.SITELOOM_TEST_BIN)
  : join(ROOT, "dist", "cli", "main.js");
/** Content types of the demo's static server (defined before the top-level code that uses it runs). */
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css",
  ".xml": "application/xml",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".json": "application/json",
};

const args = new Set(process.argv.slice(2));
const serve = args.has("--serve");
const keep = args.has("--keep");

if (args.has("--help") || args.has("-h")) {
  process.stdout.write(
    "usage: npm run demo [-- --serve] [-- --keep] [-- --no-build]\n" +
      "Runs export → generate (offline) → enrich → deploy on the bundled example site, against an FTP server on 127.0.0.1.\n",
  );
  process.exit(0);
}

const say = (line) => process.stdout.write(`${line}\n`);
const step = (line) => say(`\n\u25b6 ${line}`);

let ftp;
let http;
let tmp;
try {
  if (!process.env.SITELOOM_TEST_BIN && (!args.has("--no-build") || !existsSync(CLI))) {
    step("building siteloom (npm run build)");
    await run("npm", ["run", "build", "--silent"], { quiet: true });
  }
  tmp = await realpath(await mkdtemp(join(tmpdir(), "siteloom-demo-")));
  const live = join(tmp, "ftp-root");
  const workspace = join(tmp, "workspace");
  await cp(join(ROOT, "examples", "site"), live, { recursive: true });

  step("starting an FTP server on 127.0.0.1 serving a copy of examples/site/");
  const password = randomBytes(18).toString("base64url");
  ftp = await startFtp(live, "demo", password);
  say(`  ftp://demo@127.0.0.1:${ftp.port}/  →  ${live}`);

  step(`creating a workspace from the example: siteloom init ${workspace} --example`);
  await run(process.execPath, [CLI, "init", workspace, "--example"], { quiet: true });
  await pointSiteAt(join(workspace, "sites", "example", "site.yaml"), ftp.port);
  await allowVariable(join(workspace, "siteloom.yaml"), "DEMO_FTP_PASSWORD");
  say(
    "  sites/example/site.yaml → remote: { protocol: ftp, host: 127.0.0.1, user: demo, password: ${DEMO_FTP_PASSWORD} }",
  );

  const before = await snapshot(live);
  const siteloom = async (...argv) => {
    const code = await run(process.execPath, [CLI, "--workspace", workspace, ...argv], {
      env: { DEMO_FTP_PASSWORD: password },
    });
    if (code !== 0) throw new Error(`siteloom ${argv.join(" ")} exited with code ${code}`);
  };
  step("siteloom run example   (export → generate → enrich → deploy)");
  await siteloom("run", "example");

  const after = await snapshot(live);
  const added = [...after.keys()].filter((p) => !before.has(p)).sort();
  const changed = [...after.keys()].filter((p) => before.has(p) && before.get(p) !== after.get(p)).sort();
  step("result on the FTP server");
  say(`  ${added.length} file(s) added, ${changed.length} changed, ${before.size - changed.length} untouched`);
  // the blog index and the article pages first, then the rest (category and tag pages, the drafts list, feeds)
  const pages = added.filter(
    (p) => p === "blog/index.html" || (/^blog\/[^/]+\/index\.html$/.test(p) && p !== "blog/drafts/index.html"),
  );
  for (const p of [...pages, ...added.filter((p) => !pages.includes(p))]) {
    say(`  + ${p}${p.startsWith(".siteloom/") ? "   (what siteloom deployed, for the next deploy; not served)" : ""}`);
  }
  for (const p of changed) say(`  ~ ${p}`);
  // only folders that outlive this script are pointed at
  if (keep) {
    say(`  the deployed site: ${live}`);
    say(`  the workspace:     ${workspace}   (try: node ${relative(ROOT, CLI)} --workspace ${workspace} runs)`);
  }

  if (serve) {
    http = await startHttp(live);
    step(`serving the deployed site at http://127.0.0.1:${http.port}/  (blog: /blog/)  — Ctrl-C to stop`);
    await new Promise((resolveStop) => {
      process.once("SIGINT", resolveStop);
      process.once("SIGTERM", resolveStop);
    });
  } else if (keep) {
    say(`\nTo browse it: python3 -m http.server -d ${live}`);
    say(`The folders stay until you remove them: rm -rf ${tmp}`);
  } else {
    say("\nTo browse it: npm run demo -- --serve");
    say("To keep the workspace and the deployed site (and see where they are): npm run demo -- --keep");
  }
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  http?.server.close();
  await ftp?.server.close().catch(() => {});
  if (tmp && !keep) await rm(tmp, { recursive: true, force: true });
  // ftp-srv, once closed, still holds the passive listeners of ports asked for behind a download (siteloom pipelines
  // the next EPSV after a RETR) and the paused data sockets it never read: the CLI has exited by now, so the demo ends
  // itself instead of waiting for them
  setTimeout(() => process.exit(), 1000).unref();
}

// --- internal ---

/**
 * Runs a command; resolves its exit code. `quiet` keeps its output (shown only when it fails). The FTP server lives
 * in this process, so never block with spawnSync.
 */
function run(command, argv, { env = {}, quiet = false } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, argv, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let output = "";
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (quiet && code !== 0) {
        process.stderr.write(output);
        reject(new Error(`${command} ${argv.join(" ")} exited with ${code ?? signal}`));
      } else resolveRun(code ?? 1);
    });
  });
}

async function freePort() {
  const server = createNetServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function startFtp(root, user, password) {
  const { FtpSrv } = await import("ftp-srv");
  const port = await freePort();
  const quietLog = {
    child: () => quietLog,
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error() {},
    fatal() {},
  };
  const server = new FtpSrv({
    url: `ftp://127.0.0.1:${port}`,
    pasv_url: "127.0.0.1",
    pasv_min: 40000,
    pasv_max: 49999,
    anonymous: false,
    greeting: "siteloom demo",
    log: quietLog,
  });
  server.on("login", ({ username, password: given }, accept, refuse) => {
    if (username === user && given === password) accept({ root });
    else refuse(new Error("invalid user or password"));
  });
  // ftp-srv reports client socket errors (a closed data connection) as events; they are not fatal here.
  server.on("client-error", () => {});
  await server.listen();
  return { server, port };
}

// ${NAME} references read only the variables the workspace lists under env:
async function allowVariable(workspaceFile, name) {
  const doc = parseDocument(await readFile(workspaceFile, "utf8"));
  doc.set("env", [name]);
  await writeFile(workspaceFile, doc.toString());
}

async function pointSiteAt(siteFile, port) {
  const doc = parseDocument(await readFile(siteFile, "utf8"));
  doc.set("remote", {
    protocol: "ftp",
    host: "127.0.0.1",
    port,
    user: "demo",
    // a reference resolved at use; the password itself is only in this process's memory and the child's environment
    password: "${DEMO_FTP_PASSWORD}",
    root: "/",
  });
  doc.setIn(["deploy", "parallel"], 2);
  await writeFile(siteFile, doc.toString());
}

/** path → size:mtime-free content fingerprint (the bytes), to tell added, changed and untouched files apart. */
async function snapshot(dir) {
  const out = new Map();
  const walk = async (d) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile())
        out.set(relative(dir, full).split(sep).join("/"), (await readFile(full)).toString("base64"));
    }
  };
  await walk(dir);
  return out;
}

async function startHttp(root) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    let file = join(root, path);
    if (!file.startsWith(root)) return res.writeHead(403).end();
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      await stat(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: server.address().port };
}
