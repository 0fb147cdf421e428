import { chmod, chown, cp, mkdir, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { runCli, useTempDir } from "../support/cli.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";

// The data folder (paths.data / SITELOOM_DATA_DIR): the pipeline runs from a configuration folder it cannot write,
// against a real vsftpd, and everything it writes lands in the data folder. The CLI runs as an unprivileged user
// (root writes through any mode bits), as it does in the container image.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
/** nobody:nogroup when the suite runs as root; otherwise the runner itself, for whom the modes alone are enough. */
const USER = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;

describe("cli: a read-only configuration folder with a data folder elsewhere", () => {
  let ftp: TestServer;
  const restore: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    ftp = await startServer("vsftpd-ftp");
    // the user must reach the program, as every user reaches /opt/siteloom in the image: a checkout under a 0700
    // folder (mktemp -d) gets the search bit on its ancestors for this test, and its modes back after it
    // (the Node 24 run's copy links its packages to the checkout's node_modules: their real folder too)
    const reached = [REPO, dirname(await realpath(join(REPO, "node_modules", "zod"))), dirname(process.execPath)];
    for (const start of USER ? reached : []) {
      for (let d = start; d !== dirname(d); d = dirname(d)) {
        const { mode } = await stat(d);
        if ((mode & 0o001) !== 0) continue;
        await chmod(d, (mode & 0o7777) | 0o001);
        restore.push(() => chmod(d, mode & 0o7777));
      }
    }
  });
  afterAll(async () => {
    for (const undo of restore) await undo();
    await ftp?.stop();
  });

  it("runs export → generate → enrich → deploy, writing only into the data folder; SITELOOM_DATA_DIR wins", async () => {
    const dir = await useTempDir("siteloom-data-dir-");
    await chmod(dir, 0o755);
    const config = join(dir, "config");
    const init = await runCli(["init", config, "--example"]);
    expect(init.code, init.stderr).toBe(0);
    await rm(join(dir, "config", ".siteloom"), { recursive: true, force: true });
    const remoteDir = join(ftp.rootDir, "data-dir");
    await cp(EXAMPLE_SITE, remoteDir, { recursive: true });
    await ftp.own(remoteDir);
    const siteFile = join(config, "sites/example/site.yaml");
    const site = parseDocument(await readFile(siteFile, "utf8"));
    site.set("remote", { ...ftp.remoteConfig, root: "/data-dir", password: "secret://example/FTP_PASSWORD" });
    await writeFile(siteFile, site.toString());
    const wsFile = join(config, "siteloom.yaml");
    const ws = parseDocument(await readFile(wsFile, "utf8"));
    ws.set("secrets", { backend: "env" });
    // relative to the workspace root
    ws.set("paths", { data: "../data" });
    await writeFile(wsFile, ws.toString());
    const data = join(dir, "data");
    const other = join(dir, "other");
    for (const d of [data, other]) {
      await mkdir(d);
      if (USER) await chown(d, USER.uid, USER.gid);
    }
    await _readOnly(config);
    const before = await tree(config);

    const env = { SITELOOM_SECRET_EXAMPLE__FTP_PASSWORD: ftp.password, HOME: data };
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      runCli(["--workspace", config, ...args], {
        env: { ...env, ...extra },
        timeoutMs: 180_000,
        ...(USER ? { user: USER } : {}),
      });
    const run = await cli(["run", "example"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\s+deploy\s+succeeded\s+\d+ uploaded/m);

    // the configuration folder is as it was; the data folder holds the site's folders and the state
    expect(await tree(config)).toEqual(before);
    expect((await readdir(join(data, "example"))).sort()).toEqual(["articles", "export", "output"]);
    expect((await stat(join(data, ".siteloom", "state.db"))).isFile()).toBe(true);
    const deployed = withoutManifest(await tree(remoteDir));
    expect(deployed).toEqual(withoutManifest(await tree(join(data, "example", "output"))));
    expect([...deployed.keys()].filter((p) => p.startsWith("blog/")).length).toBeGreaterThan(3);

    const runs = await cli(["runs", "--json"]);
    expect(JSON.parse(runs.stdout)).toMatchObject([{ sites: ["example"], status: "succeeded" }]);
    const show = await cli(["site", "show", "example", "--json"]);
    expect(show.code, show.stderr).toBe(0);
    const info = JSON.parse(show.stdout) as { paths: Record<string, string>; contents: Record<string, number> };
    expect(info.paths).toMatchObject({ data: join(data, "example"), output: join(data, "example", "output") });
    expect(info.contents.export).toBeGreaterThan(5);
    expect(info.contents.articles).toBeGreaterThan(0);

    // the variable wins over paths.data: a second export (of the site as deployed) lands in the other folder, with
    // its own state
    const exported = await cli(["export", "example"], { SITELOOM_DATA_DIR: other });
    expect(exported.code, exported.stderr).toBe(0);
    expect(withoutManifest(await tree(join(other, "example", "export")))).toEqual(deployed);
    const otherRuns = await cli(["runs", "--json"], { SITELOOM_DATA_DIR: other });
    expect(JSON.parse(otherRuns.stdout)).toMatchObject([{ sites: ["example"] }]);
    expect(await tree(config)).toEqual(before);
  });
});

// --- internal ---

/** Every folder 0555 and file 0444 (owned by root, so the unprivileged CLI cannot change them back). */
async function _readOnly(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await _readOnly(path);
    else await chmod(path, 0o444);
  }
  await chmod(dir, 0o555);
}
