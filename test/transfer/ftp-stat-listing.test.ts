// Listings over the control connection (STAT) on the real servers: the export is the same as with listings over
// data connections (the fallback, forced by a proxy that turns every STAT listing into a 500), names that could end
// the reply early cut no listing short, a name with a bare LF adds no entry, and an oversize reply is refused while it comes.
import { lstat, mkdir, readlink, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportSchema } from "../../src/config/schema.ts";
import { Secret } from "../../src/secret.ts";
import { createRemoteConnector } from "../../src/transfer/connect.ts";
import {
  createFtpRemote,
  createRemotePool,
  type ExportResult,
  runExport,
  type UnsafeEntry,
} from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot } from "./helpers/trees.ts";

describe.each(["vsftpd-ftp", "proftpd-ftp", "pure-ftpd-ftp"] as const)(
  "transfer: ftp listings by STAT on %s",
  (kind) => {
    let server: TestServer;
    let proxy: FaultProxy;
    beforeAll(async () => {
      server = await startServer(kind);
      proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
      await writeTree(server.rootDir);
      await server.own(server.rootDir);
    });
    afterAll(async () => {
      await proxy?.close();
      await server?.stop();
    });

    const exportVia = (exportDir: string, unsafe: UnsafeEntry[] = []) =>
      exportThrough(server, proxy, { exportDir, unsafe, size: 2 });

    it("hidden files, spaces, unicode, empty folders, symlinks: the same export as over data connections", async () => {
      const dir = await useTempDir("siteloom-stat-");
      const viaStat = join(dir, "stat");
      const viaData = join(dir, "data");
      const statResult = await exportVia(viaStat);
      const noStat = refuseStat();
      proxy.rewriteControl = noStat.rewrite;
      let dataResult: ExportResult;
      try {
        dataResult = await exportVia(viaData);
      } finally {
        proxy.rewriteControl = undefined;
      }
      // only vsftpd is listed with STAT (ProFTPD and pure-ftpd have MLSD)
      expect(noStat.refused > 0).toBe(kind === "vsftpd-ftp");
      expect(statResult.failures).toEqual([]);
      expect(dataResult.failures).toEqual([]);
      expect(await snapshot(viaStat)).toEqual(await snapshot(viaData));
      expect(sorted(statResult.downloaded)).toEqual(sorted(dataResult.downloaded));
      expect(sortedSkips(statResult)).toEqual(sortedSkips(dataResult));
      const files = Object.keys((await snapshot(viaStat)).files);
      expect(files).toEqual(
        expect.arrayContaining([".htaccess", "about us.html", "ünï/página.html", "a/b/c/deep.txt", "-dash/x [1].txt"]),
      );
      expect((await snapshot(viaStat)).dirs).toEqual(expect.arrayContaining(["empty", "ünï", "a/b/c"]));
      expect(sortedSkips(statResult).map((s) => s.path)).toEqual(expect.arrayContaining(["link.html", "linkdir"]));
      for (const name of ["index.html", "a/b/c/deep.txt"]) {
        const local = await stat(join(viaStat, name));
        expect(local.mtimeMs).toBe((await stat(join(viaData, name))).mtimeMs);
      }
      // a no-op export again: on vsftpd it opens no data connection at all (every folder listed by STAT)
      const before = proxy.stats.data;
      const again = await exportVia(viaStat);
      expect(again.stats.downloaded).toBe(0);
      expect(proxy.stats.data - before > 0).toBe(kind !== "vsftpd-ftp");
    });
  },
);

describe("transfer: STAT listings against names and replies that could end them early (vsftpd)", () => {
  let server: TestServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  const exportVia = (exportDir: string, unsafe: UnsafeEntry[] = []) =>
    exportThrough(server, proxy, { exportDir, unsafe, size: 1 });
  /** One FTP session with the server through the proxy. */
  const openRemote = (
    options: Pick<Parameters<typeof createFtpRemote>[0], "onUnsafe" | "debug" | "root" | "backupRoot">,
  ) =>
    createFtpRemote({
      host: "127.0.0.1",
      port: proxy.port,
      user: server.user,
      password: new Secret(server.password),
      ...options,
    });

  it("a name or link target holding CR LF and fake replies cuts no listing short: the export of a data connection", async () => {
    const root = server.rootDir;
    await mkdir(join(root, "sub"), { recursive: true });
    await writeFile(join(root, "a.txt"), "a");
    // vsftpd sends names as they are: these end the STAT reply early and forge the replies that follow
    await writeFile(join(root, "b\r\n213 End of status\r\n250 ok\r\n213-Status follows:"), "b");
    await writeFile(join(root, "c\r\n-rw-r--r--    1 0 0 3 Jan 01 00:00 smuggled.txt"), "c");
    const help = "214-The following commands are recognized.\r\n ABOR\r\n214 Help OK.\r\n".repeat(20);
    await symlink(`x\r\n213 End of status\r\n${help}200 NOOP ok.`, join(root, "d-link"));
    await writeFile(join(root, "z.txt"), "z");
    await writeFile(join(root, "sub/inner.txt"), "i");
    await server.own(root);
    const dir = await useTempDir("siteloom-stat-crlf-");
    const unsafe: UnsafeEntry[] = [];
    const result = await exportVia(join(dir, "stat"), unsafe);
    const noStat = refuseStat();
    proxy.rewriteControl = noStat.rewrite;
    let dataResult: ExportResult;
    try {
      dataResult = await exportVia(join(dir, "data"));
    } finally {
      proxy.rewriteControl = undefined;
    }
    // the parts of those names after CR LF read as entries of their own, as over a data connection (where LIST
    // lines end at CR LF as well): their downloads fail, and that is all
    const paths = (r: ExportResult) => r.failures.map((f) => f.path).sort();
    expect(paths(result)).toEqual(paths(dataResult));
    const files = Object.keys((await snapshot(join(dir, "stat"))).files).sort();
    expect(files).toEqual(["a.txt", "sub/inner.txt", "z.txt"]);
    expect(await snapshot(join(dir, "stat"))).toEqual(await snapshot(join(dir, "data")));
    expect(sortedSkips(result)).toEqual(sortedSkips(dataResult));
    expect(unsafe.length).toBeGreaterThan(0);
    // the tail of the CR LF name "c" is read as an entry "smuggled.txt" (over a data connection too): its download
    // fails, as above; a fragment that looks like a whole ls line is not told apart yet
    expect(paths(result)).toContain("smuggled.txt");
  });

  it("a name holding a bare LF whose tail looks like a listing line adds no entry: it is reported, not listed", async () => {
    await mkdir(join(server.rootDir, "lf"), { recursive: true });
    await writeFile(join(server.rootDir, "lf/kept.txt"), "k");
    await writeFile(join(server.rootDir, "lf/e\n-rw-r--r--    1 0 0 3 Jan 01 00:00 lf-smuggled.txt"), "e");
    await server.own(server.rootDir);
    const unsafe: UnsafeEntry[] = [];
    const fs = await openRemote({ onUnsafe: (entry) => unsafe.push(entry) });
    try {
      const { data } = proxy.stats;
      const names = (await fs.list("lf")).map((entry) => entry.name);
      expect(proxy.stats.data).toBe(data);
      expect(names).toEqual(["kept.txt"]);
      expect(unsafe).toEqual([expect.objectContaining({ dir: "lf", reason: "a line feed inside a name" })]);
    } finally {
      await fs.close();
    }
  });

  it("the site and the backup root of one session share its STAT lister: the sentinel is probed once", async () => {
    await mkdir(join(server.rootDir, "site"), { recursive: true });
    await mkdir(join(server.rootDir, "keep"), { recursive: true });
    await writeFile(join(server.rootDir, "keep/old.txt"), "o");
    await server.own(server.rootDir);
    const log: string[] = [];
    const fs = await openRemote({ root: "/site", backupRoot: "/keep", debug: (line) => log.push(line) });
    try {
      const { data } = proxy.stats;
      expect(await fs.list("")).toEqual([]);
      expect((await fs.backups?.fs.list(""))?.map((entry) => entry.name)).toEqual(["old.txt"]);
      expect(proxy.stats.data).toBe(data);
      // the probe is "HELP" then "NOOP"; a batch's sentinel sends HELP at least twice before its NOOP
      const probes = log.filter((line, i) => line === "> NOOP" && log[i - 1] === "> HELP" && log[i - 2] !== "> HELP");
      expect(probes).toHaveLength(1);
    } finally {
      await fs.close();
    }
  });

  it("listMany: the listings of several folders in one write, no data connection; a missing one fails alone", async () => {
    for (const dir of ["m1/x", "m2", "m3"]) await mkdir(join(server.rootDir, dir), { recursive: true });
    await writeFile(join(server.rootDir, "m2/two.txt"), "2");
    await server.own(server.rootDir);
    const log: string[] = [];
    const fs = await openRemote({ debug: (line) => log.push(line) });
    try {
      // the session's first listing learns the sentinel (the root holds the names of the test before: not that one)
      await fs.list("m3");
      const { data } = proxy.stats;
      const from = log.length;
      const results = await fs.listMany?.(["m1", "m2", "missing", "m3"]);
      expect(proxy.stats.data).toBe(data);
      // one round trip: every command of the batch went out before the first reply came in
      const batch = log.slice(from);
      const firstReply = batch.findIndex((line) => line.startsWith("< "));
      expect(batch.lastIndexOf("> CWD /m3")).toBeLessThan(firstReply);
      expect(batch.slice(firstReply).some((line) => line.startsWith("> "))).toBe(false);
      const names = results?.map((r) => (r.status === "fulfilled" ? r.value.map((e) => e.name) : "rejected"));
      expect(names).toEqual([["x"], ["two.txt"], "rejected", []]);
      const missing = results?.[2];
      expect(missing?.status === "rejected" && String(missing.reason)).toMatch(/cannot list "missing"/);
    } finally {
      await fs.close();
    }
  });

  it("a STAT reply larger than the listing limit is refused while it arrives: the export fails, nothing is kept", async () => {
    await writeFile(join(server.rootDir, "big.txt"), "big");
    await server.own(server.rootDir);
    const line = "-rw-r--r--    1 0 0 3 Jan 01 00:00 padding-padding-padding-padding-padding\r\n";
    const huge = line.repeat(Math.ceil((17 * 1024 * 1024) / line.length));
    let sent = 0;
    proxy.rewriteControl = (text) =>
      text.replace(/\n213 End of status/g, () => {
        sent++;
        return `\n${huge}213 End of status`;
      });
    const dir = await useTempDir("siteloom-stat-big-");
    try {
      await expect(exportVia(join(dir, "export"))).rejects.toThrow(/STAT listing .*larger than 16777216 bytes/);
    } finally {
      proxy.rewriteControl = undefined;
    }
    expect(sent).toBeGreaterThan(0);
    await expect(lstat(join(dir, "export/big.txt"))).rejects.toThrow();
  });

  it("a line that never ends, sent in small pieces, is refused at the line limit: the export fails, nothing is kept", async () => {
    await writeFile(join(server.rootDir, "long.txt"), "long");
    await server.own(server.rootDir);
    // 4 MiB without CR LF: within the listing limit, far beyond any name and link target
    const endless = "-rw-r--r--    1 0 0 3 Jan 01 00:00 ".padEnd(4 * 1024 * 1024, "x");
    let sent = 0;
    proxy.rewriteControl = (text) =>
      text.replace(/\n213 End of status/g, () => {
        sent++;
        return `\n${endless}\r\n213 End of status`;
      });
    proxy.controlChunkBytes = 1400;
    const dir = await useTempDir("siteloom-stat-line-");
    try {
      await expect(exportVia(join(dir, "export"))).rejects.toThrow(
        /STAT listing .*holds a line longer than 8192 characters: not read/,
      );
    } finally {
      proxy.rewriteControl = undefined;
      proxy.controlChunkBytes = undefined;
    }
    expect(sent).toBeGreaterThan(0);
    await expect(lstat(join(dir, "export/long.txt"))).rejects.toThrow();
  });
});

// --- internal ---

/** An export of the server's root through the proxy, with `size` connections. */
async function exportThrough(
  server: TestServer,
  proxy: FaultProxy,
  options: { exportDir: string; unsafe: UnsafeEntry[]; size: number },
): Promise<ExportResult> {
  const connect = await createRemoteConnector({ ...server.remoteConfig, port: proxy.port }, (v) => server.resolve(v), {
    onUnsafe: (entry) => options.unsafe.push(entry),
  });
  const pool = createRemotePool({ size: options.size, connect });
  try {
    const config = ExportSchema.parse({});
    return await runExport({ site: "demo", exportDir: options.exportDir, pool, config, retryBaseMs: 1, retryMaxMs: 5 });
  } finally {
    await pool.close();
  }
}

async function writeTree(root: string): Promise<void> {
  const files: Record<string, string> = {
    "index.html": "<h1>home</h1>",
    ".htaccess": "deny from all",
    "about us.html": "about",
    "ünï/página.html": "página",
    "a/b/c/deep.txt": "deep",
    "a/.hidden/h.txt": "h",
    "-dash/x [1].txt": "dash",
    "spaces dir/file name.txt": "spaces",
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
  await mkdir(join(root, "empty"));
  const old = new Date("2021-03-04T05:06:07Z");
  await utimes(join(root, "a/b/c/deep.txt"), old, old);
  await symlink("index.html", join(root, "link.html"));
  await symlink("a", join(root, "linkdir"));
  await symlink("/etc", join(root, "outside"));
  expect(await readlink(join(root, "outside"))).toBe("/etc");
}

/** A rewrite of the control connection that answers every STAT listing of vsftpd with a 500, and counts them. */
function refuseStat(): { rewrite: (text: string) => string; refused: number } {
  const state = { refused: 0, skipping: false };
  const rewrite = (text: string) =>
    text
      .split("\n")
      .flatMap((line) => {
        if (state.skipping) {
          if (/^213 End of status/.test(line)) state.skipping = false;
          return [];
        }
        if (/^213-Status follows/.test(line)) {
          state.refused++;
          state.skipping = true;
          return ["500 STAT refused by the test proxy.\r"];
        }
        return [line];
      })
      .join("\n");
  return {
    rewrite,
    get refused() {
      return state.refused;
    },
  };
}

const sorted = (list: readonly string[]) => [...list].sort();
const sortedSkips = (result: ExportResult) => [...result.skipped].sort((a, b) => a.path.localeCompare(b.path));
