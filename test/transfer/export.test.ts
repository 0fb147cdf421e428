import { mkdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ExportSchema } from "../../src/config/schema.ts";
import {
  createLocalRemote,
  createRemotePool,
  type ExportOptions,
  runExport,
  type UnsafeEntry,
} from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { createOpLog, type OpLog, recordOps, snapshot, writeSite } from "./helpers/trees.ts";

describe("transfer: export (local backend)", () => {
  let dir: string;
  let remote: string;
  let exportDir: string;
  let log: OpLog;
  let unsafe: UnsafeEntry[];

  beforeEach(async () => {
    dir = await useTempDir("siteloom-export-");
    remote = join(dir, "remote");
    exportDir = join(dir, "site/export");
    await writeSite(remote, { bigBytes: 300_000 });
    log = createOpLog();
    unsafe = [];
  });

  async function exportSite(extra: Partial<ExportOptions> & { exportConfig?: Record<string, unknown> } = {}) {
    const { exportConfig, ...rest } = extra;
    const pool = createRemotePool({
      size: 4,
      connect: async () => recordOps(log, createLocalRemote({ root: remote, onUnsafe: (entry) => unsafe.push(entry) })),
    });
    try {
      return await runExport({
        site: "demo",
        exportDir,
        pool,
        config: ExportSchema.parse({ ...exportConfig }),
        retryBaseMs: 1,
        retryMaxMs: 5,
        ...rest,
      });
    } finally {
      await pool.close();
    }
  }

  it("mirrors the tree byte-identically (empty files and dirs, UTF-8, deep) with mtimes from the server", async () => {
    const old = new Date("2020-02-03T04:05:06Z");
    await utimes(join(remote, "about us.html"), old, old);
    const result = await exportSite();
    expect(result.failures).toEqual([]);
    expect(await snapshot(exportDir)).toEqual(await snapshot(remote));
    expect((await stat(join(exportDir, "about us.html"))).mtime.toISOString()).toBe(old.toISOString());
  });

  it("is incremental: unchanged files are not downloaded again, changed ones are, remote deletions are mirrored", async () => {
    await exportSite();
    log.reset();
    const again = await exportSite();
    expect(log.count("download")).toBe(0);
    expect(again.stats.unchanged).toBe(again.stats.files);

    await writeFile(join(remote, "css/site.css"), "body{margin:1}"); // same size, new mtime
    const later = new Date(Date.now() + 5000);
    await utimes(join(remote, "css/site.css"), later, later);
    await rm(join(remote, "js"), { recursive: true });
    await writeFile(join(remote, "added.html"), "added");
    log.reset();
    const result = await exportSite();
    expect(
      log.ops
        .filter((o) => o.op === "download")
        .map((o) => o.path)
        .sort(),
    ).toEqual(["added.html", "css/site.css"]);
    expect(result.deleted).toEqual(expect.arrayContaining(["js/app.js", "js/"]));
    expect(await snapshot(exportDir)).toEqual(await snapshot(remote));
  });

  it("skips excluded paths and files over the size limit, and reports them", async () => {
    await mkdir(join(remote, "cgi-bin"));
    await writeFile(join(remote, "cgi-bin/x.cgi"), "#!");
    await writeFile(join(remote, "error.log"), "log");
    const result = await exportSite({ exportConfig: { exclude: ["cgi-bin/", "*.log"], maxFileSize: 100_000 } });
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: "cgi-bin/", reason: "excluded" },
        { path: "error.log", reason: "excluded" },
        { path: "media/big.bin", reason: expect.stringMatching(/maxFileSize/) },
      ]),
    );
    const snap = await snapshot(exportDir);
    expect(snap.files["error.log"]).toBeUndefined();
    expect(snap.files["media/big.bin"]).toBeUndefined();
    expect(snap.dirs).not.toContain("cgi-bin");
  });

  it("never writes outside export/: a symlink to /etc is reported, not followed; a deploy's temp file is skipped", async () => {
    await symlink("/etc", join(remote, "etc-link"));
    await symlink("../../../../../../etc/passwd", join(remote, "passwd"));
    await symlink("index.html", join(remote, "inside-link"));
    await writeFile(join(remote, ".in.index.html.0123abcd"), "half an upload");
    const result = await exportSite();
    // links leading out are left out of the listing and reported; one inside the root is listed and skipped
    expect(unsafe.map((u) => u.name).sort()).toEqual(["etc-link", "passwd"]);
    // so is a deploy's unfinished upload
    expect(result.skipped.map((s) => s.path).sort()).toEqual([".in.index.html.0123abcd", "inside-link"]);
    const snap = await snapshot(exportDir);
    expect(Object.keys(snap.files).some((p) => p.startsWith("etc-link") || p === "passwd")).toBe(false);
  });

  it("does not follow a symlink planted inside export/", async () => {
    await mkdir(exportDir, { recursive: true });
    const outside = join(dir, "outside");
    await mkdir(outside);
    await symlink(outside, join(exportDir, "css"));
    const result = await exportSite();
    expect(result.failures).toEqual([]);
    expect(await snapshot(outside)).toEqual({ files: {}, dirs: [] });
    expect(await readFile(join(exportDir, "css/site.css"), "utf8")).toBe("body{margin:0}");
  });

  it("--dry-run lists what would change and writes nothing", async () => {
    const result = await exportSite({ dryRun: true });
    expect(result.downloaded.length).toBeGreaterThan(5);
    await expect(stat(exportDir)).rejects.toThrow();
  });
});
