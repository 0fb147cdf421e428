import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { DeploySchema } from "../../src/config/schema.ts";
import { SiteloomError } from "../../src/errors.ts";
import { openStateStore } from "../../src/store/index.ts";
import {
  createLocalRemote,
  createRemotePool,
  type DeployOptions,
  type RemoteFS,
  runDeploy,
} from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { createOpLog, type OpLog, recordOps, snapshot, writeSite } from "./helpers/trees.ts";

describe("transfer: deploy (local backend)", () => {
  let dir: string;
  let output: string;
  let remote: string;
  let log: OpLog;

  beforeEach(async () => {
    dir = await useTempDir("siteloom-deploy-");
    output = join(dir, "output");
    remote = join(dir, "remote");
    await mkdir(remote);
    await writeSite(output, { bigBytes: 600_000 });
    log = createOpLog();
  });

  async function deploy(
    extra: Partial<DeployOptions> & { deployConfig?: Record<string, unknown>; wrap?: (fs: RemoteFS) => RemoteFS } = {},
  ) {
    const { deployConfig, wrap, ...rest } = extra;
    const pool = createRemotePool({
      size: 4,
      connect: async () => {
        const fs = recordOps(log, createLocalRemote({ root: remote }));
        return wrap ? wrap(fs) : fs;
      },
    });
    try {
      return await runDeploy({
        site: "demo",
        env: "test",
        outputDir: output,
        stateDir: join(dir, "state"),
        pool,
        config: DeploySchema.parse({ retryBaseMs: 1, retryMaxMs: 5, ...deployConfig }),
        ...rest,
      });
    } finally {
      await pool.close();
    }
  }

  it("uploads a tree byte-identically, writes the manifest on both sides with a deny-all .htaccess", async () => {
    const result = await deploy();
    expect(result.failures).toEqual([]);
    expect(result.mode).toBe("listing"); // nothing on the server yet: compared with a listing
    expect(await snapshot(remote)).toEqual(await snapshot(output));
    const manifest = JSON.parse(await readFile(join(remote, ".siteloom/manifest.json"), "utf8"));
    expect(Object.keys(manifest.files)).toContain("blog/naïve café.html");
    expect(manifest.files["empty.txt"].size).toBe(0);
    expect(await readFile(join(remote, ".siteloom/.htaccess"), "utf8")).toMatch(/Require all denied/);
    const local = JSON.parse(await readFile(join(dir, "state/deploy/demo.test.json"), "utf8"));
    expect(local.id).toBe(manifest.id);
    expect(result.stats.uploaded).toBe(Object.keys((await snapshot(output)).files).length);
    expect(result.stats.bytes).toBeGreaterThan(600_000);
    // no temp file is left behind
    expect(Object.keys((await snapshot(remote)).files).some((p) => p.includes("/.in.") || p.startsWith(".in."))).toBe(
      false,
    );
  });

  it("a no-op deploy logs in once and checks the manifest with one stat, without any listing", async () => {
    await deploy();
    log.reset();
    const result = await deploy();
    // the manifest on the server is the one this machine wrote (same size and time): no download
    expect(log.ops).toEqual([{ op: "stat", path: ".siteloom/manifest.json" }]);
    expect(result.stats.connections).toBe(1);
    expect(result.stats.uploaded).toBe(0);
    expect(result.mode).toBe("manifest");
  });

  it("a manifest rewritten on the server (another machine, by hand) is downloaded, not trusted from the stamp", async () => {
    await deploy();
    // another machine deploys a change: the manifest on the server is now its own
    await writeFile(join(output, "css/site.css"), "body{margin:2px}");
    const other = await deploy({ stateDir: join(dir, "other-machine") });
    expect(other.stats.uploaded).toBe(1);
    log.reset();
    const result = await deploy();
    expect(log.ops.map((o) => o.op)).toEqual(["stat", "read", "stat"]);
    expect(result.notes.join("\n")).toMatch(/last deployed by another run/);
    expect(result.stats.uploaded).toBe(0);
    // that read recorded the new manifest's stamp: the next no-op is one stat again
    log.reset();
    await deploy();
    expect(log.ops).toEqual([{ op: "stat", path: ".siteloom/manifest.json" }]);
  });

  it("uploads only what changed, deletes with --delete, and keeps protected paths", async () => {
    await deploy();
    await writeFile(join(remote, ".htaccess"), "RewriteEngine On");
    await mkdir(join(remote, ".well-known"), { recursive: true });
    await writeFile(join(remote, ".well-known/security.txt"), "x");
    await writeFile(join(output, "css/site.css"), "body{margin:1px}");
    await writeFile(join(output, "new page.html"), "new");
    await rm(join(output, "js/app.js"));
    await rm(join(output, "a"), { recursive: true });
    log.reset();
    const kept = await deploy();
    // the new manifest goes up beside the files (see the manifest test below for when it goes live)
    const uploads = log.ops.filter((o) => o.op === "upload").map((o) => o.path.replace(/\.[0-9a-f]{8}$/, ""));
    expect(uploads.sort()).toEqual([".in.new page.html", ".siteloom/.in.manifest.json", "css/.in.site.css"]);
    expect(kept.stats).toMatchObject({ uploaded: 2, deleted: 0 });
    expect((await stat(join(remote, "js/app.js"))).isFile()).toBe(true); // no --delete: stays

    const result = await deploy({ delete: true });
    expect(result.stats.deleted).toBeGreaterThanOrEqual(2);
    const snap = await snapshot(remote);
    const expected = await snapshot(output);
    expect(snap.files).toEqual({
      ...expected.files,
      ".htaccess": snap.files[".htaccess"],
      ".well-known/security.txt": snap.files[".well-known/security.txt"],
    });
    expect(snap.dirs).not.toContain("a");
  });

  it("with --verify, lists the server, keeps protected files, removes strays and hashes what looks different", async () => {
    await deploy();
    // someone edits the live site by hand: same size, different bytes, and leaves files around
    await writeFile(join(remote, "css/site.css"), "body{margin:9}");
    await writeFile(join(remote, "stray.html"), "stray");
    await mkdir(join(remote, "cgi-bin"));
    await writeFile(join(remote, "cgi-bin/run.cgi"), "#!/bin/sh");
    await writeFile(join(remote, "blog/.in.index.html.0badc0de"), "partial");
    const future = new Date(Date.now() + 3600_000);
    const { utimes } = await import("node:fs/promises");
    await utimes(join(remote, "css/site.css"), future, future);
    const result = await deploy({ verify: true, delete: true });
    expect(result.mode).toBe("listing");
    expect(result.plan.upload.map((u) => u.path)).toEqual(["css/site.css"]);
    expect(result.plan.delete).toEqual(["stray.html"]);
    const snap = await snapshot(remote);
    expect(snap.files["css/site.css"]).toBe((await snapshot(output)).files["css/site.css"]);
    expect(snap.files["cgi-bin/run.cgi"]).toBeDefined();
    expect(snap.files["blog/.in.index.html.0badc0de"]).toBeUndefined();
  });

  it("treats a missing or foreign remote manifest as untrusted and compares with a listing instead of re-uploading", async () => {
    await deploy();
    await writeFile(join(remote, ".siteloom/manifest.json"), '{"format":"something-else"}');
    log.reset();
    const foreign = await deploy();
    expect(foreign.mode).toBe("listing");
    expect(foreign.notes.join("\n")).toMatch(/cannot be trusted/);
    expect(foreign.stats.uploaded).toBe(0);
    expect(log.count("list")).toBeGreaterThan(0);
    await rm(join(remote, ".siteloom/manifest.json"));
    const missing = await deploy();
    expect(missing.notes.join("\n")).toMatch(/missing on the server/);
    expect(missing.stats.uploaded).toBe(0);
    // and the next one trusts the manifest it wrote
    log.reset();
    await deploy();
    expect(log.count("list")).toBe(0);
  });

  it("uploads assets, then pages, then sitemap/robots/feeds; every file goes to a temp name and is renamed", async () => {
    await deploy();
    const renames = log.ops.filter((o) => o.op === "rename").map((o) => o.path);
    const finals = renames.filter((p) => !p.startsWith(".siteloom/"));
    const phaseOf = (p: string) => (/(sitemap|robots|feed)/.test(p) ? 2 : /\.html$/.test(p) ? 1 : 0);
    const phases = finals.map((p) => phaseOf(p.replace(/(^|\/)\.in\.(.*)\.[0-9a-f]{8}$/, "$1$2")));
    expect(phases).toEqual([...phases].sort());
    for (const o of log.ops.filter((x) => x.op === "upload")) expect(o.path).toMatch(/(^|\/)\.in\..+\.[0-9a-f]{8}$/);
  });

  it("the new manifest goes up beside the files and is renamed into place only after the last of them is live", async () => {
    await deploy();
    await writeFile(join(output, "css/site.css"), "body{margin:3px}");
    await writeFile(join(output, "index.html"), "<p>v3</p>");
    await rm(join(output, "js/app.js"));
    const events: string[] = [];
    const slow = () => new Promise((resolve) => setTimeout(resolve, 30));
    const result = await deploy({
      delete: true,
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        upload: async (source, path, options) => {
          events.push(`upload ${path.replace(/\.[0-9a-f]{8}$/, "")}`);
          return fs.upload(source, path, options);
        },
        // a site file's rename takes a while: the manifest is staged meanwhile
        rename: async (from, to) => {
          events.push(`rename ${to}`);
          if (!to.startsWith(".siteloom/")) await slow();
          await fs.rename(from, to);
          events.push(`renamed ${to}`);
        },
      }),
    });
    expect(result.failures).toEqual([]);
    const at = (event: string) => events.indexOf(event);
    expect(at("upload .siteloom/.in.manifest.json")).toBeGreaterThanOrEqual(0);
    expect(at("upload .siteloom/.in.manifest.json")).toBeLessThan(at("renamed index.html"));
    // the manifest's rename goes out after every file is in place and every deletion (a move into the backups) is done
    const live = at("rename .siteloom/manifest.json");
    for (const done of ["renamed css/site.css", "renamed index.html", `renamed ${result.plan.delete[0] ?? ""}`]) {
      expect(events.slice(0, live)).toContainEqual(expect.stringMatching(done.replace("renamed ", "renamed (.*/)?")));
    }
    expect(events.slice(live + 1).filter((e) => e.startsWith("rename"))).toEqual(["renamed .siteloom/manifest.json"]);
    const manifest = JSON.parse(await readFile(join(remote, ".siteloom/manifest.json"), "utf8"));
    expect(manifest.id).toBe(result.manifestId);
    expect(manifest.files["js/app.js"]).toBeUndefined();
    expect(manifest.files["index.html"].size).toBe("<p>v3</p>".length);
    expect((await readdir(join(remote, ".siteloom"))).filter((n) => n.startsWith(".in."))).toEqual([]);
    // the stamp taken from the staged file is the live manifest's: the next run is a no-op with one stat
    log.reset();
    await deploy();
    expect(log.ops).toEqual([{ op: "stat", path: ".siteloom/manifest.json" }]);
  });

  it.each([
    ["its staged upload broke", "upload"],
    ["its rename into place failed", "rename"],
  ])("a manifest whose staged copy is unusable (%s) is written anew and leaves no temp copy behind", async (_, op) => {
    await deploy();
    await writeFile(join(output, "index.html"), "<p>v4</p>");
    let broken = false;
    // the first temp name of the manifest is the staged one; every attempt there breaks (a retry too)
    let stagedName: string | undefined;
    const staged = (path: string) => {
      if (stagedName === undefined && path.startsWith(".siteloom/.in.manifest.json")) stagedName = path;
      return path === stagedName;
    };
    const result = await deploy({
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        // the bytes arrive, then the connection breaks before the reply: the server keeps the temp file
        upload: async (source, path, options) => {
          await fs.upload(source, path, options);
          if (op === "upload" && staged(path)) {
            broken = true;
            throw new Error("ECONNRESET");
          }
        },
        rename: async (from, to) => {
          if (op === "rename" && to === ".siteloom/manifest.json" && staged(from)) {
            broken = true;
            throw new Error("553 Could not rename");
          }
          await fs.rename(from, to);
        },
      }),
    });
    expect(broken).toBe(true);
    expect(result.failures).toEqual([]);
    const manifest = JSON.parse(await readFile(join(remote, ".siteloom/manifest.json"), "utf8"));
    expect(manifest.id).toBe(result.manifestId);
    expect(manifest.files["index.html"].size).toBe("<p>v4</p>".length);
    expect((await readdir(join(remote, ".siteloom"))).filter((n) => n.startsWith(".in."))).toEqual([]);
  });

  it("retries failed transfers with backoff and counts them", async () => {
    let failures = 2;
    const result = await deploy({
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        upload: async (source, path, options) => {
          if (path.includes("site.css") && failures-- > 0) {
            throw Object.assign(new Error("Connection reset by peer"), { code: "ECONNRESET" });
          }
          return fs.upload(source, path, options);
        },
      }),
    });
    expect(result.failures).toEqual([]);
    expect(result.stats.retries + result.stats.connections).toBeGreaterThan(1);
    expect(await snapshot(remote)).toEqual(await snapshot(output));
  });

  it("names each failed file with the reply, keeps the old version live, and a rerun uploads only what failed", async () => {
    await deploy();
    const before = JSON.parse(await readFile(join(remote, ".siteloom/manifest.json"), "utf8"));
    await writeFile(join(output, "index.html"), "<p>v2</p>");
    await writeFile(join(output, "css/site.css"), "body{margin:2px}");
    const result = await deploy({
      deployConfig: { retries: 1 },
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        rename: async (from, to) => {
          // the rename of the new version is refused (the move of the old one aside, and back, is not)
          if (to === "index.html" && from.startsWith(".in.")) {
            throw new Error("553 Could not create file.");
          }
          return fs.rename(from, to);
        },
      }),
    });
    expect(result.failures).toEqual([{ path: "index.html", message: "553 Could not create file." }]);
    expect(await readFile(join(remote, "index.html"), "utf8")).toMatch(/home/); // the old page stays whole
    // the manifest staged for a run without failures is not the one written: the failed page keeps its old entry
    const after = JSON.parse(await readFile(join(remote, ".siteloom/manifest.json"), "utf8"));
    expect(after.id).toBe(result.manifestId);
    expect(after.files["index.html"]).toEqual(before.files["index.html"]);
    expect(after.files["css/site.css"].size).toBe("body{margin:2px}".length);
    expect((await readdir(join(remote, ".siteloom"))).filter((n) => n.startsWith(".in."))).toEqual([]);
    log.reset();
    const rerun = await deploy();
    expect(rerun.failures).toEqual([]);
    expect(rerun.plan.upload.map((u) => u.path)).toEqual(["index.html"]);
    expect(await snapshot(remote)).toEqual(await snapshot(output));
  });

  it("resumes after a crash: finished files are not uploaded again and a partial large file continues", async () => {
    await writeFile(join(output, "media/big.bin"), Buffer.alloc(900_000, 1));
    // the first run "dies" after two files are in place and while the big one is half uploaded
    let renamed = 0;
    const crash = await deploy({
      deployConfig: { retries: 0 },
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        rename: async (from, to) => {
          if (++renamed > 2 && !to.startsWith(".siteloom")) throw new Error("killed");
          return fs.rename(from, to);
        },
        upload: _bigDiesAt300k(fs),
      }),
    });
    expect(crash.failures.length).toBeGreaterThan(0);
    log.reset();
    const rerun = await deploy();
    expect(rerun.failures).toEqual([]);
    const bigUpload = log.ops.find((o) => o.op === "upload" && o.path.includes("big.bin"));
    expect(bigUpload?.startAt).toBe(300_000);
    expect(log.ops.filter((o) => o.op === "upload").length).toBeLessThan(
      Object.keys((await snapshot(output)).files).length,
    );
    expect(await snapshot(remote)).toEqual(await snapshot(output));
  });

  it("a rerun after the large file changed starts it again: a partial of the old content is never continued", async () => {
    await writeFile(join(output, "media/big.bin"), Buffer.alloc(900_000, 1));
    const crash = await deploy({
      deployConfig: { retries: 0 },
      wrap: (fs) => ({
        ...fs,
        protocol: fs.protocol,
        close: () => fs.close(),
        upload: _bigDiesAt300k(fs),
      }),
    });
    expect(crash.failures.map((f) => f.path)).toEqual(["media/big.bin"]);
    // same size, other bytes: only the journal's hash tells the partial is of the old version
    await writeFile(join(output, "media/big.bin"), Buffer.alloc(900_000, 2));
    log.reset();
    const rerun = await deploy();
    expect(rerun.failures).toEqual([]);
    const bigUploads = log.ops.filter((o) => o.op === "upload" && o.path.includes("big.bin"));
    expect(bigUploads.map((o) => o.startAt ?? 0)).toEqual([0]);
    // in a temp file of its own, and the old partial is removed
    expect(bigUploads[0]?.path).toMatch(/\.in\.big\.bin\.[0-9a-f]{8}-[0-9a-f]{4}$/);
    expect(await snapshot(remote)).toEqual(await snapshot(output));
  });

  it("--purge empties the remote root (protected paths stay) only when confirmed", async () => {
    await deploy();
    await writeFile(join(remote, "old.html"), "old");
    await writeFile(join(remote, ".htaccess"), "x");
    await expect(deploy({ purge: true, confirmPurge: async () => false })).rejects.toThrow(SiteloomError);
    expect((await stat(join(remote, "old.html"))).isFile()).toBe(true);
    let shown: string[] = [];
    const result = await deploy({
      purge: true,
      confirmPurge: async (paths) => {
        shown = paths;
        return true;
      },
    });
    expect(shown).toContain("old.html");
    expect(shown).not.toContain(".htaccess");
    expect(result.mode).toBe("purge");
    const snap = await snapshot(remote);
    expect(snap.files["old.html"]).toBeUndefined();
    expect(snap.files[".htaccess"]).toBeDefined();
    delete snap.files[".htaccess"];
    expect(snap).toEqual(await snapshot(output));
  });

  it("refuses a second deploy of the same target while one runs, and takes over the lock of a dead process", async () => {
    const { hostname } = await import("node:os");
    const store = openStateStore({ stateDir: join(dir, "state") });
    try {
      const holder = { name: "deploy:demo:test", owner: "other-run", host: hostname(), leaseMs: 60_000 };
      await store.acquireLock({ ...holder, pid: process.pid }, () => false);
      const refused = await deploy().catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "ERR_LOCKED" });
      expect((refused as Error).message).toMatch(/^the deploy of demo \(test\) is being run by run other-run \(pid /);
      await store.releaseLock(holder.name, holder.owner);
      await store.acquireLock({ ...holder, pid: 999_999_999 }, () => false);
      const result = await deploy();
      expect(result.failures).toEqual([]);
      expect(await store.listLocks()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("--dry-run changes nothing and lists the plan", async () => {
    const result = await deploy({ dryRun: true });
    expect(result.plan.upload.length).toBeGreaterThan(5);
    expect(await snapshot(remote)).toEqual({ files: {}, dirs: [] });
    expect(log.count("upload") + log.count("mkdir") + log.count("rename")).toBe(0);
  });
});

/** An upload that "dies" with the first 300,000 bytes of media/big.bin on the server; other files pass. */
function _bigDiesAt300k(fs: RemoteFS): RemoteFS["upload"] {
  return async (source, path, options) => {
    if (path.includes("big.bin") && typeof source === "string") {
      await fs.upload(createReadStream(source, { end: 299_999 }), path);
      throw new Error("killed");
    }
    return fs.upload(source, path, options);
  };
}
