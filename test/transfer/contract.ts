/**
 * The RemoteFS contract: every backend (ftp, ftps, sftp, local) runs this same suite against a real server and
 * checks the bytes that land in the server's directory.
 *
 *   testRemoteFS("vsftpd ftp", async () => {
 *     const server = await startServer("vsftpd-ftp");
 *     return { connect: (o) => createRemote(server.remoteConfig, server.resolve, o), rootDir: server.rootDir,
 *              own: server.own, stop: server.stop };
 *   }, { large: true });
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteFS, UnsafeEntry } from "../../src/transfer/index.ts";

export interface ContractTarget {
  /** Opens a new connection; `onUnsafe` receives refused listing entries. */
  connect(options?: { onUnsafe?: (entry: UnsafeEntry) => void }): Promise<RemoteFS>;
  /** Server-side directory that is the remote root. */
  rootDir: string;
  /** Hands files the test wrote into rootDir (as root) to the server's user. */
  own?: (path: string) => Promise<void>;
  stop(): Promise<void>;
}

export interface ContractOptions {
  /** Run the 50 MB round trip (once per server type: the machine has 2 cores). */
  large?: boolean;
  /** The backend reports refused entries through onUnsafe (network backends; local skips silently). */
  reportsUnsafe?: boolean;
  /** The server itself leaves out symlinks that lead outside its jail (ProFTPD's DefaultRoot): none to report. */
  hidesOutsideLinks?: boolean;
}

export function testRemoteFS(name: string, start: () => Promise<ContractTarget>, options: ContractOptions = {}): void {
  describe(`transfer contract: ${name}`, () => {
    let target: ContractTarget;
    let fs: RemoteFS;
    let local: string;
    const unsafe: UnsafeEntry[] = [];
    let n = 0;
    /** A fresh folder per test, so tests stay independent on one server. */
    const folder = () => `t${++n}`;

    beforeAll(async () => {
      target = await start();
      fs = await target.connect({ onUnsafe: (entry) => unsafe.push(entry) });
      local = await mkdtemp(join(tmpdir(), "siteloom-contract-"));
    });
    afterAll(async () => {
      await fs?.close();
      await target?.stop();
      if (local) await rm(local, { recursive: true, force: true });
    });

    it("creates nested directories, lists an empty one, and mkdir of an existing one is fine", async () => {
      const dir = folder();
      await fs.mkdir(`${dir}/a/b/c`);
      await fs.mkdir(`${dir}/a/b/c`);
      await fs.mkdir(`${dir}/a`);
      expect((await lstat(join(target.rootDir, dir, "a/b/c"))).isDirectory()).toBe(true);
      expect(await fs.list(`${dir}/a/b/c`)).toEqual([]);
      const listed = await fs.list(`${dir}/a`);
      expect(listed.map((e) => [e.name, e.type])).toEqual([["b", "dir"]]);
      expect((await fs.stat(`${dir}/a/b`))?.type).toBe("dir");
      expect((await fs.stat(""))?.type).toBe("dir");
    });

    it("round-trips files byte for byte (file path, stream, empty file)", async () => {
      const dir = folder();
      await fs.mkdir(dir);
      const bytes = randomBytes(300_000);
      const src = join(local, "random.bin");
      await writeFile(src, bytes);
      await fs.upload(src, `${dir}/random.bin`);
      await fs.upload(Readable.from([Buffer.from("<h1>stream</h1>\n")]), `${dir}/index.html`);
      await writeFile(join(local, "empty"), "");
      await fs.upload(join(local, "empty"), `${dir}/empty.txt`);
      _sameBytes(await readFile(join(target.rootDir, dir, "random.bin")), bytes);
      expect(await readFile(join(target.rootDir, dir, "index.html"), "utf8")).toBe("<h1>stream</h1>\n");
      expect((await readFile(join(target.rootDir, dir, "empty.txt"))).length).toBe(0);

      const back = join(local, "back.bin");
      await fs.download(`${dir}/random.bin`, back);
      _sameBytes(await readFile(back), bytes);
      await fs.download(`${dir}/empty.txt`, join(local, "empty-back"));
      expect((await readFile(join(local, "empty-back"))).length).toBe(0);
      expect((await fs.read(`${dir}/index.html`))?.toString()).toBe("<h1>stream</h1>\n");

      const entries = await fs.list(dir);
      expect(entries.map((e) => [e.name, e.type, e.size]).sort()).toEqual([
        ["empty.txt", "file", 0],
        ["index.html", "file", 16],
        ["random.bin", "file", 300_000],
      ]);
      const stat = await fs.stat(`${dir}/random.bin`);
      expect(stat).toMatchObject({ name: "random.bin", type: "file", size: 300_000 });
      expect(typeof stat?.mtime).toBe("number");
    });

    it("handles names with spaces and UTF-8 characters", async () => {
      const dir = folder();
      const names = ["with space.html", "café – naïve.txt", "日本語 ページ.html", " leading space.txt", "#hash%25.css"];
      await fs.mkdir(`${dir}/sub dir/ünïcode`);
      for (const name of names) {
        await fs.upload(Readable.from([Buffer.from(name)]), `${dir}/sub dir/ünïcode/${name}`);
      }
      const onDisk = await readdir(join(target.rootDir, dir, "sub dir", "ünïcode"));
      expect(onDisk.sort()).toEqual([...names].sort());
      for (const name of names) {
        expect(await readFile(join(target.rootDir, dir, "sub dir", "ünïcode", name), "utf8")).toBe(name);
        expect((await fs.read(`${dir}/sub dir/ünïcode/${name}`))?.toString()).toBe(name);
      }
      expect((await fs.list(`${dir}/sub dir/ünïcode`)).map((e) => e.name).sort()).toEqual([...names].sort());
    });

    it("renames over an existing file and renames directories", async () => {
      const dir = folder();
      await fs.mkdir(dir);
      await fs.upload(Readable.from([Buffer.from("old")]), `${dir}/page.html`);
      await fs.upload(Readable.from([Buffer.from("new")]), `${dir}/.in.page.html.x1`);
      await fs.rename(`${dir}/.in.page.html.x1`, `${dir}/page.html`);
      expect(await readFile(join(target.rootDir, dir, "page.html"), "utf8")).toBe("new");
      expect((await fs.list(dir)).map((e) => e.name)).toEqual(["page.html"]);
      await fs.mkdir(`${dir}/d1`);
      await fs.rename(`${dir}/d1`, `${dir}/d2`);
      expect((await fs.stat(`${dir}/d2`))?.type).toBe("dir");
      expect(await fs.stat(`${dir}/d1`)).toBeUndefined();
    });

    it("removes files and whole trees; missing paths stat and read as undefined", async () => {
      const dir = folder();
      await fs.mkdir(`${dir}/tree/x/y`);
      await fs.upload(Readable.from([Buffer.from("1")]), `${dir}/tree/x/y/f.txt`);
      await fs.upload(Readable.from([Buffer.from("2")]), `${dir}/tree/g.txt`);
      await fs.upload(Readable.from([Buffer.from("3")]), `${dir}/keep.txt`);
      await fs.remove(`${dir}/keep.txt`);
      await expect(lstat(join(target.rootDir, dir, "keep.txt"))).rejects.toThrow();
      await fs.removeDir(`${dir}/tree`);
      expect(await readdir(join(target.rootDir, dir))).toEqual([]);
      expect(await fs.stat(`${dir}/tree`)).toBeUndefined();
      expect(await fs.stat(`${dir}/nope/deeper.txt`)).toBeUndefined();
      expect(await fs.read(`${dir}/missing.json`)).toBeUndefined();
      await expect(fs.remove(`${dir}/missing.txt`)).rejects.toMatchObject({ code: "ERR_TRANSFER_IO" });
    });

    it("removes an empty directory with removeEmptyDir and leaves one with files in it", async () => {
      if (!fs.removeEmptyDir) return; // optional: callers fall back to list + removeDir
      const dir = folder();
      await fs.mkdir(`${dir}/empty`);
      await fs.mkdir(`${dir}/full`);
      await fs.upload(Readable.from([Buffer.from("1")]), `${dir}/full/f.txt`);
      await fs.removeEmptyDir(`${dir}/empty`);
      expect(await fs.stat(`${dir}/empty`)).toBeUndefined();
      await expect(fs.removeEmptyDir(`${dir}/full`)).rejects.toMatchObject({ code: "ERR_TRANSFER_IO" });
      expect(await readFile(join(target.rootDir, dir, "full/f.txt"), "utf8")).toBe("1");
      await expect(fs.removeEmptyDir("")).rejects.toMatchObject({ code: "ERR_TRANSFER_UNSAFE_PATH" });
    });

    it("keeps the previous version aside when put replaces a file (keepPrevious), and nothing when there was none", async () => {
      if (!fs.put) return;
      const dir = folder();
      await fs.mkdir(`${dir}/aside`);
      await fs.upload(Readable.from([Buffer.from("old")]), `${dir}/page.html`);
      await fs.put(Readable.from([Buffer.from("new")]), `${dir}/.in.page.html.k1`, `${dir}/page.html`, {
        expectedSize: 3,
        keepPrevious: `${dir}/aside/page.html`,
      });
      expect(await readFile(join(target.rootDir, dir, "page.html"), "utf8")).toBe("new");
      expect(await readFile(join(target.rootDir, dir, "aside/page.html"), "utf8")).toBe("old");
      await fs.put(Readable.from([Buffer.from("first")]), `${dir}/.in.new.html.k1`, `${dir}/new.html`, {
        keepPrevious: `${dir}/aside/new.html`,
      });
      expect(await readFile(join(target.rootDir, dir, "new.html"), "utf8")).toBe("first");
      expect(await fs.stat(`${dir}/aside/new.html`)).toBeUndefined();
    });

    it("leaves the previous version live when put's size check fails (keepPrevious)", async () => {
      if (!fs.put) return;
      const dir = folder();
      await fs.mkdir(`${dir}/aside`);
      await fs.upload(Readable.from([Buffer.from("old")]), `${dir}/page.html`);
      await expect(
        fs.put(Readable.from([Buffer.from("new")]), `${dir}/.in.page.html.k2`, `${dir}/page.html`, {
          expectedSize: 4,
          keepPrevious: `${dir}/aside/page.html`,
        }),
      ).rejects.toMatchObject({ code: "ERR_TRANSFER_IO" });
      expect(await readFile(join(target.rootDir, dir, "page.html"), "utf8")).toBe("old");
      expect(await fs.stat(`${dir}/aside/page.html`)).toBeUndefined();
    });

    it("handles a deep tree", async () => {
      const dir = folder();
      const segments = Array.from({ length: 14 }, (_, i) => `level-${i}`);
      const deep = `${dir}/${segments.join("/")}`;
      await fs.mkdir(deep);
      await fs.upload(Readable.from([Buffer.from("deep")]), `${deep}/leaf.txt`);
      expect(await readFile(join(target.rootDir, dir, ...segments, "leaf.txt"), "utf8")).toBe("deep");
      let path = dir;
      for (const segment of segments) {
        expect((await fs.list(path)).map((e) => e.name)).toEqual([segment]);
        path = `${path}/${segment}`;
      }
      expect((await fs.list(deep)).map((e) => e.name)).toEqual(["leaf.txt"]);
    });

    it("resumes an upload with startAt", async () => {
      const dir = folder();
      await fs.mkdir(dir);
      const bytes = randomBytes(200_000);
      const src = join(local, "resume.bin");
      await writeFile(src, bytes);
      // A partial upload: the server already holds the first 70,000 bytes.
      const partial = join(target.rootDir, dir, "resume.bin");
      await writeFile(partial, bytes.subarray(0, 70_000));
      await target.own?.(partial);
      await fs.upload(src, `${dir}/resume.bin`, { startAt: 70_000 });
      _sameBytes(await readFile(partial), bytes);
      // A stream source starts at the offset already.
      await writeFile(partial, bytes.subarray(0, 1_000));
      await target.own?.(partial);
      await fs.upload(createReadStream(src, { start: 1_000 }), `${dir}/resume.bin`, { startAt: 1_000 });
      _sameBytes(await readFile(partial), bytes);
    });

    it("refuses unsafe paths on this side: absolute, '..', backslash, control characters", async () => {
      const dir = folder();
      await fs.mkdir(dir);
      const src = join(local, "evil.txt");
      await writeFile(src, "evil");
      for (const bad of [
        "/etc/evil.txt",
        `${dir}/../../evil.txt`,
        "..",
        `${dir}/a\\b`,
        `${dir}/a\u0000b`,
        `${dir}/x\r\nDELE y`,
      ]) {
        await expect(fs.upload(src, bad)).rejects.toMatchObject({ code: "ERR_TRANSFER_UNSAFE_PATH" });
        await expect(fs.list(bad)).rejects.toMatchObject({ code: "ERR_TRANSFER_UNSAFE_PATH" });
      }
      await expect(fs.removeDir("")).rejects.toMatchObject({ code: "ERR_TRANSFER_UNSAFE_PATH" });
      expect(await readdir(join(target.rootDir, dir))).toEqual([]);
    });

    it("refuses hostile entries in listings: a symlink to /etc, backslash and control-character names", async () => {
      const dir = folder();
      const base = join(target.rootDir, dir);
      await mkdir(base);
      await writeFile(join(base, "ok.html"), "ok");
      await writeFile(join(base, "back\\slash.html"), "x");
      await writeFile(join(base, "ctl\u0001name.html"), "x");
      await symlink("/etc", join(base, "etc-link"));
      await symlink("ok.html", join(base, "inside-link.html"));
      await target.own?.(base);
      unsafe.length = 0;
      const entries = await fs.list(dir);
      expect(entries.map((e) => e.name).sort()).toEqual(["inside-link.html", "ok.html"]);
      expect(entries.find((e) => e.name === "inside-link.html")?.type).toBe("symlink");
      if (options.reportsUnsafe) {
        // Some servers hide names with control characters themselves; whatever was listed and is unsafe is reported.
        const reported = unsafe.map((u) => u.name);
        for (const name of reported) expect(["back\\slash.html", "ctl\\x01name.html", "etc-link"]).toContain(name);
        if (!options.hidesOutsideLinks) {
          expect(reported).toContain("etc-link");
          expect(unsafe.find((u) => u.name === "etc-link")?.reason).toMatch(/outside the remote root/);
        }
      }
      // Nothing is read through the link, whatever the server does with it.
      await expect(fs.download(`${dir}/etc-link/passwd`, join(local, "passwd"))).rejects.toThrow();
      await expect(lstat(join(local, "passwd")).then((s) => s.size)).rejects.toThrow();
      expect(await fs.read(`${dir}/etc-link/hostname`).catch(() => undefined)).toBeUndefined();
    });

    if (options.large) {
      it("round-trips a 50 MB file", { timeout: 180_000 }, async () => {
        const dir = folder();
        await fs.mkdir(dir);
        const src = join(local, "large.bin");
        // Random bytes (not compressible) written in 1 MB blocks.
        const hash = createHash("sha256");
        const blocks: Buffer[] = [];
        for (let i = 0; i < 50; i++) {
          const block = randomBytes(1024 * 1024);
          hash.update(block);
          blocks.push(block);
        }
        await writeFile(src, Buffer.concat(blocks));
        const expected = hash.digest("hex");
        await fs.upload(src, `${dir}/large.bin`);
        expect(await _sha256(join(target.rootDir, dir, "large.bin"))).toBe(expected);
        await fs.download(`${dir}/large.bin`, join(local, "large-back.bin"));
        expect(await _sha256(join(local, "large-back.bin"))).toBe(expected);
        expect((await fs.stat(`${dir}/large.bin`))?.size).toBe(50 * 1024 * 1024);
        await rm(src);
        await rm(join(local, "large-back.bin"));
      });
    }
  });
}

// --- internal ---

async function _sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Buffer comparison without a per-byte diff (vitest's toEqual on 300 kB is slow). */
function _sameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}
