import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { localNameProblem } from "../../src/transfer/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { type HostileEntry, type HostileFtpOptions, startHostileFtp } from "../support/hostile-ftp.ts";
import { demoWorkspace } from "./helpers/workspace.ts";

// `siteloom export` (the built binary) against a hostile FTP server: every case checks what landed on disk (inside
// export/ and beside it), the exit code, that the run stayed bounded (listings and bytes the server was made to
// serve), and that nothing the server said reaches the terminal as an escape sequence.

/** Raw terminal controls: ESC, BEL, NUL, CSI (C1), direction overrides. Their escaped `\x1b` spelling is fine. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

async function exportFrom(options: HostileFtpOptions, exportConfig: Record<string, unknown> = {}, args: string[] = []) {
  const server = await startHostileFtp(options);
  try {
    const { ws, site, exportDir } = await demoWorkspace("siteloom-hostile-", server.env, {
      remote: server.remote,
      export: exportConfig,
      deploy: { parallel: 2, retries: 1, retryBaseMs: 10, retryMaxMs: 20 },
    });
    const run = await runCli(["export", "demo", ...args], { cwd: ws, env: server.env, timeoutMs: 90_000 });
    return { ...run, ws, site, exportDir, stats: { ...server.stats } };
  } finally {
    await server.close();
  }
}

/** Every file and folder under `dir` (relative, folders end with "/"), sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        out.push(`${path}/`);
        await walk(path);
      } else out.push(entry.isSymbolicLink() ? `${path}@` : path);
    }
  };
  await walk("");
  return out.sort();
}

const file = (name: string, size = 0): HostileEntry => ({ name, type: "file", size });
const dir = (name: string): HostileEntry => ({ name, type: "dir" });

describe("transfer: export against a hostile FTP server", () => {
  it("22 kinds of bad names: nothing lands outside export/, refused names are reported inert", async () => {
    const outside = await useTempDir("siteloom-outside-");
    const bad: HostileEntry[] = [
      dir(".."),
      dir("."),
      file("../../escape.txt"),
      file(join(outside, "absolute.txt")),
      file("sub/inner.txt"),
      file("..\\..\\backslash.txt"),
      file("nul\u0000byte.txt"),
      file("clear\u001b[2Jscreen.txt"),
      file("title\u001b]0;pwned\u0007.txt"),
      file("bell\u0007.txt"),
      file("line\r\nbreak.txt"),
      file("del\u007f.txt"),
      file("csi\u009b31m.txt"),
      file("tab\tname.txt"),
      file("x".repeat(300)),
      file("con"),
      file("nul.txt"),
      file("lpt1.html"),
      file("trailing-dot."),
      file("bidi\u202etxt.exe"),
      file(".in.page.html.deadbeef"),
      file("%2e%2e%2fencoded.txt"),
    ];
    expect(bad).toHaveLength(22);
    const listing = (path: string) =>
      path === "/"
        ? [...bad, file("fine.txt"), dir("nested")]
        : path === "/nested"
          ? [...bad, file("ok.txt", 7)]
          : undefined;
    const run = await exportFrom({ list: listing });

    // the run itself succeeds: everything refused is reported, and what is safe is mirrored
    expect(run.stderr).not.toContain("error:");
    expect(run.code).toBe(0);
    const output = run.stdout + run.stderr;
    expect(output).not.toMatch(RAW_CONTROL);
    // refused names are named, escaped: the screen-clearing one and the title one are visible, not obeyed
    expect(output).toContain("clear\\x1b[2Jscreen.txt");
    expect(output).toContain("title\\x1b]0;pwned\\x07.txt");
    expect(output).toMatch(/skipped +.*sub\/inner\.txt.*'\/' inside a name/);
    expect(output).toMatch(/skipped +x{300} \(a name longer than 255 bytes\)/);
    expect(output).toMatch(/skipped +\.in\.page\.html\.deadbeef \(unfinished upload/);
    // nothing beside export/, nothing in the outside folder, only plain files inside
    expect((await readdir(run.site)).sort()).toEqual(["export", "site.yaml"]);
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(join(run.ws, "sites"))).toEqual(["demo"]);
    const expected = [
      "%2e%2e%2fencoded.txt",
      "bidi\u202etxt.exe",
      "con",
      "fine.txt",
      "line", // the first half of a name split by CR LF is just another (harmless) name
      "lpt1.html",
      "nul.txt",
      "trailing-dot.",
    ];
    expect(await tree(run.exportDir)).toEqual(
      [
        ...expected,
        "nested/",
        ...expected.filter((n) => n !== "fine.txt").map((n) => `nested/${n}`),
        "nested/ok.txt",
      ].sort(),
    );
    expect(await readFile(join(run.exportDir, "nested/ok.txt"), "utf8")).toBe("x".repeat(7));
  });

  it("MLSD names basic-ftp drops (a '/' inside) and symlinks are reported as skipped; nothing is followed", async () => {
    const outside = await useTempDir("siteloom-outside-");
    const run = await exportFrom({
      format: "mlsd",
      list: (path) =>
        path === "/"
          ? [
              file("a/b.txt", 5),
              file("../../up.txt", 5),
              { name: "etc", type: "symlink", target: "/etc" },
              { name: "up", type: "symlink", target: "../../.." },
              { name: "out", type: "symlink", target: outside },
              { name: "inside", type: "symlink", target: "page.html" },
              file("page.html", 12),
            ]
          : undefined,
    });
    expect(run.code).toBe(0);
    const output = run.stdout + run.stderr;
    expect(output).not.toMatch(RAW_CONTROL);
    expect(output).toMatch(/skipped +a\/b\.txt \(refused: a '\/' inside a name\)/);
    expect(output).toMatch(/skipped +\.\.\/\.\.\/up\.txt \(refused: a '\/' inside a name\)/);
    expect(output).toMatch(/skipped +etc \(refused: a symlink pointing outside the remote root/);
    expect(output).toMatch(/skipped +up \(refused: a symlink pointing outside the remote root/);
    expect(output).toMatch(/skipped +inside \(symlink to page\.html\)/);
    expect(await tree(run.exportDir)).toEqual(["page.html"]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("an endless tree (every folder lists loop/) stops at export.maxDepth: exit 5, bounded, local files kept", async () => {
    const run = await exportFrom(
      { list: (path) => (path.endsWith("/f.txt") ? undefined : [dir("loop"), file("f.txt", 2)]) },
      { maxDepth: 20 },
    );
    expect(run.code).toBe(5);
    const output = run.stdout + run.stderr;
    expect(output).toMatch(/deeper than export\.maxDepth \(20 levels\).*raise export\.maxDepth/);
    // 20 levels listed, not one more
    expect(run.stats.listings).toBe(20);
    // everything above the limit is mirrored: 20 files, the deepest at 19 folders down
    expect(output).toMatch(/downloaded 20 file\(s\)/);
    const local = await tree(run.exportDir);
    expect(local.filter((p) => p.endsWith("/")).length).toBeLessThanOrEqual(20);
    expect(Math.max(...local.map((p) => p.split("/").length))).toBeLessThanOrEqual(21);
  });

  it("a wide tree stops at export.maxEntries and a huge folder at export.maxEntriesPerDir; no local file is removed", async () => {
    const wide = await exportFrom(
      { list: (path) => (path.split("/").length < 8 ? Array.from({ length: 40 }, (_, i) => dir(`d${i}`)) : undefined) },
      { maxEntries: 2_000 },
    );
    expect(wide.code).toBe(5);
    expect(wide.stdout + wide.stderr).toMatch(/more than export\.maxEntries \(2000\) entries: listing stopped/);
    // listing stopped soon after 2,000 entries (40 per folder): not the 40^7 the server offers
    expect(wide.stats.listings).toBeLessThan(2_000 / 40 + 10);

    const huge = await exportFrom(
      {
        list: (path) =>
          path === "/"
            ? [dir("big"), file("keep.txt", 21)]
            : path === "/big"
              ? Array.from({ length: 500 }, (_, i) => file(`f${i}`, 1))
              : undefined,
      },
      { maxEntriesPerDir: 100 },
    );
    expect(huge.code).toBe(5);
    expect(huge.stdout + huge.stderr).toMatch(/big: lists 500 entries, more than export\.maxEntriesPerDir \(100\)/);
    expect(await tree(huge.exportDir)).toEqual(["big/", "keep.txt"]);
  });

  it("a file listed as 10 bytes and sent as 150 MB: cut off while streaming, not kept, exit 5", async () => {
    let sent = 0;
    const endless = () =>
      new Readable({
        read() {
          this.push(sent++ < 150 * 16 ? Buffer.alloc(64 * 1024, 120) : null);
        },
      });
    const run = await exportFrom({
      list: (path) => (path === "/" ? [file("liar.bin", 10), file("short.bin", 10), file("fine.txt", 19)] : undefined),
      read: (path) =>
        path === "/liar.bin"
          ? endless()
          : path === "/short.bin"
            ? Readable.from([Buffer.from("12345")])
            : Readable.from([Buffer.from("content of fine.txt")]),
    });
    expect(run.code).toBe(5);
    const output = run.stdout + run.stderr;
    expect(output).toMatch(/failed +liar\.bin: .*more than 10 bytes/);
    expect(output).toMatch(/failed +short\.bin: got 5 bytes, the server announced 10/);
    expect(output).toMatch(/error: 2 file\(s\) could not be downloaded/);
    expect(await tree(run.exportDir)).toEqual(["fine.txt"]);
    // two tries of the liar, each stopped within a few socket buffers of 10 bytes (150 MB were on offer)
    expect(run.stats.bytesSent).toBeLessThan(16 * 1024 * 1024);
  });

  it("a plan beyond export.maxTotalBytes downloads nothing; a file beyond export.maxFileSize is skipped", async () => {
    const run = await exportFrom(
      {
        list: (path) =>
          path === "/"
            ? [file("a.bin", 40_000_000), file("b.bin", 40_000_000), file("huge.iso", 200_000_000)]
            : undefined,
      },
      { maxTotalBytes: 50_000_000, maxFileSize: 100_000_000 },
    );
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(
      /80000000 bytes to download, more than export\.maxTotalBytes \(50000000\); nothing was downloaded/,
    );
    expect(run.stats.reads).toBe(0);
    expect(await tree(run.exportDir)).toEqual([]);
  });

  it("control characters in server replies (a 530 login refusal, a 551 on RETR) reach the terminal inert", async () => {
    const hostile = "\u001b[2J\u001b]0;owned\u0007\u009b31mgo away\r\n530 \u0007again";
    for (const args of [[], ["--debug"], ["--verbose"]]) {
      const login = await exportFrom({ list: () => [], loginRefusal: hostile }, {}, args);
      expect(login.code).toBe(5);
      expect(login.stdout + login.stderr).not.toMatch(RAW_CONTROL);
      expect(login.stderr).toContain("\\x1b[2J\\x1b]0;owned\\x07\\x9b31mgo away");
    }
    const retr = await exportFrom(
      {
        list: (path) => (path === "/" ? [file("page.html", 5)] : undefined),
        read: () => {
          throw new Error("\u001b[31mdisk \u0007on fire\u001b]2;x\u0007");
        },
      },
      {},
      ["--verbose"],
    );
    expect(retr.code).toBe(5);
    expect(retr.stdout + retr.stderr).not.toMatch(RAW_CONTROL);
    expect(retr.stdout + retr.stderr).toContain("\\x1b[31mdisk \\x07on fire");
  });
});

describe("transfer: local names that cannot be files", () => {
  it("Windows device names and names Windows cannot store are refused on win32 only; long names everywhere", () => {
    for (const name of ["con", "CON", "nul.txt", "aux.html", "com1", "lpt9.js", "trailing.", "space ", "a:b", "q?"]) {
      expect(localNameProblem(`dir/${name}`, "win32"), name).toBeDefined();
      expect(localNameProblem(`dir/${name}`, "linux"), name).toBeUndefined();
    }
    for (const name of ["console.html", "null.txt", "auxiliary", "com10", "index.html"]) {
      expect(localNameProblem(name, "win32"), name).toBeUndefined();
    }
    expect(localNameProblem("é".repeat(128), "linux")).toBe("a name longer than 255 bytes");
    expect(localNameProblem("é".repeat(127), "linux")).toBeUndefined();
  });
});
