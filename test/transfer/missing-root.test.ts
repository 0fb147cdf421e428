import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, useTempDir } from "../support/cli.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { writeSite } from "./helpers/trees.ts";
import { demoWorkspace } from "./helpers/workspace.ts";

// A first deploy into a remote.root that does not exist yet, through the built CLI on every protocol family: the
// folder is created below a parent that exists (as lftp mirror -R and rclone sync do), never in --dry-run (which says
// it would), and not when its parent is missing too; an export of a missing root is one error line.

const TEST_TIMEOUT_MS = 300_000;

describe.each(["vsftpd-ftp", "vsftpd-ftps", "sftp", "local"] as const)(
  "transfer: a missing remote.root on %s",
  (kind) => {
    let server: TestServer | undefined;
    let localDir = "";
    beforeAll(async () => {
      if (kind === "local") localDir = await useTempDir("siteloom-missing-root-local-");
      else server = await startServer(kind);
    });
    afterAll(async () => {
      await server?.stop();
    });
    /** The folder on disk the server's path `dir` (under its root) is, and the remote section naming it. */
    const place = (dir: string) => {
      const disk = join(server?.rootDir ?? localDir, dir);
      if (kind === "local") return { disk, remote: { protocol: "local", root: disk } };
      const root = kind === "sftp" ? disk : `/${dir}`;
      return { disk, remote: { ...server!.remoteConfig, root } };
    };
    const cli = (ws: string, args: string[]) => runCli(args, { cwd: ws, env: server?.env ?? {}, timeoutMs: 180_000 });

    it("deploy creates it below an existing parent; --dry-run only says so; a missing parent is one error line", {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const parent = place("www");
      await mkdir(parent.disk);
      await server?.own(parent.disk);
      const target = place("www/new");
      const { ws, output } = await demoWorkspace("siteloom-missing-root-", server?.env ?? {}, {
        remote: target.remote,
        deploy: { parallel: 2, retryBaseMs: 20, retryMaxMs: 200 },
      });
      await writeSite(output);

      const dry = await cli(ws, ["deploy", "demo", "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout + dry.stderr).toMatch(/remote\.root does not exist on the server: the deploy would create it/);
      expect(await readdir(parent.disk)).toEqual([]);

      const done = await cli(ws, ["deploy", "demo", "--json"]);
      expect(done.code, done.stderr).toBe(0);
      expect(await readFile(join(target.disk, "index.html"))).toEqual(await readFile(join(output, "index.html")));
      const again = await cli(ws, ["deploy", "demo", "--json"]);
      expect(JSON.parse(again.stdout).stats).toMatchObject({ uploaded: 0, failed: 0 });

      const orphan = place("nowhere/new");
      const lost = await demoWorkspace("siteloom-missing-root-", server?.env ?? {}, { remote: orphan.remote });
      await writeSite(lost.output);
      const refused = await cli(lost.ws, ["deploy", "demo"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr.match(/^error: /gm), refused.stderr).toHaveLength(1);
      expect(refused.stderr).toMatch(/remote\.root .*does not exist/);
      expect(await readdir(server?.rootDir ?? localDir)).not.toContain("nowhere");

      const exported = await cli(lost.ws, ["export", "demo"]);
      expect(exported.code).not.toBe(0);
      expect(exported.stderr.match(/^error: /gm), exported.stderr).toHaveLength(1);
      expect(exported.stderr).toMatch(/remote\.root .*does not exist/);
    });
  },
);
