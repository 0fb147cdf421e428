/**
 * A hostile FTP server for attack tests: ftp-srv (a real FTP server implementation, protocol and data connections
 * included) serving a file system the test invents — names no disk can hold, trees without end, files that send
 * more than their listing says, replies full of terminal escape sequences. It counts what it was made to do, so a
 * test can check that the client stayed bounded.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { posix } from "node:path";
import { Readable } from "node:stream";
import { FtpSrv } from "ftp-srv";

/** One entry the server lists. */
export interface HostileEntry {
  name: string;
  type: "file" | "dir" | "symlink";
  /** Size the listing announces. @default 0 */
  size?: number;
  /** Symlink target shown in the listing. */
  target?: string;
}

export interface HostileFtpOptions {
  /** The listing of a folder (its absolute path on the server: "/", "/a/b"); undefined when there is none. */
  list(dir: string): HostileEntry[] | undefined;
  /** The bytes a RETR of `path` sends (whatever the listing said). @default as many "x" as the listing announces */
  read?(path: string): Readable;
  /** Listing lines: Unix `ls -l` lines, or MLSD fact lines (which basic-ftp parses as MLSD). @default "unix" */
  format?: "unix" | "mlsd";
  /** Refuse every login with this text (a 530 reply). */
  loginRefusal?: string;
}

export interface HostileFtp {
  port: number;
  user: string;
  /** The variable holding the password, and its value: pass `env` to runCli. */
  env: Record<string, string>;
  /** A `remote` section for site.yaml. */
  remote: Record<string, unknown>;
  /** What clients made the server do. */
  stats: { listings: number; reads: number; bytesSent: number };
  close(): Promise<void>;
}

export async function startHostileFtp(options: HostileFtpOptions): Promise<HostileFtp> {
  const port = await _freePort();
  const password = randomBytes(12).toString("hex");
  const passwordVar = `SITELOOM_TEST_PW_${randomBytes(4).toString("hex").toUpperCase()}`;
  const stats = { listings: 0, reads: 0, bytesSent: 0 };
  const format = options.format ?? "unix";
  const quiet = { child: () => quiet, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
  const server = new FtpSrv({
    url: `ftp://127.0.0.1:${port}`,
    pasv_url: "127.0.0.1",
    pasv_min: 50000,
    pasv_max: 59999,
    anonymous: false,
    greeting: "hostile test server",
    log: quiet as never,
    file_format: ((stat: _Stat) => _line(stat, format)) as never,
  });
  server.on("login", ({ username, password: given }, accept, reject) => {
    if (options.loginRefusal !== undefined) reject(new Error(options.loginRefusal));
    else if (username === "hostile" && given === password) {
      accept({ fs: new _HostileFs(options, stats) as never, cwd: "/" });
    } else reject(new Error("wrong password"));
  });
  server.on("client-error", () => {});
  await server.listen();
  return {
    port,
    user: "hostile",
    env: { [passwordVar]: password },
    remote: { protocol: "ftp", host: "127.0.0.1", port, user: "hostile", password: `\${${passwordVar}}`, root: "/" },
    stats,
    close: () => server.close(),
  };
}

// --- internal ---

interface _Stat {
  name: string;
  size: number;
  mtime: Date;
  mode: number;
  target?: string | undefined;
  kind: HostileEntry["type"];
  isDirectory(): boolean;
}

/** The ftp-srv file system interface, backed by the test's functions instead of a disk. */
class _HostileFs {
  cwd = "/";
  private readonly options: HostileFtpOptions;
  private readonly stats: HostileFtp["stats"];
  constructor(options: HostileFtpOptions, stats: HostileFtp["stats"]) {
    this.options = options;
    this.stats = stats;
  }

  currentDirectory(): string {
    return this.cwd;
  }

  get(name: string): _Stat {
    const path = this.resolve(name);
    if (path === "/" || this.options.list(path) !== undefined) return _stat(posix.basename(path), "dir", 0);
    // a name with a line break reads as two listing lines: the client may then ask for the first one
    const base = posix.basename(path);
    const entry = this.options
      .list(posix.dirname(path))
      ?.find((e) => e.name === base || e.name.split("\r\n")[0] === base);
    if (entry === undefined) throw new Error("ENOENT: no such file or directory");
    return _stat(entry.name, entry.type, entry.size ?? 0, entry.target);
  }

  list(name = "."): _Stat[] {
    const entries = this.options.list(this.resolve(name));
    if (entries === undefined) throw new Error("ENOENT: no such file or directory");
    this.stats.listings++;
    return entries.map((e) => _stat(e.name, e.type, e.size ?? 0, e.target));
  }

  chdir(name = "."): string {
    const path = this.resolve(name);
    if (path !== "/" && this.options.list(path) === undefined) throw new Error("ENOENT: not a valid directory");
    this.cwd = path;
    return path;
  }

  read(name: string): { stream: Readable; clientPath: string } {
    const path = this.resolve(name);
    this.stats.reads++;
    // by default exactly the bytes the listing announces
    const source = this.options.read?.(path) ?? Readable.from([Buffer.alloc(this.get(name).size, 120)]);
    source.on("data", (chunk: Buffer) => {
      this.stats.bytesSent += chunk.length;
    });
    return { stream: source, clientPath: path };
  }

  write(): never {
    throw new Error("read-only");
  }

  private resolve(name: string): string {
    return posix.resolve(this.cwd, name);
  }
}

function _stat(name: string, kind: HostileEntry["type"], size: number, target?: string): _Stat {
  return {
    name,
    size,
    mtime: new Date(Date.UTC(2024, 0, 15, 12, 0, 0)),
    mode: kind === "dir" ? 0o40755 : 0o100644,
    target,
    kind,
    isDirectory: () => kind === "dir",
  };
}

function _line(stat: _Stat, format: "unix" | "mlsd"): string {
  if (format === "mlsd") {
    const type = stat.kind === "symlink" ? `OS.unix=slink:${stat.target ?? ""}` : stat.kind;
    return `type=${type};size=${stat.size};modify=20240115120000; ${stat.name}`;
  }
  const mode = stat.kind === "dir" ? "drwxr-xr-x" : stat.kind === "symlink" ? "lrwxrwxrwx" : "-rw-r--r--";
  const name = stat.kind === "symlink" ? `${stat.name} -> ${stat.target ?? ""}` : stat.name;
  return `${mode} 1 owner group ${String(stat.size).padStart(12)} Jan 15  2024 ${name}`;
}

async function _freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
