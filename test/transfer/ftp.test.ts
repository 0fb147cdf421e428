import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FtpSrv } from "ftp-srv";
import { describe, expect, it } from "vitest";
import { Secret } from "../../src/secret.ts";
import { createFtpRemote } from "../../src/transfer/index.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";

describe("transfer: ftp stat without listings", () => {
  for (const kind of ["vsftpd-ftp", "pure-ftpd-ftp"] as const) {
    it(`${kind}: stat of a file sends no LIST/MLSD; directories and symlinks still stat right`, async () => {
      const server = await startServer(kind);
      try {
        await writeFile(join(server.rootDir, "page.html"), "12345");
        await symlink("page.html", join(server.rootDir, "alias.html"));
        await server.own(server.rootDir);
        const commands: string[] = [];
        const fs = await _connectLogged(server, commands);
        try {
          await fs.mkdir("sub");
          commands.length = 0;
          const file = await fs.stat("page.html");
          expect(file).toMatchObject({ name: "page.html", type: "file", size: 5 });
          expect(Math.abs((file?.mtime ?? 0) - Date.now())).toBeLessThan(10 * 60_000);
          expect(commands.filter((c) => /^(LIST|MLSD|NLST)/.test(c))).toEqual([]);
          expect(await fs.stat("missing.html")).toBeUndefined();
          expect((await fs.stat("sub"))?.type).toBe("dir");
          const alias = await fs.stat("alias.html");
          // MLST servers report the link itself; SIZE-only servers follow it to the file.
          expect(alias?.size).toBe(kind === "pure-ftpd-ftp" ? 9 : 5);
          if (alias?.type === "symlink") expect(alias.target).toBe("page.html");
        } finally {
          await fs.close();
        }
      } finally {
        await server.stop();
      }
    });
  }
});

describe("transfer: ftp passive modes", () => {
  it("falls back from EPSV to PASV when EPSV is refused", async () => {
    const server = await startServer("vsftpd-ftp");
    const proxy = await startFaultProxy({
      target: { host: server.host, port: server.port },
      ftp: true,
      refuseEpsv: true,
    });
    const commands: string[] = [];
    try {
      const fs = await createFtpRemote({
        host: "127.0.0.1",
        port: proxy.port,
        user: server.user,
        password: new Secret(server.password),
        debug: (line) => {
          if (line.startsWith("> ")) commands.push(line.slice(2));
        },
      });
      await fs.upload(Readable.from([Buffer.from("via pasv")]), "pasv.txt");
      expect((await fs.list("")).map((e) => e.name)).toEqual(["pasv.txt"]);
      await fs.close();
      expect(commands).toContain("EPSV");
      expect(commands).toContain("PASV");
      // the upload's data connection; vsftpd's listing comes over the control connection (STAT)
      expect(proxy.stats.data).toBe(1);
      expect(commands).toContain("STAT -a .");
      expect(await readFile(join(server.rootDir, "pasv.txt"), "utf8")).toBe("via pasv");
    } finally {
      await proxy.close();
      await server.stop();
    }
  });
});

describe("transfer: ftp missing-file replies other than 550", () => {
  it("ftp-srv's 551 ENOENT on RETR reads as missing; a 551 about something else stays an error", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "siteloom-ftpsrv-")));
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const password = randomBytes(12).toString("hex");
    const quiet = { child: () => quiet, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
    const server = new FtpSrv({
      url: `ftp://127.0.0.1:${port}`,
      pasv_url: "127.0.0.1",
      pasv_min: 40000,
      pasv_max: 49999,
      anonymous: false,
      log: quiet as never,
    });
    server.on("login", ({ username, password: given }, accept, reject) => {
      if (username === "t" && given === password) accept({ root });
      else reject(new Error("no"));
    });
    server.on("client-error", () => {});
    await server.listen();
    try {
      await writeFile(join(root, "page.html"), "hello");
      // A folder named like a file: RETR fails with 551 EISDIR, which is not "missing".
      await mkdir(join(root, "dir.html"));
      const fs = await createFtpRemote({ host: "127.0.0.1", port, user: "t", password: new Secret(password) });
      try {
        expect((await fs.read("page.html"))?.toString()).toBe("hello");
        expect(await fs.read("missing.html")).toBeUndefined();
        await expect(fs.read("dir.html")).rejects.toThrow(/551/);
      } finally {
        await fs.close();
      }
      // ftp-srv closes the port asked for behind a RETR as it tears that transfer down: reads and listings one after
      // another on one connection still all succeed (sent again on a fresh port; the session stops asking ahead)
      for (let i = 0; i < 6; i++) await writeFile(join(root, `file-${i}.txt`), `content ${i}`);
      const commands: string[] = [];
      const again = await createFtpRemote({
        host: "127.0.0.1",
        port,
        user: "t",
        password: new Secret(password),
        debug: (line) => {
          if (line.startsWith("> ")) commands.push(line.slice(2));
        },
      });
      try {
        for (let i = 0; i < 6; i++) {
          expect((await again.read(`file-${i}.txt`))?.toString()).toBe(`content ${i}`);
          expect((await again.list("")).map((e) => e.name)).toContain(`file-${i}.txt`);
        }
      } finally {
        await again.close();
      }
      // the first RETR asked for the next port behind itself
      expect(commands.slice(commands.indexOf("RETR /file-0.txt"), commands.indexOf("RETR /file-0.txt") + 2)).toEqual([
        "RETR /file-0.txt",
        "EPSV",
      ]);
    } finally {
      await server.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("transfer: ftp folders in one batch", () => {
  it("vsftpd: each MKD goes out with its CWD, so folders there already need no batch of their own; a missing parent fails", async () => {
    const server = await startServer("vsftpd-ftp");
    try {
      await mkdir(join(server.rootDir, "site/old"), { recursive: true });
      await server.own(server.rootDir);
      const commands: string[] = [];
      const fs = await _connectLogged(server, commands, "/site");
      try {
        commands.length = 0;
        await fs.mkdirMany!(["old", "old/new", "fresh"]);
        // the root and "old" exist (MKD refused, CWD enters): one batch all the same, no second one of CWDs
        expect(commands).toEqual(
          ["/site", "/site/old", "/site/old/new", "/site/fresh"].flatMap((dir) => [`MKD ${dir}`, `CWD ${dir}`]),
        );
        expect((await fs.stat("old/new"))?.type).toBe("dir");
        expect((await fs.stat("fresh"))?.type).toBe("dir");
        await expect(fs.mkdirMany!(["gone/deeper"])).rejects.toThrow(/Create directory operation failed/);
      } finally {
        await fs.close();
      }
    } finally {
      await server.stop();
    }
  });
});

// --- internal ---

/** A session with the test server whose every command sent is pushed onto `commands`. */
function _connectLogged(server: TestServer, commands: string[], root?: string) {
  return createFtpRemote({
    host: server.host,
    port: server.port,
    user: server.user,
    password: new Secret(server.password),
    ...(root !== undefined ? { root } : {}),
    debug: (line) => {
      if (line.startsWith("> ")) commands.push(line.slice(2));
    },
  });
}
