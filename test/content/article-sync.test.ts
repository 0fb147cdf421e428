import { existsSync } from "node:fs";
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createPostgresStore, type StateStore } from "../../src/store/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

// Spawned CLIs and a real PostgreSQL on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// `siteloom articles export/import` against a real PostgreSQL store: what each side sees after edits on one side, on
// the other, on both, and an older copy imported again.

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

let databases = 0;

async function workspace(): Promise<{ root: string; env: Record<string, string>; store: StateStore }> {
  const url = await pg.createDatabase(`article_sync_${++databases}`);
  const root = join(await useTempDir(), "ws");
  expect((await runCli(["init", root, "--example"])).code).toBe(0);
  await appendFile(
    join(root, "siteloom.yaml"),
    "\nenv: [SYNC_STORE_URL]\nstore:\n  url: ${SYNC_STORE_URL}\nllm:\n  provider: offline\n",
  );
  const env = { SYNC_STORE_URL: url };
  const generated = await runCli(["generate", "example"], { cwd: root, env });
  expect(generated.code, generated.stderr).toBe(0);
  return { root, env, store: createPostgresStore({ url }) };
}

async function stored(store: StateStore, slug: string): Promise<{ text: string; version: number }> {
  const doc = await store.getDocument<string>("articles", `example/${slug}`);
  if (doc === undefined) throw new Error(`${slug} is not in the store`);
  return { text: doc.value, version: doc.version };
}

async function edit(file: string, title: string): Promise<void> {
  const article = JSON.parse(await readFile(file, "utf8")) as { title: string };
  await writeFile(file, `${JSON.stringify({ ...article, title }, null, 2)}\n`);
}

describe("articles export/import with a PostgreSQL store", () => {
  it("generate stores every article; export writes them; an edited file is imported; an older copy is skipped", async () => {
    const { root, env, store } = await workspace();
    try {
      const local = (await readdir(join(root, "sites/example/articles"))).filter((n) => !n.startsWith("."));
      expect(local.length).toBeGreaterThan(1);
      const slugs = local.map((n) => n.replace(/\.json$/, "")).sort();
      const [first, second] = slugs as [string, string];
      expect((await stored(store, first)).text).toBe(
        await readFile(join(root, `sites/example/articles/${first}.json`), "utf8"),
      );

      const dir = join(root, "..", "exported");
      const exported = await runCli(["articles", "export", "example", dir, "--json"], { cwd: root, env });
      expect(exported.code, exported.stderr).toBe(0);
      expect(JSON.parse(exported.stdout)).toMatchObject({ written: slugs, unchanged: 0, kept: [] });
      // a copy kept aside: the state of the folder at this export
      const aside = join(root, "..", "aside");
      await mkdir(aside);
      for (const name of await readdir(dir)) await writeFile(join(aside, name), await readFile(join(dir, name)));

      // edited in the folder, imported: the store takes it
      await edit(join(dir, `${first}.json`), "Edited in git");
      const imported = await runCli(["articles", "import", "example", dir, "--json"], { cwd: root, env });
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toMatchObject({ added: [], updated: [first], unchanged: slugs.length - 1 });
      expect(JSON.parse((await stored(store, first)).text).title).toBe("Edited in git");

      // the copy from before that import is an older copy: skipped with a warning, the store keeps the newer text
      const older = await runCli(["articles", "import", "example", aside], { cwd: root, env });
      expect(older.code, older.stderr).toBe(0);
      expect(older.stderr).toContain(`${first}: an older copy`);
      expect(JSON.parse((await stored(store, first)).text).title).toBe("Edited in git");

      // a pipeline step on this machine brings its working copy in step (it was not edited here)
      const again = await runCli(["generate", "example"], { cwd: root, env });
      expect(again.code, again.stderr).toBe(0);
      const working = JSON.parse(await readFile(join(root, `sites/example/articles/${first}.json`), "utf8"));
      expect(working.title).toBe("Edited in git");

      // a new file in the folder is added; an invalid one stops the whole import
      await writeFile(join(dir, `${second}.json`), "{ not json");
      const invalid = await runCli(["articles", "import", "example", dir], { cwd: root, env });
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(/not valid articles; nothing was imported/);
      expect(invalid.stderr).toContain(`${second}.json: not valid JSON`);
      expect(invalid.stderr).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      await store.close();
    }
  });

  it("an article edited in the folder and in the store is a conflict: nothing imported, unless --force", async () => {
    const { root, env, store } = await workspace();
    try {
      const dir = join(root, "..", "exported");
      expect((await runCli(["articles", "export", "example", dir], { cwd: root, env })).code).toBe(0);
      const slugs = (await readdir(dir)).filter((n) => !n.startsWith(".")).map((n) => n.replace(/\.json$/, ""));
      const [a, b] = slugs.sort() as [string, string];
      // edited in the store (another machine's import), and in the folder
      const other = join(root, "..", "other");
      expect((await runCli(["articles", "export", "example", other], { cwd: root, env })).code).toBe(0);
      await edit(join(other, `${a}.json`), "Their edit");
      expect((await runCli(["articles", "import", "example", other], { cwd: root, env })).code).toBe(0);
      await edit(join(dir, `${a}.json`), "My edit");
      await edit(join(dir, `${b}.json`), "Only mine");
      const before = await stored(store, b);

      const refused = await runCli(["articles", "import", "example", dir], { cwd: root, env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/1 article\(s\) were edited both in .* and in the store .*nothing was imported/);
      expect(refused.stderr).toContain(a);
      expect(await stored(store, b)).toEqual(before); // the clean edit was not imported either
      expect(JSON.parse((await stored(store, a)).text).title).toBe("Their edit");

      // export keeps the folder's edited file (and says so) unless --force
      const kept = await runCli(["articles", "export", "example", dir], { cwd: root, env });
      expect(kept.code).toBe(0);
      expect(kept.stderr).toContain(`${a}: edited in`);
      expect(JSON.parse(await readFile(join(dir, `${a}.json`), "utf8")).title).toBe("My edit");

      const forced = await runCli(["articles", "import", "example", dir, "--force", "--json"], { cwd: root, env });
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ updated: [b], conflicts: [a] });
      expect(JSON.parse((await stored(store, a)).text).title).toBe("My edit");
      expect(JSON.parse((await stored(store, b)).text).title).toBe("Only mine");
    } finally {
      await store.close();
    }
  });

  it("review on another machine: its empty folder shows the store's articles, and a rejection reaches the store", async () => {
    const { root, env, store } = await workspace();
    try {
      // machine B shares nothing with A but the database: its folder holds only the configuration
      const other = join(root, "..", "b");
      await mkdir(join(other, "sites/example"), { recursive: true });
      for (const file of ["siteloom.yaml", "sites/example/site.yaml", "sites/example/topics.csv"]) {
        await writeFile(join(other, file), await readFile(join(root, file)));
      }
      const listed = await runCli(["articles", "list", "--site", "example", "--json"], { cwd: other, env });
      expect(listed.code, listed.stderr).toBe(0);
      const slugs = (JSON.parse(listed.stdout) as { articles: { slug: string }[] }).articles.map((a) => a.slug);
      const local = (await readdir(join(root, "sites/example/articles"))).filter((n) => !n.startsWith("."));
      expect(slugs.sort()).toEqual(local.map((n) => n.replace(/\.json$/, "")).sort());

      const [slug] = slugs as [string];
      const rejected = await runCli(["articles", "reject", "example", slug, "--reason", "off topic"], {
        cwd: other,
        env,
      });
      expect(rejected.code, rejected.stderr).toBe(0);
      expect(JSON.parse((await stored(store, slug)).text)).toMatchObject({ status: "rejected" });
      // machine A, whose copy was not edited, sees the rejection
      const shown = await runCli(["articles", "show", "example", slug, "--json"], { cwd: root, env });
      expect(shown.code, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ status: "rejected", lastReview: { reason: "off topic" } });
    } finally {
      await store.close();
    }
  });

  it("articles written before the store had them (SQLite before, or killed before the store write) are stored", async () => {
    const url = await pg.createDatabase(`article_sync_${++databases}`);
    const root = join(await useTempDir(), "ws");
    expect((await runCli(["init", root, "--example"])).code).toBe(0);
    await appendFile(join(root, "siteloom.yaml"), "\nllm:\n  provider: offline\n");
    const generated = await runCli(["generate", "example"], { cwd: root });
    expect(generated.code, generated.stderr).toBe(0);
    const local = (await readdir(join(root, "sites/example/articles"))).filter((n) => !n.startsWith("."));
    expect(local.length).toBeGreaterThan(1);
    // the workspace moves to PostgreSQL: the next command that reads the articles stores them
    await appendFile(join(root, "siteloom.yaml"), "env: [SYNC_STORE_URL]\nstore:\n  url: ${SYNC_STORE_URL}\n");
    const env = { SYNC_STORE_URL: url };
    const listed = await runCli(["articles", "list", "--site", "example"], { cwd: root, env });
    expect(listed.code, listed.stderr).toBe(0);
    const store = createPostgresStore({ url });
    try {
      for (const name of local) {
        expect((await stored(store, name.replace(/\.json$/, ""))).text).toBe(
          await readFile(join(root, "sites/example/articles", name), "utf8"),
        );
      }
    } finally {
      await store.close();
    }
  });

  it("with the embedded SQLite store, the folder is the articles: export and import say so", async () => {
    const root = join(await useTempDir(), "ws");
    expect((await runCli(["init", root, "--example"])).code).toBe(0);
    const result = await runCli(["articles", "export", "example", join(root, "..", "out")], { cwd: root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/articles live in sites\/example\/articles\/ with the embedded store \(sqlite\)/);
    expect(existsSync(join(root, "..", "out"))).toBe(false);
    await rm(join(root, ".siteloom"), { recursive: true, force: true });
  });
});
