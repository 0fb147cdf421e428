import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploySchema, ExportSchema } from "../../src/config/schema.ts";
import { createRemoteConnector } from "../../src/transfer/connect.ts";
import { createRemotePool, runDeploy, runExport } from "../../src/transfer/index.ts";
import { useTempDir } from "../support/cli.ts";
import { SERVER_KINDS, startServer, type TestServer } from "../support/servers/index.ts";
import { createOpLog, recordOps, snapshot, writeSite } from "./helpers/trees.ts";

// Export and deploy end to end against every real server: byte-identical trees both ways, incremental behaviour,
// a no-op deploy that lists nothing, --delete sparing protected paths.
describe.each(SERVER_KINDS)("transfer: deploy and export against %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("deploys, redeploys incrementally, deletes, and exports back byte-identically", async () => {
    const dir = await useTempDir("siteloom-srv-");
    const output = join(dir, "output");
    await writeSite(output, { bigBytes: 3_000_000 });
    const log = createOpLog();
    const connect = await createRemoteConnector(server.remoteConfig, (v) => server.resolve(v));
    const deploy = async (extra: { delete?: boolean; verify?: boolean } = {}) => {
      const pool = createRemotePool({ size: 4, connect: async () => recordOps(log, await connect()) });
      try {
        return await runDeploy({
          site: "demo",
          env: "test",
          outputDir: output,
          stateDir: join(dir, "state"),
          pool,
          config: DeploySchema.parse({ parallel: 4, retryBaseMs: 10, retryMaxMs: 100 }),
          ...extra,
        });
      } finally {
        await pool.close();
      }
    };

    const first = await deploy();
    expect(first.failures).toEqual([]);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));

    log.reset();
    const noop = await deploy();
    // the manifest is the one this machine wrote (same size and server time): one stat, no download
    expect(log.ops).toEqual([{ op: "stat", path: ".siteloom/manifest.json" }]);
    expect(noop.stats.connections).toBe(1);

    await writeFile(join(output, "css/site.css"), "body{margin:3px}");
    await writeFile(join(output, "blog/new post.html"), "<p>new</p>");
    await rm(join(output, "js"), { recursive: true });
    await writeFile(join(server.rootDir, ".htaccess"), "Options -Indexes");
    await server.own(join(server.rootDir, ".htaccess"));
    log.reset();
    const change = await deploy({ delete: true });
    expect(change.failures).toEqual([]);
    expect(change.stats.uploaded).toBe(2);
    // no walk of the tree: a new file is one pipelined put (upload, size check, rename); so is a replaced file, whose
    // old version the put renames aside into the backup folder first; the removed directory goes with one RMD
    // (no listing: it is empty)
    const ops = (path: string) => {
      const temp = path.replace(/[^/]+$/, (name) => `.in.${name}.`);
      return log.ops
        .filter((o) => ["put", "upload", "stat", "rename"].includes(o.op))
        .filter((o) => o.path === path || o.path.startsWith(temp))
        .map((o) => o.op);
    };
    expect(ops("blog/new post.html")).toEqual(["put"]);
    expect(ops("css/site.css")).toEqual(["put"]);
    const backups = join(server.rootDir, ".siteloom/backups");
    const [run] = await readdir(backups);
    expect(await readFile(join(backups, run!, "css/site.css"), "utf8")).toBe("body{margin:0}");
    expect(await readFile(join(backups, run!, "js/app.js"), "utf8")).toBe("console.log(1)");
    expect(log.ops.filter((o) => o.op === "list")).toEqual([]);
    expect(log.ops.filter((o) => o.op === "removeEmptyDir").map((o) => o.path)).toEqual(["js"]);
    const remote = await snapshot(server.rootDir);
    expect(remote.files[".htaccess"]).toBeDefined();
    delete remote.files[".htaccess"];
    expect(remote).toEqual(await snapshot(output));

    // the folders the server is known to have (the manifest's, the backups') are not asked for again; the backups
    // folder removed by hand fails the batch and is made again by the fallback
    await writeFile(join(output, "css/site.css"), "body{margin:4px}");
    log.reset();
    expect((await deploy()).failures).toEqual([]);
    const asked = log.ops.filter((o) => o.op === "mkdir" || o.op === "mkdirMany").flatMap((o) => o.path.split(","));
    expect(asked.filter((p) => !p.startsWith(".siteloom/backups/"))).toEqual([]);
    await rm(backups, { recursive: true });
    await writeFile(join(output, "css/site.css"), "body{margin:5px}");
    expect((await deploy()).failures).toEqual([]);
    const [healed] = await readdir(backups);
    expect(await readFile(join(backups, healed!, "css/site.css"), "utf8")).toBe("body{margin:4px}");
    expect(await readFile(join(server.rootDir, "css/site.css"), "utf8")).toBe("body{margin:5px}");

    // --verify against the server agrees that nothing is left to do
    const verify = await deploy({ verify: true });
    expect(verify.plan.upload).toEqual([]);

    // and mirrored back down it is the same tree
    const exportDir = join(dir, "export");
    const pool = createRemotePool({ size: 4, connect });
    try {
      const exported = await runExport({
        site: "demo",
        exportDir,
        pool,
        config: ExportSchema.parse({ exclude: ["/.siteloom/", "/.htaccess"] }),
      });
      expect(exported.failures).toEqual([]);
      expect(await snapshot(exportDir)).toEqual(await snapshot(output));
      const again = await runExport({
        site: "demo",
        exportDir,
        pool,
        config: ExportSchema.parse({ exclude: ["/.siteloom/", "/.htaccess"] }),
      });
      expect(again.stats.downloaded).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it("a remote manifest removed by hand leads to a listing comparison, not a blind re-upload", async () => {
    const dir = await useTempDir("siteloom-srv-");
    const output = join(dir, "output");
    await mkdir(output);
    await writeSite(output);
    const connect = await createRemoteConnector(server.remoteConfig, (v) => server.resolve(v));
    const deploy = async () => {
      const pool = createRemotePool({ size: 2, connect });
      try {
        return await runDeploy({
          site: "other",
          env: "test",
          outputDir: output,
          stateDir: join(dir, "state"),
          pool,
          config: DeploySchema.parse({ manifestPath: ".deploy-state" }),
        });
      } finally {
        await pool.close();
      }
    };
    await deploy();
    await rm(join(server.rootDir, ".deploy-state/manifest.json"));
    const again = await deploy();
    expect(again.mode).toBe("listing");
    expect(again.stats.uploaded).toBe(0);
  });
});
