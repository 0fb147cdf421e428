import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createManifest, DENY_ALL_HTACCESS } from "../../src/transfer/deploy/manifest.ts";
import { BIN, runCli } from "../support/cli.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";
import { demoWorkspace } from "./helpers/workspace.ts";

// `siteloom deploy --rollback` through the built CLI against real servers: a deploy, a deploy of a change (files
// replaced, deleted, added in a new folder), then a rollback leaves the server byte-identical to after the first
// deploy; a rollback killed with SIGKILL and rerun ends the same; the backups never reach an export. With remote.root
// a sub-folder of the login folder the backups live beside it (deploy.backupDir auto), outside the web root.

// each test spawns the CLI five to ten times: on a loaded 2-core machine one spawn alone may take seconds
const TEST_TIMEOUT_MS = 400_000;

describe.each(["vsftpd-ftp", "sftp"] as const)("transfer: deploy --rollback against %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const workspace = (deploy: Record<string, unknown> = {}, remote: Record<string, unknown> = {}) =>
    demoWorkspace("siteloom-rollback-", server.env, {
      remote: { ...server.remoteConfig, ...remote },
      deploy: { parallel: 3, retryBaseMs: 20, retryMaxMs: 200, ...deploy },
    });
  // remote.root a sub-folder of the login folder (vsftpd chroots the login folder to "/"; sshd does not)
  const inSubFolder = (dir = "site") => ({ root: kind === "sftp" ? `${server.rootDir}/${dir}` : `/${dir}` });
  /** An empty sub-folder of the login folder, as a host account has its web root. */
  async function subFolder(dir = "site"): Promise<string> {
    const live = join(server.rootDir, dir);
    await mkdir(live);
    await server.own(live);
    return live;
  }
  const cli = (ws: string, args: string[]) => runCli(args, { cwd: ws, env: server.env, timeoutMs: 180_000 });
  /** An empty server, remote.root its sub-folder "site", the demo site deployed there once (deploy.backupDir auto). */
  async function firstDeployInSubFolder() {
    await clearRemote();
    const made = await workspace({}, inSubFolder());
    const live = await subFolder();
    await writeSite(made.output);
    expect((await cli(made.ws, ["deploy", "demo"])).code).toBe(0);
    return { ...made, live };
  }
  /** Runs the CLI and kills it with SIGKILL once `marker` holds version `v` of the pages. */
  async function killOnceWritten(ws: string, args: string[], marker: string, v: number) {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ws,
      env: { ...process.env, ...server.env },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 180_000;
    for (;;) {
      const data = await readFile(marker).catch(() => undefined);
      if (data?.[0] === 64 + v) break;
      if (child.exitCode !== null) throw new Error(`${args.join(" ")} finished before it could be killed`);
      if (Date.now() > deadline) throw new Error(`${args.join(" ")} made no progress in 180 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGKILL");
    await exited;
  }
  async function clearRemote() {
    for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
  }

  it("deploy, deploy a change, rollback: the server is byte-identical to after the first deploy", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await clearRemote();
    const { ws, output, exportDir } = await workspace();
    await writeSite(output);
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    const first = await snapshot(server.rootDir);

    // the change: two files replaced, one deleted (--delete), two added (one in a new folder)
    await writeFile(join(output, "index.html"), "<p>home, version 2</p>");
    await writeFile(join(output, "css/site.css"), "body{margin:2px}");
    await rm(join(output, "js"), { recursive: true });
    await mkdir(join(output, "news/2026"), { recursive: true });
    await writeFile(join(output, "news/2026/launch.html"), "<p>new</p>");
    await writeFile(join(output, "extra.txt"), "added");
    const change = await cli(ws, ["deploy", "demo", "--delete", "--json"]);
    expect(change.code, change.stderr).toBe(0);
    const second = await snapshot(server.rootDir);
    expect(second).toEqual(await snapshot(output));
    const changeId: string = JSON.parse(change.stdout).manifestId;

    // the plan first: nothing changes on the server
    const dry = await cli(ws, ["deploy", "demo", "--rollback", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout).plan;
    expect(plan.undo).toEqual([changeId]);
    expect(plan.restore.map((r: { path: string }) => r.path)).toEqual(["css/site.css", "index.html", "js/app.js"]);
    expect(plan.remove).toEqual(["extra.txt", "news/2026/launch.html"]);
    expect(plan.removeDirs).toEqual(["news/2026", "news"]);
    expect(await snapshot(server.rootDir)).toEqual(second);
    const text = await cli(ws, ["deploy", "demo", "--rollback", "--dry-run"]);
    expect(text.stdout).toContain("would remove   extra.txt");
    expect(text.stdout).toContain("would restore  js/app.js");

    const back = await cli(ws, ["deploy", "demo", "--rollback"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/rolled back 1 deploy\(s\).*restored 3 file\(s\), removed 2/);
    expect(await snapshot(server.rootDir)).toEqual(first);

    // the next deploy sees the rolled-back state: it uploads the change again, and nothing else
    const redeploy = await cli(ws, ["deploy", "demo", "--delete", "--json"]);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(JSON.parse(redeploy.stdout).stats).toMatchObject({ uploaded: 4, deleted: 2, failed: 0 });
    expect(await snapshot(server.rootDir)).toEqual(second);

    // the backup folder is on the server, and never in the mirror export brings down
    // remote.root "/" (vsftpd's chroot) has no parent, and sshd's user cannot write beside its home: kept inside
    expect((await readdir(join(server.rootDir, ".siteloom/backups"))).length).toBeGreaterThan(0);
    if (kind === "sftp") expect(redeploy.stdout).toMatch(/backups kept inside remote.root/);
    expect((await cli(ws, ["export", "demo"])).code).toBe(0);
    expect(await snapshot(exportDir, () => false)).toEqual(await snapshot(output));
  });

  it("remote.root in a sub-folder: backups land beside it, rollback restores byte-identical, retention, export", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await clearRemote();
    const { ws, output, exportDir } = await workspace({ backups: 2 }, inSubFolder());
    const live = await subFolder();
    const kept = join(server.rootDir, ".siteloom-backups/site");
    await writeSite(output);
    const before = await readFile(join(output, "index.html"));
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    const first = await snapshot(live);

    await writeFile(join(output, "index.html"), "<p>home, version 2</p>");
    await rm(join(output, "js"), { recursive: true });
    await writeFile(join(output, "extra.txt"), "added");
    const change = await cli(ws, ["deploy", "demo", "--delete", "--json"]);
    expect(change.code, change.stderr).toBe(0);
    expect(JSON.parse(change.stdout).notes.join("\n")).not.toMatch(/backups kept inside/);
    // the backup root may be served (an addon domain's root is a sub-folder of the main one's): deny-all on disk
    expect(await readFile(join(kept, ".htaccess"), "utf8")).toBe(DENY_ALL_HTACCESS);
    // the replaced and the deleted versions are outside remote.root, none inside it
    const [run] = await runs(kept);
    expect(await readFile(join(kept, run!, "index.html"))).toEqual(before);
    expect((await readdir(join(kept, run!, "js"))).length).toBe(1);
    expect(await readdir(join(live, ".siteloom"))).not.toContain("backups");

    const back = await cli(ws, ["deploy", "demo", "--rollback"]);
    expect(back.code, back.stderr).toBe(0);
    expect(await snapshot(live)).toEqual(first);
    expect(await runs(kept)).toEqual([]);

    // retention: the folders of older deploys go from the outside location too
    for (let v = 3; v <= 6; v++) {
      await writeFile(join(output, "index.html"), `<p>v${v}</p>`);
      expect((await cli(ws, ["deploy", "demo", "--delete"])).code).toBe(0);
    }
    expect((await runs(kept)).length).toBe(2);
    const exported = await cli(ws, ["export", "demo"]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(await snapshot(exportDir, () => false)).toEqual(await snapshot(output));
  });

  it.each(["absolute", "relative to the login folder"])(
    "deploy.backupDir a server path (%s): created when missing, the backups there, rollback from it",
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async (form) => {
      await clearRemote();
      const absolute = kind === "sftp" ? `${server.rootDir}/kept/demo` : "/kept/demo";
      const backupDir = form === "absolute" ? absolute : "kept/demo";
      const { ws, output } = await workspace({ backupDir }, inSubFolder());
      const live = await subFolder();
      await writeSite(output);
      const before = await readFile(join(output, "index.html"));
      expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
      const first = await snapshot(live);
      await writeFile(join(output, "index.html"), "<p>v2</p>");
      expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
      expect(await readFile(join(server.rootDir, "kept/demo/.htaccess"), "utf8")).toBe(DENY_ALL_HTACCESS);
      const [run] = await runs(join(server.rootDir, "kept/demo"));
      expect(await readFile(join(server.rootDir, "kept/demo", run!, "index.html"))).toEqual(before);
      const back = await cli(ws, ["deploy", "demo", "--rollback"]);
      expect(back.code, back.stderr).toBe(0);
      expect(await snapshot(live)).toEqual(first);
    },
  );

  it("a tampered manifest naming another backup folder is refused; a backupDir inside remote.root too", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const { ws, site, output, live } = await firstDeployInSubFolder();
    await writeFile(join(output, "index.html"), "<p>v2</p>");
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    const second = await snapshot(live);
    // a manifest whose self hash is right (written by someone who knows the format) naming a folder elsewhere
    const file = join(live, ".siteloom/manifest.json");
    const manifest = JSON.parse(await readFile(file, "utf8"));
    const run = manifest.backups[0].dir.split("/").at(-1);
    for (const dir of [`.siteloom-backups/other/${run}`, `${manifest.backups[0].dir}/../../other/${run}`]) {
      const forged = createManifest({ ...manifest, backups: [{ ...manifest.backups[0], dir }] });
      await writeFile(file, JSON.stringify(forged));
      await server.own(file);
      const refused = await cli(ws, ["deploy", "demo", "--rollback"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/names the backup folder .* refusing to use it/);
      expect(await snapshot(live)).toEqual(second);
    }
    // a cleanup (here: a purge ends the kept history) leaves a folder it does not own alone, and says so
    const other = join(server.rootDir, `.siteloom-backups/other/${run}`);
    await mkdir(other, { recursive: true });
    await writeFile(join(other, "keep.txt"), "not ours");
    await server.own(join(server.rootDir, ".siteloom-backups"));
    const forged = createManifest({
      ...manifest,
      backups: [{ ...manifest.backups[0], dir: `.siteloom-backups/other/${run}` }],
    });
    await writeFile(file, JSON.stringify(forged));
    await server.own(file);
    const purge = await cli(ws, ["deploy", "demo", "--purge", "--yes", "--json"]);
    expect(purge.code, purge.stderr).toBe(0);
    expect(JSON.parse(purge.stdout).notes.join("\n")).toMatch(/left the backup folder ".*other.*" alone/);
    expect(await readFile(join(other, "keep.txt"), "utf8")).toBe("not ours");

    const inside = kind === "sftp" ? `${server.rootDir}/site/.old` : "/site/.old";
    await writeFile(
      join(site, "site.yaml"),
      JSON.stringify({ remote: { ...server.remoteConfig, ...inSubFolder() }, deploy: { backupDir: inside } }),
    );
    const bad = await cli(ws, ["deploy", "demo"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/deploy.backupDir ".*" must be a folder outside remote.root/);
    expect(bad.stderr.trim().split("\n").length).toBe(1);
  });

  it("a backupDir that is inside remote.root on the server is refused in one line; auto through a symlink stays inside", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const { ws, site, output, live } = await firstDeployInSubFolder();
    const before = await readFile(join(output, "index.html"));
    const first = await snapshot(live);
    // relative to the login folder beside an absolute remote.root: the same folder only the server can tell
    await writeFile(
      join(site, "site.yaml"),
      JSON.stringify({ remote: { ...server.remoteConfig, ...inSubFolder() }, deploy: { backupDir: "site/old" } }),
    );
    await writeFile(join(output, "index.html"), "<p>v2</p>");
    const bad = await cli(ws, ["deploy", "demo"]);
    expect(bad.code, bad.stderr).toBe(3);
    expect(bad.stderr.match(/^error: /gm), bad.stderr).toHaveLength(1);
    expect(bad.stderr).toMatch(/deploy.backupDir: the backup root "site\/old" is inside remote.root on the server/);
    expect(await snapshot(live)).toEqual(first);

    // auto, with .siteloom-backups a symlink into the web root: kept inside (deny-all), with the note
    await symlink("site", join(server.rootDir, ".siteloom-backups"));
    await writeFile(join(site, "site.yaml"), JSON.stringify({ remote: { ...server.remoteConfig, ...inSubFolder() } }));
    const auto = await cli(ws, ["deploy", "demo", "--json"]);
    expect(auto.code, auto.stderr).toBe(0);
    expect(JSON.parse(auto.stdout).notes.join("\n")).toMatch(/backups kept inside remote.root .*inside remote.root on/);
    const [run] = await readdir(join(live, ".siteloom/backups"));
    expect(await readFile(join(live, ".siteloom/backups", run!, "index.html"))).toEqual(before);
    expect(await readdir(live)).not.toContain("site");
    const back = await cli(ws, ["deploy", "demo", "--rollback"]);
    expect(back.code, back.stderr).toBe(0);
    expect(await snapshot(live)).toEqual(first);
  });

  it("--to returns over several deploys; retention keeps the last N; unknown runs are refused in one line", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await clearRemote();
    const { ws, output } = await workspace({ backups: 2 });
    await writeSite(output);
    const deployed: { id: string; tree: Awaited<ReturnType<typeof snapshot>> }[] = [];
    for (let v = 1; v <= 4; v++) {
      if (v > 1) await writeFile(join(output, "index.html"), `<p>v${v}</p>`);
      if (v === 3) await writeFile(join(output, "v3-only.html"), "three");
      const r = await cli(ws, ["deploy", "demo", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      deployed.push({ id: JSON.parse(r.stdout).manifestId, tree: await snapshot(server.rootDir) });
    }
    // two deploys kept: the folders of older ones are gone from the server
    expect((await readdir(join(server.rootDir, ".siteloom/backups"))).length).toBe(2);
    const unknown = await cli(ws, ["deploy", "demo", "--rollback", "--to", deployed[0]!.id.slice(0, 8)]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no deploy ".*" among the ones kept for rollback/);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);

    const to = await cli(ws, ["deploy", "demo", "--rollback", "--to", deployed[1]!.id.slice(0, 8), "--json"]);
    expect(to.code, to.stderr).toBe(0);
    expect(JSON.parse(to.stdout).plan.undo).toEqual([deployed[3]!.id, deployed[2]!.id]);
    expect(await snapshot(server.rootDir)).toEqual(deployed[1]!.tree);
    const none = await cli(ws, ["deploy", "demo", "--rollback"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to roll back/);
  });

  it("kill -9 during a rollback, then rerun: the server ends byte-identical to after the first deploy", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await clearRemote();
    // with the backups outside remote.root
    const { ws, output } = await workspace({ parallel: 1 }, inSubFolder());
    const live = await subFolder();
    await writeSite(output, { extra: pages(1) });
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    const first = await snapshot(live);
    await writeSite(output, { extra: pages(2) });
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);

    // restores go in path order, one at a time: kill once the 30th page is back to its first version
    await killOnceWritten(ws, ["deploy", "demo", "--rollback"], join(live, "pages/p030.html"), 1);
    const half = await snapshot(live);
    expect(half).not.toEqual(first);

    const rerun = await cli(ws, ["deploy", "demo", "--rollback"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await snapshot(live)).toEqual(first);
    expect(await runs(join(server.rootDir, ".siteloom-backups/site"))).toEqual([]);
  });

  it("kill -9 during a deploy, backupDir changed, rerun: one line, nothing moved; with the old setting it completes", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await clearRemote();
    // the killed run keeps its backups beside remote.root (auto); the rerun's configuration names another folder
    const { ws, site, output } = await workspace({ parallel: 1 }, inSubFolder());
    const live = await subFolder();
    const kept = join(server.rootDir, ".siteloom-backups/site");
    await writeSite(output, { extra: pages(1) });
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    await writeSite(output, { extra: pages(2) });
    await killOnceWritten(ws, ["deploy", "demo"], join(live, "pages/p030.html"), 2);
    const [killed] = await runs(kept);
    expect(killed).toBeDefined();
    const half = await snapshot(server.rootDir);

    const settings = (deploy: Record<string, unknown>) =>
      writeFile(
        join(site, "site.yaml"),
        JSON.stringify({
          remote: { ...server.remoteConfig, ...inSubFolder() },
          deploy: { parallel: 1, retryBaseMs: 20, retryMaxMs: 200, ...deploy },
        }),
      );
    for (const backupDir of ["inside", kind === "sftp" ? `${server.rootDir}/elsewhere` : "/elsewhere"]) {
      await settings({ backupDir });
      const refused = await cli(ws, ["deploy", "demo"]);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/the interrupted deploy .* keeps its backups in .*set deploy.backupDir back/);
      // one error line (beside the note that the killed run's lock was taken over)
      expect(refused.stderr.split("\n").filter((line) => line.startsWith("error:")).length, refused.stderr).toBe(1);
      expect(await snapshot(server.rootDir)).toEqual(half);
    }

    await settings({ backupDir: "auto" });
    const rerun = await cli(ws, ["deploy", "demo"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await snapshot(live)).toEqual(await snapshot(output));
    // every replaced version is in the killed run's folder, which the manifest names
    expect(await runs(kept)).toEqual([killed]);
    expect((await readdir(join(kept, killed!, "pages"))).length).toBe(300);
    const manifest = JSON.parse(await readFile(join(live, ".siteloom/manifest.json"), "utf8"));
    expect(manifest.backups[0].dir).toMatch(new RegExp(`/${killed}$`));
  });
});

/** 300 pages of about 6 kB, version `v` (its bytes are 64 + v). */
function pages(v: number): Record<string, Buffer> {
  const extra: Record<string, Buffer> = {};
  for (let i = 0; i < 300; i++) extra[`pages/p${String(i).padStart(3, "0")}.html`] = Buffer.alloc(6000 + i, 64 + v);
  return extra;
}

/** The run folders in a backup root (its deny-all .htaccess aside). */
async function runs(root: string): Promise<string[]> {
  return (await readdir(root)).filter((name) => name !== ".htaccess");
}
