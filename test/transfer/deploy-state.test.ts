import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore, createSqliteStore, type StateStore } from "../../src/store/index.ts";
import { createManifest, type Manifest, serializeManifest } from "../../src/transfer/deploy/manifest.ts";
import {
  createDeployState,
  DEPLOY_HEAD_NAMESPACE,
  DEPLOY_MANIFEST_NAMESPACE,
} from "../../src/transfer/deploy/state.ts";
import { useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

// The deploy state (last manifest, remote stamp, journal) lives in the state store, so a machine with an empty
// .siteloom/ resumes another one's deploy. Both stores run the same checks; PostgreSQL is a real server.

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

let databases = 0;
const STORES: { name: string; open: (dir: string) => Promise<StateStore> }[] = [
  { name: "sqlite", open: async (dir) => createSqliteStore({ path: join(dir, "state.db") }) },
  {
    name: "postgres",
    open: async () => createPostgresStore({ url: await pg.createDatabase(`deploy_state_${++databases}`) }),
  },
];

function manifestOf(count: number, previousId?: string): Manifest {
  const files: Manifest["files"] = {};
  for (let i = 0; i < count; i++) files[`pages/p${i}.html`] = { size: i, hash: `h${i}`, mtime: 1_700_000_000_000 + i };
  return createManifest({ previousId, site: "shop", env: "production", files, dirs: ["pages"] });
}

for (const kind of STORES) {
  describe(`deploy state in the ${kind.name} store`, () => {
    it("a machine with an empty state folder reads the manifest, stamp and journal another machine wrote", async () => {
      const dir = await useTempDir();
      const store = await kind.open(dir);
      try {
        const one = createDeployState({ store, stateDir: join(dir, "one"), site: "shop", env: "production" });
        const manifest = manifestOf(50);
        await one.saveManifest(manifest);
        await one.saveStamp(manifest.id, { name: "manifest.json", type: "file", size: 1234, mtime: 1_700_000_000_000 });
        const journal = await one.startJournal({
          kind: "start",
          runId: "abcd1234",
          baseId: manifest.id,
          planned: ["a"],
        });
        for (let i = 0; i < 120; i++)
          await journal.append({ kind: "done", path: `f${i}`, size: i, hash: `h${i}`, mtime: i });
        await journal.append({ kind: "deleted", path: "f3" });
        await journal.close();

        const two = createDeployState({ store, stateDir: join(dir, "two"), site: "shop", env: "production" });
        expect((await two.loadManifest())?.id).toBe(manifest.id);
        expect(existsSync(join(dir, "two", "deploy", "shop.production.json"))).toBe(true);
        expect(await two.loadStamp()).toEqual({ id: manifest.id, size: 1234, mtime: 1_700_000_000_000 });
        const state = await two.loadJournal();
        expect(state?.header.runId).toBe("abcd1234");
        expect(state?.done.size).toBe(119);
        expect(state?.deleted).toEqual(new Set(["f3"]));
        // another target of the same site is separate
        const staging = createDeployState({ store, stateDir: join(dir, "two"), site: "shop", env: "staging" });
        expect(await staging.loadManifest()).toBeUndefined();
        expect(await staging.loadJournal()).toBeUndefined();

        await two.removeJournal();
        expect(await one.loadJournal()).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("an unchanged target is read from the local copy (one small read); a newer deploy elsewhere is fetched", async () => {
      const dir = await useTempDir();
      const store = await kind.open(dir);
      try {
        const one = createDeployState({ store, stateDir: join(dir, "one"), site: "shop", env: "production" });
        const first = manifestOf(10);
        await one.saveManifest(first);
        // the stored manifest is spoiled: a machine whose copy has the head's id never reads it
        await store.putDocument(DEPLOY_MANIFEST_NAMESPACE, "shop.production", "not a manifest");
        const again = createDeployState({ store, stateDir: join(dir, "one"), site: "shop", env: "production" });
        expect((await again.loadManifest())?.id).toBe(first.id);
        // a machine without a copy must read it, and does not trust what fails its checksum
        const fresh = createDeployState({ store, stateDir: join(dir, "fresh"), site: "shop", env: "production" });
        expect(await fresh.loadManifest()).toBeUndefined();

        // another machine deploys: the local copy's id is no longer the head's, so the new manifest is fetched
        const other = createDeployState({ store, stateDir: join(dir, "other"), site: "shop", env: "production" });
        const second = manifestOf(12, first.id);
        await other.saveManifest(second);
        const later = createDeployState({ store, stateDir: join(dir, "one"), site: "shop", env: "production" });
        expect((await later.loadManifest())?.id).toBe(second.id);
        expect(Object.keys((await later.loadManifest())?.files ?? {})).toHaveLength(12);
        const head = await store.getDocument<{ id: string }>(DEPLOY_HEAD_NAMESPACE, "shop.production");
        expect(head?.value.id).toBe(second.id);
      } finally {
        await store.close();
      }
    });

    it("a workspace from before the store kept deploy state is read from its files, then the store takes over", async () => {
      const dir = await useTempDir();
      const store = await kind.open(dir);
      try {
        const stateDir = join(dir, "old");
        const legacy = manifestOf(5);
        await mkdir(join(stateDir, "deploy"), { recursive: true });
        await writeFile(join(stateDir, "deploy", "shop.production.json"), serializeManifest(legacy));
        await writeFile(
          join(stateDir, "deploy", "shop.production.stamp.json"),
          JSON.stringify({ id: legacy.id, size: 9, mtime: 5 }),
        );
        const lines = [
          JSON.stringify({ kind: "start", runId: "r1", baseId: legacy.id, planned: ["x.html"] }),
          JSON.stringify({ kind: "done", path: "x.html", size: 1, hash: "hx", mtime: 1 }),
          '{"kind":"done","pa', // torn by a crash
        ];
        await writeFile(join(stateDir, "deploy", "shop.production.journal"), lines.join("\n"));
        const state = createDeployState({ store, stateDir, site: "shop", env: "production" });
        expect((await state.loadManifest())?.id).toBe(legacy.id);
        expect(await state.loadStamp()).toEqual({ id: legacy.id, size: 9, mtime: 5 });
        expect((await state.loadJournal())?.done.has("x.html")).toBe(true);

        const next = manifestOf(6, legacy.id);
        await state.saveManifest(next);
        await state.removeJournal();
        expect(existsSync(join(stateDir, "deploy", "shop.production.journal"))).toBe(false);
        expect(existsSync(join(stateDir, "deploy", "shop.production.stamp.json"))).toBe(false);
        await rm(join(stateDir, "deploy", "shop.production.json"));
        const elsewhere = createDeployState({ store, stateDir: join(dir, "new"), site: "shop", env: "production" });
        expect((await elsewhere.loadManifest())?.id).toBe(next.id);
      } finally {
        await store.close();
      }
    });
  });
}
