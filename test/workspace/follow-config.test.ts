import { existsSync } from "node:fs";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configLockFile, withConfigFileLock } from "../../src/config/index.ts";
import { createLogger } from "../../src/log/index.ts";
import { pushConfigFiles } from "../../src/server/index.ts";
import { openStateStore } from "../../src/store/index.ts";
import { addSite, followConfigVersions } from "../../src/workspace/index.ts";
import { writeTestWorkspace } from "../content/support/workspace.ts";
import { useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

// a real PostgreSQL on a busy shared machine: a timeout is not a finding
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const VARS = { LLM_KEY: "test-key" };

describe("workspace: following the recorded configuration versions", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("removes a site's emptied folder under its site.yaml's lock: a site add of that name waiting there creates it anew", async () => {
    const base = await useTempDir("siteloom-follow-");
    const laptop = join(base, "laptop");
    const work = join(base, "worker");
    await writeTestWorkspace(laptop, { site: "shop" });
    await addSite({ root: laptop, name: "blog", domain: "blog.example.com" });
    await cp(laptop, work, { recursive: true });
    // the worker's blog folder holds what following gave it: the site.yaml only
    await rm(join(work, "sites", "blog", "topics.csv"));
    const store = openStateStore({ stateDir: join(base, "state"), url: await pg.createDatabase("follow_rmdir") });
    const blogFile = join(work, "sites", "blog", "site.yaml");
    const lines: string[] = [];
    // the follower reports the version written while it still holds the files' locks: is the folder gone by then?
    let folderWhenReported: boolean | undefined;
    const write = (line: string) => {
      lines.push(line);
      if (/"removed":\["sites\/blog\/site.yaml"\]/.test(line)) folderWhenReported = existsSync(dirname(blogFile));
    };
    const logger = createLogger({ destination: { write } });
    const follower = followConfigVersions({ root: work, store, vars: VARS, logger });
    if (!follower) throw new Error("PostgreSQL pushes configuration versions");
    let holding = () => {};
    try {
      await pushConfigFiles({ root: laptop, store, message: "with blog", vars: VARS });
      await follower.check();
      // the site's lock is held (as a CLI write would) while the version without the site arrives
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const holder = withConfigFileLock([blogFile], () => held);
      await rm(join(laptop, "sites", "blog"), { recursive: true });
      // siteloom.yaml changes too, so the follower locks it (it locks only what a version changes or removes)
      const wsFile = join(laptop, "siteloom.yaml");
      await writeFile(wsFile, `${await readFile(wsFile, "utf8")}# without blog\n`);
      await pushConfigFiles({ root: laptop, store, message: "without blog", vars: VARS });
      const checked = follower.check();
      // the follower takes the locks in order: siteloom.yaml's first, then it waits for the site's
      const workspaceLock = configLockFile(join(work, "siteloom.yaml"));
      for (let i = 0; !existsSync(workspaceLock); i++) {
        if (i > 2000) throw new Error(`the follower never locked siteloom.yaml: ${lines.join("")}`);
        await sleep(5);
      }
      await sleep(50);
      // `site add blog` in this folder, as the CLI runs it: under the new site.yaml's lock, queued behind the follower
      const added = withConfigFileLock([blogFile], () =>
        addSite({ root: work, name: "blog", domain: "new-blog.example.com" }),
      );
      holding();
      await holder;
      await checked;
      await expect(added).resolves.toMatchObject({ dir: join(work, "sites", "blog") });
      expect(await readFile(blogFile, "utf8")).toContain("new-blog.example.com");
      expect(lines.join("")).toMatch(/"removed":\["sites\/blog\/site.yaml"\].*pushed version written/);
      expect(folderWhenReported).toBe(false);
      expect(existsSync(configLockFile(blogFile))).toBe(false);
    } finally {
      holding();
      await follower.close();
      await store.close();
    }
  });

  it("writes a new site's folder and removes it again, leaving the site's own files and other sites alone", async () => {
    const base = await useTempDir("siteloom-follow-add-");
    const laptop = join(base, "laptop");
    const work = join(base, "worker");
    await writeTestWorkspace(laptop, { site: "shop" });
    await cp(laptop, work, { recursive: true });
    const store = openStateStore({ stateDir: join(base, "state"), url: await pg.createDatabase("follow_add") });
    const follower = followConfigVersions({ root: work, store, vars: VARS });
    if (!follower) throw new Error("PostgreSQL pushes configuration versions");
    try {
      await pushConfigFiles({ root: laptop, store, message: "one site", vars: VARS });
      await follower.check();
      await addSite({ root: laptop, name: "blog", domain: "blog.example.com" });
      await addSite({ root: laptop, name: "news", domain: "news.example.com" });
      await pushConfigFiles({ root: laptop, store, message: "two sites", vars: VARS });
      await follower.check();
      expect(await readFile(join(work, "sites", "blog", "site.yaml"), "utf8")).toContain("blog.example.com");
      // topics written here stay when the site goes
      await writeFile(join(work, "sites", "news", "topics.csv"), "topic,keywords\nLocal news,town\n");
      await rm(join(laptop, "sites", "blog"), { recursive: true });
      await rm(join(laptop, "sites", "news"), { recursive: true });
      await pushConfigFiles({ root: laptop, store, message: "no more", vars: VARS });
      await follower.check();
      expect(existsSync(join(work, "sites", "blog"))).toBe(false);
      expect(existsSync(join(work, "sites", "news", "site.yaml"))).toBe(false);
      expect(await readFile(join(work, "sites", "news", "topics.csv"), "utf8")).toContain("Local news");
      expect(existsSync(join(work, "sites", "shop", "site.yaml"))).toBe(true);
      // no lock left behind, in the site folders or beside them
      const entries = [
        ...(await readdir(work)),
        ...(await readdir(join(work, "sites"))),
        ...(await readdir(join(work, "sites", "news"))),
      ];
      expect(entries.filter((name) => name.endsWith(".lock"))).toEqual([]);
    } finally {
      await follower.close();
      await store.close();
    }
  });
});
