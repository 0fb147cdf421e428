import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configLockFile } from "../../src/config/index.ts";
import { openStateStore } from "../../src/store/index.ts";
import { addSite } from "../../src/workspace/index.ts";
import { writeTestWorkspace } from "../content/support/workspace.ts";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type Proc, spawnCli } from "./support.ts";

// Spawned CLIs and a real PostgreSQL on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

/** Debian's unprivileged user, who may read the test's folders but not write them. */
const NOBODY = { uid: 65534, gid: 65534 };
// running the CLI as nobody needs root here and a checkout nobody can read (a clone inside a 0700 folder is not)
const NOBODY_CAN_RUN =
  process.getuid?.() === 0 &&
  spawnSync(process.execPath, ["-e", "require('node:fs').accessSync(process.argv[1], 4)", BIN], NOBODY).status === 0;

// The CLI commands that write configuration files record a version as the API's writes do, so a worker in another
// folder (another machine: nothing shared but PostgreSQL) writes the change into its own files.
describe("queue: CLI writes of configuration files reach other machines", () => {
  let pg: TestPostgres;
  const procs: Proc[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await pg?.stop();
  });

  it("site add, secrets migrate and site remove each record a version that a worker's folder follows (removal too)", async () => {
    const base = await useTempDir("siteloom-cli-writes-");
    const url = await pg.createDatabase("cli_writes");
    const laptop = join(base, "laptop");
    const work = join(base, "worker");
    await writeTestWorkspace(laptop, {
      site: "shop",
      workspace: { env: ["CLI_WRITES_PG_URL"], store: { url: "${CLI_WRITES_PG_URL}" } },
    });
    await cp(laptop, work, { recursive: true });
    const env = { CLI_WRITES_PG_URL: url, XDG_CONFIG_HOME: join(base, "xdg"), NO_COLOR: "1" };
    const cli = (...args: string[]) => runCli(["--workspace", laptop, ...args], { env });
    const workCli = (...args: string[]) => runCli(["--workspace", work, ...args], { env });
    const versions = () =>
      pg.query<{ id: number; source: string; diff: string; snapshot: string }>(
        "SELECT id, source, diff, snapshot FROM config_versions ORDER BY id",
        [],
        "cli_writes",
      );
    const followed = async (name: string, present = true) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const here = await readFile(join(laptop, name), "utf8").catch(() => undefined);
        const there = await readFile(join(work, name), "utf8").catch(() => undefined);
        if (present ? here !== undefined && here === there : there === undefined) return;
        if (Date.now() > deadline) throw new Error(`${name} did not reach the worker's folder: ${worker.output()}`);
        await sleep(50);
      }
    };
    expect((await cli("config", "push")).code).toBe(0);
    const worker = spawnCli(work, env, ["worker"], procs);
    await worker.waitFor(/taking jobs/);

    // site add: a new site.yaml, recorded with the command as its message
    const added = await cli(
      ...["site", "add", "blog", "--domain", "blog.example.com", "--protocol", "ftp", "--host", "127.0.0.1"],
      ...["--user", "blog"],
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).not.toContain("not recorded");
    await followed("sites/blog/site.yaml");
    const [, second] = await versions();
    expect(second).toMatchObject({ id: 2, source: "cli" });
    expect(JSON.parse(second!.diff)).toMatchObject({ message: "siteloom site add blog" });
    expect(Object.keys(JSON.parse(second!.snapshot).files)).toContain("sites/blog/site.yaml");

    // secrets migrate: the plaintext password typed into site.yaml by hand becomes a reference; the version
    // recorded holds the reference, and the password never reached the store
    expect((await cli("secrets", "init")).code).toBe(0);
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const siteFile = join(laptop, "sites/blog/site.yaml");
    const withReference = await readFile(siteFile, "utf8");
    expect(withReference).toContain("secret://blog/FTP_PASSWORD");
    // (with another host, typed in the same edit: the version differs from the last one by that)
    const edited = withReference.replace("secret://blog/FTP_PASSWORD", password).replace("127.0.0.1", "localhost");
    expect(edited).toContain("host: localhost");
    await writeFile(siteFile, edited);
    const migrated = await cli("secrets", "migrate");
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stderr).not.toContain("not recorded");
    expect(await readFile(siteFile, "utf8")).toContain("secret://blog/FTP_PASSWORD");
    await followed("sites/blog/site.yaml");
    const third = (await versions())[2];
    expect(third).toMatchObject({ id: 3, source: "cli" });
    expect(JSON.parse(third!.diff).message).toMatch(/^siteloom secrets migrate/);
    expect(await readFile(join(work, "sites/blog/site.yaml"), "utf8")).toContain("host: localhost");
    expect(JSON.stringify(await versions())).not.toContain(password);

    // site remove: the version no longer has the site, and the worker's folder follows: its site.yaml (and the
    // folder, which held nothing else) goes; a site added there by hand, never recorded, is not the store's to delete
    const mine = join(work, "sites/mine/site.yaml");
    await mkdir(join(work, "sites/mine"), { recursive: true });
    await writeFile(mine, "domain: mine.example.com\n");
    expect((await workCli("site", "list")).stdout).toMatch(/^blog\s/m);
    const removed = await cli("site", "remove", "blog", "--yes");
    expect(removed.code, removed.stderr).toBe(0);
    const fourth = (await versions())[3];
    expect(fourth).toMatchObject({ id: 4, source: "cli" });
    expect(Object.keys(JSON.parse(fourth!.snapshot).files)).toEqual(["siteloom.yaml", "sites/shop/site.yaml"]);
    await followed("sites/blog/site.yaml", false);
    // the emptied folder goes just after (once the file's lock is released)
    for (const deadline = Date.now() + 10_000; existsSync(join(work, "sites/blog")); await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`sites/blog/ stayed in the worker's folder: ${worker.output()}`);
    }
    const listed = await workCli("site", "list");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toMatch(/^blog\s/m);
    expect(listed.stdout).toMatch(/^shop\s/m);
    expect(await readFile(mine, "utf8")).toBe("domain: mine.example.com\n");
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);

    // a folder behind the store: another machine recorded a change of siteloom.yaml; a site add here writes its
    // site.yaml but records nothing, since recording this folder would undo that change
    await rm(join(work, "sites/mine"), { recursive: true, force: true });
    const wsFile = join(work, "siteloom.yaml");
    await writeFile(wsFile, `${await readFile(wsFile, "utf8")}\n# changed on the other machine\n`);
    const pushed = await runCli(["--workspace", work, "config", "push", "--message", "elsewhere"], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const recorded = (await versions()).length;
    const stale = await cli("site", "add", "late", "--domain", "late.example.com");
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stderr).toMatch(/not recorded as a version \(siteloom\.yaml differs from the latest recorded version/);
    expect(existsSync(join(laptop, "sites/late/site.yaml"))).toBe(true);
    expect(await versions()).toHaveLength(recorded);
    expect(JSON.parse((await versions()).at(-1)!.snapshot).files["siteloom.yaml"]).toContain("changed on the other");
  });

  it("init --force records the rewritten siteloom.yaml, and a worker's folder follows it", async () => {
    const base = await useTempDir("siteloom-cli-writes-init-");
    const url = await pg.createDatabase("cli_writes_init");
    const laptop = join(base, "laptop");
    const work = join(base, "worker");
    await writeTestWorkspace(laptop, { site: "shop" });
    await cp(laptop, work, { recursive: true });
    // the store comes from the environment: the fresh siteloom.yaml names none
    const env = { SITELOOM_STORE: url, XDG_CONFIG_HOME: join(base, "xdg"), NO_COLOR: "1" };
    expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
    const worker = spawnCli(work, env, ["worker"], procs);
    await worker.waitFor(/taking jobs/);

    const before = await readFile(join(laptop, "siteloom.yaml"), "utf8");
    // every follower would take the defaults: not without a confirmation (no terminal here: --yes)
    const asked = await runCli(["init", laptop, "--force"], { env });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("every machine following this workspace's store");
    expect(asked.stderr).toContain("pass --yes");
    expect(await readFile(join(laptop, "siteloom.yaml"), "utf8")).toBe(before);
    const init = await runCli(["init", laptop, "--force", "--yes"], { env });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).not.toContain("not recorded");
    const fresh = await readFile(join(laptop, "siteloom.yaml"), "utf8");
    expect(fresh).not.toBe(before);
    const deadline = Date.now() + 30_000;
    while ((await readFile(join(work, "siteloom.yaml"), "utf8")) !== fresh) {
      if (Date.now() > deadline) throw new Error(`siteloom.yaml did not reach the worker's folder: ${worker.output()}`);
      await sleep(50);
    }
    const rows = await pg.query<{ source: string; diff: string; snapshot: string }>(
      "SELECT source, diff, snapshot FROM config_versions ORDER BY id",
      [],
      "cli_writes_init",
    );
    expect(rows).toHaveLength(2);
    expect(rows[1]!.source).toBe("cli");
    expect(JSON.parse(rows[1]!.diff).message).toBe("siteloom init --force");
    expect(JSON.parse(rows[1]!.snapshot).files["siteloom.yaml"]).toBe(fresh);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });

  it("init --force on SQLite records a version in state.db (one machine: the server's history has it)", async () => {
    const root = join(await useTempDir("siteloom-cli-writes-init-sqlite-"), "ws");
    expect((await runCli(["init", root])).code).toBe(0);
    await writeFile(join(root, "siteloom.yaml"), `${await readFile(join(root, "siteloom.yaml"), "utf8")}\n# edited\n`);
    expect((await runCli(["--workspace", root, "config", "push"])).code).toBe(0);
    const init = await runCli(["init", root, "--force"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toBe("");
    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    try {
      const latest = await store.latestConfigVersion();
      if (!latest) throw new Error("no configuration version recorded");
      expect(latest.source).toBe("cli");
      expect((latest.diff as { message?: string }).message).toBe("siteloom init --force");
      const files = (latest.snapshot as { files: Record<string, string> }).files;
      expect(files["siteloom.yaml"]).toBe(await readFile(join(root, "siteloom.yaml"), "utf8"));
      expect(files["siteloom.yaml"]).not.toContain("# edited");
    } finally {
      await store.close();
    }
  });

  it.runIf(NOBODY_CAN_RUN)(
    "a folder this user cannot write: a CLI write fails at once with ERR_PERMISSIONS, a worker follows nothing into it",
    async () => {
      // one rule (config/update.ts checkWritableFolder) for both: the lock refuses the folder, the follower skips it
      const base = await useTempDir("siteloom-cli-writes-ro-");
      await chmod(base, 0o755);
      const url = await pg.createDatabase("cli_writes_ro");
      const laptop = join(base, "laptop");
      const mounted = join(base, "mounted");
      await writeTestWorkspace(laptop, { site: "shop" });
      await cp(laptop, mounted, { recursive: true });
      const env = await nobodyEnv(base, url);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);

      const use = await runCli(["--workspace", mounted, "secrets", "backend", "use", "env"], { env, user: NOBODY });
      expect(use.code).not.toBe(0);
      expect(use.stderr).toContain(`siteloom.yaml cannot be changed here: ${mounted} is not writable by this user`);

      // a version the mounted folder does not have: the worker says the folder is read-only and leaves its files
      const wsFile = join(laptop, "siteloom.yaml");
      await writeFile(wsFile, `${await readFile(wsFile, "utf8")}# pushed\n`);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      const before = await readFile(join(mounted, "siteloom.yaml"), "utf8");
      const worker = spawnCli(mounted, env, ["worker"], procs, NOBODY);
      await worker.waitFor(/taking jobs/);
      await worker.waitFor(/the workspace is read-only here/);
      expect(await readFile(join(mounted, "siteloom.yaml"), "utf8")).toBe(before);
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    },
  );

  it.runIf(NOBODY_CAN_RUN)(
    "a site folder this user cannot write, in a folder it can: a worker leaves it with one note a version, no failed write",
    async () => {
      const base = await useTempDir("siteloom-cli-writes-ro-site-");
      await chmod(base, 0o755);
      const url = await pg.createDatabase("cli_writes_ro_site");
      const laptop = join(base, "laptop");
      const mounted = join(base, "mounted");
      await writeTestWorkspace(laptop, { site: "shop" });
      await cp(laptop, mounted, { recursive: true });
      // the workspace is the worker's, the shop's folder (and what it holds) another owner's
      const own = spawnSync("chown", ["-R", `${NOBODY.uid}:${NOBODY.gid}`, mounted]);
      expect(own.status, String(own.stderr)).toBe(0);
      const shop = join(mounted, "sites", "shop");
      await chown(shop, 0, 0);
      await chown(join(shop, "site.yaml"), 0, 0);
      const env = await nobodyEnv(base, url);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      // two versions the shop's folder here does not have: one note each, and its files stay
      const siteFile = join(laptop, "sites", "shop", "site.yaml");
      const before = await readFile(join(shop, "site.yaml"), "utf8");
      await writeFile(siteFile, `${before}# pushed once\n`);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      const worker = spawnCli(mounted, env, ["worker"], procs, NOBODY);
      await worker.waitFor(/taking jobs/);
      await worker.waitFor(/the workspace is read-only here/);
      await writeFile(siteFile, `${before}# pushed twice\n`);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      await worker.waitFor(/read-only here[\s\S]*read-only here/);
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
      const notes = worker
        .output()
        .split("\n")
        .filter((line) => line.includes("read-only here"));
      expect(notes).toHaveLength(2);
      for (const note of notes) expect(note).toContain(shop);
      expect(worker.output()).not.toContain("could not follow");
      expect(await readFile(join(shop, "site.yaml"), "utf8")).toBe(before);
    },
  );

  it.runIf(NOBODY_CAN_RUN)(
    "an unchanged site folder this user cannot write: a worker still follows changes to another site and siteloom.yaml",
    async () => {
      const base = await useTempDir("siteloom-cli-writes-ro-other-");
      await chmod(base, 0o755);
      const url = await pg.createDatabase("cli_writes_ro_other");
      const laptop = join(base, "laptop");
      const mounted = join(base, "mounted");
      await writeTestWorkspace(laptop, { site: "shop" });
      await addSite({ root: laptop, name: "blog", domain: "blog.example.com" });
      await cp(laptop, mounted, { recursive: true });
      // the workspace is the worker's, the blog's folder (which no version changes) another owner's
      const own = spawnSync("chown", ["-R", `${NOBODY.uid}:${NOBODY.gid}`, mounted]);
      expect(own.status, String(own.stderr)).toBe(0);
      const blog = join(mounted, "sites", "blog");
      await chown(blog, 0, 0);
      await chown(join(blog, "site.yaml"), 0, 0);
      const env = await nobodyEnv(base, url);
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      const worker = spawnCli(mounted, env, ["worker"], procs, NOBODY);
      await worker.waitFor(/taking jobs/);
      // the shop's site.yaml and siteloom.yaml change, the blog's does not
      for (const name of ["siteloom.yaml", "sites/shop/site.yaml"]) {
        await writeFile(join(laptop, name), `${await readFile(join(laptop, name), "utf8")}# pushed\n`);
      }
      expect((await runCli(["--workspace", laptop, "config", "push"], { env })).code).toBe(0);
      // the files followed, or the failure (before the fix: a refused lock on the blog's folder) or a note
      const names = ["siteloom.yaml", "sites/shop/site.yaml", "sites/blog/site.yaml"];
      const same = async () => {
        for (const name of names) {
          if ((await readFile(join(mounted, name), "utf8")) !== (await readFile(join(laptop, name), "utf8")))
            return false;
        }
        return true;
      };
      for (const deadline = Date.now() + 60_000; !(await same()); await sleep(100)) {
        if (Date.now() > deadline || /could not follow|read-only here/.test(worker.output())) break;
      }
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
      for (const name of names) {
        expect(await readFile(join(mounted, name), "utf8"), name).toBe(await readFile(join(laptop, name), "utf8"));
      }
      expect(worker.output()).not.toContain("could not follow");
      expect(worker.output()).not.toContain("read-only here");
    },
  );

  it("secrets migrate asks for the store's passphrase before it locks the configuration files (SQLite, on a terminal)", async () => {
    const base = await useTempDir("siteloom-cli-writes-ask-");
    const root = join(base, "ws");
    const siteDir = await writeTestWorkspace(root, {
      site: "shop",
      workspace: { secrets: { backend: "locked", stores: { locked: { type: "file", passphrase: true } } } },
    });
    const passphrase = `pass-${Math.random().toString(36).slice(2)}`;
    const env = { XDG_CONFIG_HOME: join(base, "xdg"), NO_COLOR: "1" };
    const init = await runCli(["--workspace", root, "secrets", "init"], {
      env: { ...env, SITELOOM_AGE_PASSPHRASE: passphrase },
    });
    expect(init.code, init.stderr).toBe(0);
    // with state.db, the command's writes take the files' locks and record a version
    expect((await runCli(["--workspace", root, "config", "push"], { env })).code).toBe(0);
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const siteFile = join(siteDir, "site.yaml");
    await writeFile(
      siteFile,
      `${await readFile(siteFile, "utf8")}remote:\n  protocol: ftp\n  host: 127.0.0.1\n  user: shop\n  password: ${password}\n`,
    );

    // the passphrase is asked on a terminal only (askHidden): script(1) gives the command one
    const migrate = onTerminal(root, ["secrets", "migrate"], env);
    try {
      await migrate.waitFor(/Passphrase for the development secret store: /);
      const locks = [join(root, "siteloom.yaml"), join(siteDir, "site.yaml")].map(configLockFile);
      expect(locks.filter((lock) => existsSync(lock))).toEqual([]);
      migrate.type(`${passphrase}\r`);
      expect(await migrate.exited, migrate.output()).toBe(0);
    } finally {
      migrate.kill();
    }
    expect(await readFile(siteFile, "utf8")).toContain("password: secret://shop/FTP_PASSWORD");
    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    try {
      const latest = await store.latestConfigVersion();
      expect((latest?.diff as { message?: string } | undefined)?.message).toMatch(/^siteloom secrets migrate/);
      expect(JSON.stringify(latest)).not.toContain(password);
    } finally {
      await store.close();
    }
  });

  it("a workspace with no state yet (SQLite, no state.db) records nothing and gets no state.db from site add", async () => {
    const root = join(await useTempDir("siteloom-cli-writes-sqlite-"), "ws");
    expect((await runCli(["init", root])).code).toBe(0);
    const added = await runCli(["--workspace", root, "site", "add", "blog", "--domain", "blog.example.com"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toBe("");
    expect(existsSync(join(root, ".siteloom", "state.db"))).toBe(false);
  });
});

// --- internal ---

/** The environment of a CLI run as `nobody` on store `url`, with a home folder of its own under `base`. */
async function nobodyEnv(base: string, url: string): Promise<Record<string, string>> {
  const home = join(base, "home");
  await mkdir(home);
  await chown(home, NOBODY.uid, NOBODY.gid);
  return {
    SITELOOM_STORE: url,
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_CACHE_HOME: join(home, "cache"),
    NO_COLOR: "1",
  };
}

/** Runs the built CLI on a pseudo-terminal (util-linux script(1)), for the prompts that need one. */
function onTerminal(root: string, args: string[], env: Record<string, string>) {
  const command = [process.execPath, BIN, "--workspace", root, ...args].map((a) => `'${a}'`).join(" ");
  const base: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("SITELOOM_")) base[key] = value;
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    env: { ...base, ...env } as NodeJS.ProcessEnv,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    exited,
    output: () => out,
    type: (text: string) => child.stdin.write(text),
    kill: () => child.exitCode === null && child.kill("SIGKILL"),
    async waitFor(pattern: RegExp): Promise<void> {
      for (const deadline = Date.now() + 60_000; !pattern.test(out); await sleep(50)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} on the terminal: ${out}`);
      }
    },
  };
}
