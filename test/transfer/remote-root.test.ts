import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createRemote } from "../../src/transfer/index.ts";
import { type ServerKind, startServer } from "../support/servers/index.ts";

describe("transfer: a remote root that does not exist yet", () => {
  for (const kind of ["vsftpd-ftp", "pure-ftpd-ftp", "sftp"] as const satisfies readonly ServerKind[]) {
    it(`${kind}: mkdir creates the root below a parent that exists (not a missing parent), then files land inside it`, async () => {
      const server = await startServer(kind);
      try {
        const base = server.remoteConfig.root === "/" ? "" : server.remoteConfig.root;
        const remote = { ...server.remoteConfig, root: `${base}/new site/www` };
        // its parent missing too: refused, nothing created (as lftp mirror -R and rclone do not create it either)
        const orphan = await createRemote(remote, server.resolve);
        await expect(orphan.mkdir("css/print")).rejects.toThrow();
        await orphan.close();
        expect(await readdir(server.rootDir)).not.toContain("new site");
        await mkdir(join(server.rootDir, "new site"));
        await server.own(join(server.rootDir, "new site"));
        const fs = await createRemote(remote, server.resolve);
        await fs.mkdir("css/print");
        await fs.upload(Readable.from([Buffer.from("body{}")]), "css/print/site.css");
        await fs.mkdir("");
        expect((await fs.list("")).map((e) => e.name)).toEqual(["css"]);
        await fs.close();
        expect(await readFile(join(server.rootDir, "new site", "www", "css", "print", "site.css"), "utf8")).toBe(
          "body{}",
        );
      } finally {
        await server.stop();
      }
    });
  }
});
