/**
 * A real, throwaway WordPress for tests: Debian's `wordpress` package served by Debian's Apache with mod_php over
 * HTTPS (a CA generated at run time) and backed by a private MariaDB (own datadir, socket and port), all on loopback
 * and free ports inside one temp folder. Installed by `scripts/setup-wordpress.sh`.
 *
 * ```ts
 * const wp = await startWordpress();              // ~6-10 s: install-db, mariadbd, apache2, wp_install
 * wp.url;  wp.caFile;  wp.admin.user;  wp.admin.appPassword   // every credential made at run time
 * await wp.rest("GET", "/wp/v2/posts?status=any");            // authenticated REST call (admin app password)
 * const mark = await wp.accessLog();  ...;  (await wp.accessLog()).slice(mark.length)   // requests Apache served
 * await wp.stopWeb(); await wp.startWeb();        // Apache down/up (the database keeps running)
 * await wp.stop();                                // everything, folder removed
 * ```
 *
 * Debian wraps WordPress's configuration in /etc/wordpress/config-<host>.php; the harness never touches /etc: it
 * builds a private tree of hard links to /usr/share/wordpress (a copy when /tmp is another file system) with its
 * own wp-config.php and wp-content/ (the theme packages linked in), so several instances run side by side.
 * It starts slowly (mariadb-install-db dominates): start it once per test file.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, cp, link, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import {
  createServerDirs,
  freePort,
  recordPid,
  removeDir,
  run,
  spawnServer,
  startWatchdog,
  stopChild,
  waitForPort,
} from "./servers/common.ts";
import { makeTestCertificates } from "./tls.ts";

/** Where Debian's `wordpress` package puts WordPress. */
export const WORDPRESS_DIR = process.env.SITELOOM_WORDPRESS_DIR ?? "/usr/share/wordpress";

export interface StartWordpressOptions {
  /** Site title. @default "siteloom test" */
  title?: string;
  /** Theme (folder under wp-content/themes of the Debian packages) to activate. @default "twentytwentythree" */
  theme?: string;
  /** Extra PHP run once after the install with WordPress loaded (e.g. to add posts or options). */
  afterInstallPhp?: string;
}

/** One request Apache served (from its access log). */
export interface AccessEntry {
  method: string;
  /** Path and query. */
  path: string;
  status: number;
}

export interface WordpressServer {
  /** `https://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  /** PEM file of the CA that signed the server certificate (pass as NODE_EXTRA_CA_CERTS or `wordpress.caFile`). */
  caFile: string;
  /** The administrator made by the installer; all values random per run. */
  admin: { id: number; user: string; password: string; appPassword: string };
  /** The private WordPress tree (ABSPATH). */
  root: string;
  /** The instance's temp folder. */
  dir: string;
  /** Authenticated REST call (`path` below /wp-json, e.g. `/wp/v2/posts`); JSON in and out. */
  rest(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; json: unknown }>;
  /** GET of any URL of the site (anonymous), following no redirect. */
  get(pathOrUrl: string): Promise<{ status: number; body: string; headers: Headers }>;
  /** Runs PHP with WordPress loaded (as the command line); returns stdout. Input is given as `$input` (JSON). */
  php(code: string, input?: unknown): Promise<string>;
  /** Every request Apache served since start, oldest first. */
  accessLog(): Promise<AccessEntry[]>;
  /** Stops Apache only (requests then fail with connection refused). */
  stopWeb(): Promise<void>;
  /** Starts Apache again on the same port. */
  startWeb(): Promise<void>;
  /** Stops everything and removes the folder. */
  stop(): Promise<void>;
}

/** Starts MariaDB, installs WordPress into it, starts Apache with PHP over HTTPS, creates an application password. */
export async function startWordpress(options: StartWordpressOptions = {}): Promise<WordpressServer> {
  const dirs = await createServerDirs("wordpress");
  const base = dirs.base;
  const runDir = join(base, "run");
  const logs = join(base, "logs");
  const dataDir = join(base, "db");
  const root = join(base, "www");
  await Promise.all([mkdir(runDir, { mode: 0o755 }), mkdir(logs, { mode: 0o755 })]);
  const isRoot = process.getuid?.() === 0;
  const watchdogs = [startWatchdog({ pid: () => undefined, user: "", dir: base })];

  // --- MariaDB: a throwaway datadir, our own socket and loopback port
  const socket = join(runDir, "mysqld.sock");
  const dbPort = await freePort();
  const dbUser = isRoot ? "root" : (process.env.USER ?? "root");
  await run("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--user=${dbUser}`,
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    "--skip-name-resolve",
  ]);
  const db = spawnServer("mariadbd", [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--socket=${socket}`,
    `--port=${dbPort}`,
    "--bind-address=127.0.0.1",
    `--pid-file=${join(runDir, "mysqld.pid")}`,
    `--user=${dbUser}`,
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=0",
    "--skip-innodb-doublewrite",
    "--performance-schema=OFF",
    `--log-error=${join(logs, "mysqld.err")}`,
  ]);
  // the database's pid file lives beside the folder, not in it: the folder's watchdog may remove it first
  watchdogs.push(startWatchdog({ pid: () => db.child.pid, user: "", dir: `${base}-db` }));
  await recordPid(`${base}-db`, db.child.pid);
  await waitForPort(dbPort, db.child, db.output, 60_000).catch(async (error) => {
    const log = await readFile(join(logs, "mysqld.err"), "utf8").catch(() => "");
    throw new Error(`${String(error)}\n${log.slice(-2000)}`);
  });
  const dbPassword = randomBytes(18).toString("base64url");
  await _sql(socket, dbUser, [
    "CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
    `CREATE USER 'wp'@'localhost' IDENTIFIED BY '${dbPassword}';`,
    "GRANT ALL ON wordpress.* TO 'wp'@'localhost';",
  ]);

  // --- TLS: a CA made now, and a server certificate for 127.0.0.1 signed by it
  const etc = dirs.etc;
  const caFile = join(base, "ca.pem");
  await makeTestCertificates(etc, caFile);

  // --- WordPress: a private tree of Debian's files with our own wp-config.php and wp-content/
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  await _linkTree(WORDPRESS_DIR, root);
  await rm(join(root, "wp-config.php"), { force: true });
  await rm(join(root, "wp-content"), { recursive: true, force: true });
  const content = join(root, "wp-content");
  await mkdir(join(content, "themes"), { recursive: true });
  await mkdir(join(content, "plugins"), { recursive: true });
  await mkdir(join(content, "uploads"), { recursive: true });
  const themesDir = join(WORDPRESS_DIR, "wp-content", "themes");
  for (const theme of await readdir(themesDir).catch(() => [] as string[])) {
    await symlink(join(themesDir, theme), join(content, "themes", theme));
  }
  await writeFile(join(root, "wp-config.php"), _wpConfig({ url, socket, dbPassword, root }), { mode: 0o644 });
  if (isRoot) {
    // Apache's children run as www-data: they write uploads and read the config.
    const { stdout } = await run("id", ["-u", "www-data"]);
    const { stdout: gid } = await run("id", ["-g", "www-data"]);
    await chown(join(content, "uploads"), Number(stdout.trim()), Number(gid.trim()));
  }

  const php = async (code: string, input: unknown = null, prelude = ""): Promise<string> => {
    const script = join(etc, `php-${randomBytes(6).toString("hex")}.php`);
    await writeFile(
      script,
      `<?php\n$input = json_decode(stream_get_contents(STDIN), true);\n$_SERVER['HTTP_HOST'] = '127.0.0.1:${port}';\n$_SERVER['HTTPS'] = 'on';\n${prelude}\nrequire '${root}/wp-load.php';\n${code}\n`,
    );
    try {
      return await _runWithInput("php", [script], JSON.stringify(input));
    } finally {
      await rm(script, { force: true });
    }
  };

  // --- install: WordPress's own wp_install() from the command line, then an application password
  const admin = {
    id: 0,
    user: `admin${randomBytes(3).toString("hex")}`,
    password: randomBytes(18).toString("base64url"),
    appPassword: "",
  };
  const installed = JSON.parse(
    await php(
      // wp_install() and create_new_application_password() are WordPress's own functions (wp-cli is not in Debian)
      `require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$r = wp_install($input['title'], $input['user'], 'admin@example.test', false, '', wp_slash($input['password']));
update_option('permalink_structure', '/%postname%/');
if ($input['theme'] && wp_get_theme($input['theme'])->exists()) switch_theme($input['theme']);
$app = WP_Application_Passwords::create_new_application_password($r['user_id'], ['name' => 'siteloom-test']);
echo json_encode(['id' => $r['user_id'], 'appPassword' => $app[0]]);`,
      {
        title: options.title ?? "siteloom test",
        user: admin.user,
        password: admin.password,
        theme: options.theme ?? "twentytwentythree",
      },
      // the installer's welcome mail has nowhere to go
      "define('WP_INSTALLING', true);\nfunction wp_new_blog_notification() {}",
    ).then(_lastLine),
  ) as { id: number; appPassword: string };
  admin.id = installed.id;
  admin.appPassword = installed.appPassword;
  if (options.afterInstallPhp) await php(options.afterInstallPhp);

  // --- Apache with mod_php, our own configuration (never the system one)
  const confFile = join(etc, "apache2.conf");
  await writeFile(confFile, await _apacheConfig({ port, root, etc, runDir, logs, isRoot }));
  let web: ReturnType<typeof spawnServer> | undefined;
  const startWeb = async () => {
    // its own process group: prefork's shutdown signals its whole group, which would otherwise include us
    web = _spawnDetached("/usr/sbin/apache2", ["-f", confFile, "-DFOREGROUND"]);
    await recordPid(base, web.child.pid);
    await waitForPort(port, web.child, web.output, 30_000);
  };
  const stopWeb = async () => {
    if (web) await stopChild(web.child, 5_000);
    web = undefined;
  };
  await startWeb();

  const ca = await readFile(caFile, "utf8");
  const agent = new Agent({ connect: { ca } });
  const auth = `Basic ${Buffer.from(`${admin.user}:${admin.appPassword}`).toString("base64")}`;
  const server: WordpressServer = {
    url,
    caFile,
    admin,
    root,
    dir: base,
    async rest(method, path, body) {
      const res = await request(`${url}/wp-json${path}`, {
        method: method as "GET",
        dispatcher: agent,
        headers: { authorization: auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: _headers(res.headers), json: text ? JSON.parse(text) : undefined };
    },
    async get(pathOrUrl) {
      const res = await request(pathOrUrl.startsWith("http") ? pathOrUrl : `${url}${pathOrUrl}`, { dispatcher: agent });
      return { status: res.statusCode, body: await res.body.text(), headers: _headers(res.headers) };
    },
    php,
    async accessLog() {
      const text = await readFile(join(logs, "access.log"), "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const m = /^"(\S+) (\S+)[^"]*" (\d+)$/.exec(line);
          return { method: m?.[1] ?? "", path: m?.[2] ?? "", status: Number(m?.[3] ?? 0) };
        });
    },
    stopWeb,
    startWeb,
    async stop() {
      await agent.close().catch(() => undefined);
      await stopWeb();
      await stopChild(db.child, 10_000);
      for (const w of watchdogs) w.cancel();
      await removeDir(base);
      await rm(`${base}.pid`, { force: true });
      await rm(`${base}-db.pid`, { force: true });
    },
  };
  return server;
}

/**
 * Writes `sites/<name>/` of a workspace for a site publishing to this WordPress: site.yaml (the password as the
 * reference `${WP_APP_PASSWORD}`, the CA as `caFile`; `wordpress` overrides), a home page in export/ and export/img/.
 */
export async function writePublishingSite(
  wp: WordpressServer,
  siteDir: string,
  wordpress: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const { stringify } = await import("yaml");
  await mkdir(join(siteDir, "export", "img"), { recursive: true });
  await writeFile(
    join(siteDir, "site.yaml"),
    stringify({
      domain: "shop.example.com",
      content: { minWords: 120, maxWords: 300 },
      wordpress: {
        url: wp.url,
        user: wp.admin.user,
        appPassword: "${WP_APP_PASSWORD}",
        caFile: wp.caFile,
        ...wordpress,
      },
      ...extra,
    }),
  );
  await writeFile(
    join(siteDir, "export", "index.html"),
    "<!doctype html><html><body><main><p>Home</p></main></body></html>",
  );
}

/** Counts the requests that change something (anything but GET/HEAD/OPTIONS). */
export function countWrites(entries: readonly AccessEntry[]): number {
  return entries.filter((e) => !["GET", "HEAD", "OPTIONS"].includes(e.method)).length;
}

// --- internal ---

function _spawnDetached(command: string, args: string[]): ReturnType<typeof spawnServer> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  const collect = (d: Buffer) => {
    out = (out + d.toString()).slice(-10_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  child.on("error", (error) => {
    out += String(error);
  });
  return { child, output: () => out };
}

async function _sql(socket: string, user: string, statements: string[]): Promise<void> {
  // SQL (with the database password) goes on stdin, never on the command line
  await _runWithInput("mariadb", ["--no-defaults", `--socket=${socket}`, `--user=${user}`], statements.join("\n"));
}

async function _runWithInput(command: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${command} exited ${code}: ${err.slice(-2000)}${out.slice(-2000)}`)),
    );
    child.stdin.end(input);
  });
}

function _lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}

function _headers(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else if (v !== undefined) headers.set(k, v);
  }
  return headers;
}

/** Hard links when /tmp shares the file system with /usr (fast, no space), else a copy. */
async function _linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.name === "wp-content") continue;
    if (entry.isDirectory()) await _linkTree(src, dst);
    else if (entry.isSymbolicLink()) await cp(src, dst, { dereference: false, verbatimSymlinks: true });
    else await link(src, dst).catch(() => cp(src, dst));
  }
}

function _wpConfig(o: { url: string; socket: string; dbPassword: string; root: string }): string {
  const salts = [
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
  ]
    .map((name) => `define('${name}', '${randomBytes(32).toString("base64url")}');`)
    .join("\n");
  return `<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wp');
define('DB_PASSWORD', '${o.dbPassword}');
define('DB_HOST', 'localhost:${o.socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
${salts}
$table_prefix = 'wp_';
define('WP_HOME', '${o.url}');
define('WP_SITEURL', '${o.url}');
define('WP_CONTENT_DIR', '${o.root}/wp-content');
define('WP_CONTENT_URL', '${o.url}/wp-content');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('WP_DEBUG', false);
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
`;
}

async function _apacheConfig(o: {
  port: number;
  root: string;
  etc: string;
  runDir: string;
  logs: string;
  isRoot: boolean;
}): Promise<string> {
  const modules = "/usr/lib/apache2/modules";
  const php = (await readdir(modules)).find((f) => /^libphp[\d.]*\.so$/.test(f));
  if (!php) throw new Error(`no libphp*.so in ${modules}: run scripts/setup-wordpress.sh`);
  const load = ["mpm_prefork", "authz_core", "dir", "mime", "ssl", "socache_shmcb", "setenvif"]
    .map((m) => `LoadModule ${m}_module ${modules}/mod_${m}.so`)
    .join("\n");
  return `ServerRoot "${o.etc}"
ServerName 127.0.0.1
Listen 127.0.0.1:${o.port}
PidFile ${o.runDir}/apache2.pid
DefaultRuntimeDir ${o.runDir}
Mutex file:${o.runDir} default
${load}
LoadModule php_module ${modules}/${php}
${o.isRoot ? "User www-data\nGroup www-data" : ""}
StartServers 2
MinSpareServers 2
MaxSpareServers 6
MaxRequestWorkers 10
KeepAlive On
Timeout 30
ErrorLog ${o.logs}/error.log
LogLevel warn
LogFormat "\\"%r\\" %>s" siteloom
CustomLog ${o.logs}/access.log siteloom
TypesConfig /etc/mime.types
DocumentRoot "${o.root}"
SSLEngine on
SSLCertificateFile ${o.etc}/server.crt
SSLCertificateKeyFile ${o.etc}/server.key
SSLSessionCache shmcb:${o.runDir}/ssl_scache(512000)
<Directory />
  Require all denied
  AllowOverride None
</Directory>
<Directory "${o.root}">
  Require all granted
  Options FollowSymLinks
  DirectoryIndex index.php
  FallbackResource /index.php
</Directory>
<FilesMatch "\\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
php_admin_value upload_max_filesize 32M
php_admin_value post_max_size 32M
php_admin_flag display_errors off
`;
}
