import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where `scripts/setup-test-servers.sh` unpacks pure-ftpd. */
export const PURE_FTPD_DIR = process.env.SITELOOM_PURE_FTPD_DIR ?? "/opt/siteloom-test-servers/pure-ftpd";
export const PROFTPD_DIR = process.env.SITELOOM_PROFTPD_DIR ?? "/opt/siteloom-test-servers/proftpd";

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small window before the server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A random passive port range of `count` ports; vsftpd/pure-ftpd skip ports that happen to be busy. */
export function passiveRange(count = 40): [number, number] {
  const start = 30_000 + Math.floor(Math.random() * 25_000);
  return [start, start + count - 1];
}

/** A random password with letters, digits and a few punctuation characters FTP servers accept. */
export function randomPassword(): string {
  return `${randomBytes(12).toString("base64url")}-Aa1`;
}

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  password: string;
  remove(): Promise<void>;
}

/**
 * A real system user with a random password: vsftpd logs in through PAM and sshd refuses root. The home is set to
 * `home`, which the caller creates. Users are named `slt` + hex so leftovers are recognisable.
 */
export async function createSystemUser(home: string): Promise<TestUser> {
  const name = `slt${randomBytes(5).toString("hex")}`;
  const password = randomPassword();
  await run("useradd", ["-M", "-d", home, "-s", "/bin/sh", name]);
  await new Promise<void>((resolve, reject) => {
    const child = spawn("chpasswd", [], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd failed: ${stderr}`))));
    child.stdin.end(`${name}:${password}\n`);
  });
  const { stdout } = await run("id", ["-u", name]);
  const { stdout: gidOut } = await run("id", ["-g", name]);
  return {
    name,
    uid: Number(stdout.trim()),
    gid: Number(gidOut.trim()),
    password,
    async remove() {
      await run("userdel", [name]).catch(() => undefined);
    },
  };
}

export interface ServerDirs {
  /** Everything of this server instance (mode 0755 so the test user can reach its home). */
  base: string;
  /** Configuration, certificates, keys, logs (root only). */
  etc: string;
  /** The user's home / FTP root: the bytes that land on the server. */
  root: string;
}

/** Gives `path` itself (not its contents) to `uid:gid`. */
export async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
}

/** Creates the per-instance folders under the system temp dir. */
export async function createServerDirs(prefix: string): Promise<ServerDirs> {
  const base = await mkdtemp(join("/tmp", `siteloom-${prefix}-`));
  await chmod(base, 0o755);
  const etc = join(base, "etc");
  const root = join(base, "root");
  await mkdir(etc, { mode: 0o700 });
  await mkdir(root, { mode: 0o755 });
  return { base, etc, root };
}

export interface TlsMaterial {
  certFile: string;
  keyFile: string;
  /** Key and certificate in one PEM (pure-ftpd). */
  pemFile: string;
  /** SHA-256 fingerprint as `AB:CD:...`. */
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1/localhost (CA:TRUE, so it can serve as its own `caFile`). */
export async function createSelfSignedCert(dir: string): Promise<TlsMaterial> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const pemFile = join(dir, "combined.pem");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  await writeFile(pemFile, key + cert, { mode: 0o600 });
  const { stdout } = await run("openssl", ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"]);
  const fingerprint = stdout.trim().split("=")[1] ?? "";
  return { certFile, keyFile, pemFile, fingerprint };
}

/** Waits until `port` answers with a line starting with `greeting` (e.g. "220", "SSH-"). */
export async function waitForGreeting(
  port: number,
  greeting: string,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    try {
      const line = await _readFirstLine(port);
      if (line.startsWith(greeting)) return;
      lastError = `unexpected greeting ${JSON.stringify(line)}`;
    } catch (error) {
      lastError = String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on port ${port} did not start: ${lastError}; output: ${output()}`);
}

/** Waits until something accepts TCP connections on `port` (servers that speak TLS first). */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on port ${port} did not start; output: ${output()}`);
}

/** Spawns a server in the foreground and collects its output (for error messages). */
export function spawnServer(command: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });

  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
    if (out.length > 20_000) out = out.slice(-10_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  child.on("error", (error) => {
    out += String(error);
  });
  return { child, output: () => out };
}

/** Stops a child: SIGTERM, then SIGKILL after a grace period. Resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/**
 * Safety net for a test run that dies or hangs before `stop()` (vitest kills its workers with a signal, so no exit
 * handler runs): a detached shell polls this process and, once it is gone, kills the server, deletes the user and
 * the folder. `cancel()` ends the watchdog after a normal stop.
 */
export function startWatchdog(target: { pid: () => number | undefined; user: string; dir: string }): {
  cancel(): void;
} {
  const pidFile = `${target.dir}.pid`;
  // pids wrap quickly on a test machine (pid_max is 32768 here): kill the recorded pid only while it still is the
  // process recorded (same start time), never whatever process was given that number since (a vitest worker once)
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done`,
    `if [ -f "${pidFile}" ]; then set -- $(cat "${pidFile}"); ` +
      `[ -n "$2" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)" = "$2" ] && kill -9 "$1" 2>/dev/null; fi`,
    `userdel "${target.user}" 2>/dev/null`,
    `rm -rf "${target.dir}" "${pidFile}"`,
  ].join("; ");
  const watchdog = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return {
    cancel() {
      watchdog.kill("SIGKILL");
    },
  };
}

/**
 * Records the server's current pid and its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) for
 * the watchdog (servers restart with a new pid).
 */
export async function recordPid(dir: string, pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // the fields after the command name, which is in parentheses and may hold spaces: starttime is the 20th of them
  const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  await writeFile(`${dir}.pid`, `${pid} ${startTime}`);
}

export { run };

// --- internal ---

function _readFirstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no greeting"));
    }, 2_000);
    socket.on("data", (d) => {
      data += d.toString("latin1");
      if (data.includes("\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.split(/\r?\n/)[0] ?? "");
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
