import { execFile } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteSchema } from "../../src/config/schema.ts";
import { SiteloomError } from "../../src/errors.ts";
import { createRemote, openRemotePool } from "../../src/transfer/index.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";

const run = promisify(execFile);
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "siteloom-sec-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<SiteloomError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SiteloomError);
  return error as SiteloomError;
}

describe("transfer: FTPS certificate checks (vsftpd)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftps");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses a self-signed certificate that is neither pinned nor trusted", async () => {
    const { tlsFingerprint: _pin, ...remote } = server.remoteConfig;
    const error = await failure(createRemote(remote, server.resolve));
    expect(error.code).toBe("ERR_TRANSFER_TLS");
    expect(error.message).toMatch(/not trusted .*remote\.tlsFingerprint or remote\.caFile/);
  });

  it("refuses a certificate that does not match the pinned fingerprint, before logging in", async () => {
    const remote = { ...server.remoteConfig, tlsFingerprint: `${"AA:".repeat(31)}AA` };
    const logFile = join(server.rootDir, "..", "etc", "vsftpd.log");
    const logins = async () => ((await readFile(logFile, "utf8").catch(() => "")).match(/LOGIN/g) ?? []).length;
    const before = await logins();
    const error = await failure(createRemote(remote, server.resolve));
    expect(error.code).toBe("ERR_TRANSFER_TLS");
    expect(error.message).toMatch(/does not match remote\.tlsFingerprint \(got [0-9A-F:]{95}\)/);
    // vsftpd logs every login attempt ("OK LOGIN" / "FAIL LOGIN"): none happened, the password was never sent.
    expect(await logins()).toBe(before);
  });

  it("accepts the pinned fingerprint in any common spelling", async () => {
    const pin = server.remoteConfig.tlsFingerprint as string;
    for (const spelling of [pin, pin.toLowerCase().replaceAll(":", ""), `sha256:${pin}`]) {
      const fs = await createRemote({ ...server.remoteConfig, tlsFingerprint: spelling }, server.resolve);
      await fs.upload(Readable.from([Buffer.from("pinned")]), "pinned.txt");
      await fs.close();
    }
    expect(await readFile(join(server.rootDir, "pinned.txt"), "utf8")).toBe("pinned");
  });

  it("trusts the host through remote.caFile", async () => {
    const { tlsFingerprint: _pin, ...rest } = server.remoteConfig;
    const fs = await createRemote({ ...rest, caFile: server.certFile as string }, server.resolve);
    await fs.upload(Readable.from([Buffer.from("ca")]), "ca.txt");
    expect((await fs.read("ca.txt"))?.toString()).toBe("ca");
    await fs.close();
  });

  it("connects with remote.insecure but warns, once per pool", async () => {
    const { tlsFingerprint: _pin, ...rest } = server.remoteConfig;
    const warnings: string[] = [];
    const pool = await openRemotePool({ ...rest, insecure: true }, server.resolve, {
      size: 2,
      warn: (m) => warnings.push(m),
    });
    await Promise.all([pool.run((fs) => fs.list("")), pool.run((fs) => fs.list(""))]);
    await pool.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/remote\.insecure is set: the TLS certificate of 127\.0\.0\.1 is NOT verified/);
  });

  it("reports a wrong password as an authentication error without the password", async () => {
    const remote = { ...server.remoteConfig, password: "wrong-password-123" };
    const error = await failure(createRemote(remote, async (v) => server.resolve(v)));
    expect(error.code).toBe("ERR_TRANSFER_AUTH");
    expect(error.message).toMatch(new RegExp(`login as "${server.user}" refused`));
    expect(error.message).not.toContain("wrong-password-123");
  });
});

describe("transfer: implicit FTPS (TLS from the first byte)", () => {
  it("logs in and transfers with implicitTls", async () => {
    const server = await startServer("vsftpd-ftps-implicit");
    try {
      expect(server.remoteConfig.implicitTls).toBe(true);
      const fs = await createRemote(server.remoteConfig, server.resolve);
      await fs.upload(Readable.from([Buffer.from("implicit")]), "implicit.txt");
      expect(await fs.list("")).toMatchObject([{ name: "implicit.txt", type: "file", size: 8 }]);
      await fs.close();
      expect(await readFile(join(server.rootDir, "implicit.txt"), "utf8")).toBe("implicit");
    } finally {
      await server.stop();
    }
  });
});

describe("transfer: latin1 file names (vsftpd)", () => {
  it("writes and lists latin1 names as single bytes on the server", async () => {
    const server = await startServer("vsftpd-ftp", { remote: { encoding: "latin1" } });
    try {
      const fs = await createRemote(server.remoteConfig, server.resolve);
      await fs.mkdir("vérifié");
      await fs.upload(Readable.from([Buffer.from("latin")]), "vérifié/café.html");
      const names = await readdir(join(server.rootDir), { encoding: "buffer" });
      expect(names.map((n) => n.toString("hex"))).toEqual([Buffer.from("vérifié", "latin1").toString("hex")]);
      // Node paths are UTF-8 strings: address the latin1-named folder through its bytes.
      const dir = Buffer.concat([Buffer.from(`${server.rootDir}/`), Buffer.from("vérifié", "latin1")]);
      const inner = await readdir(dir, { encoding: "buffer" });
      expect(inner.map((n) => n.toString("hex"))).toEqual([Buffer.from("café.html", "latin1").toString("hex")]);
      expect((await fs.list("vérifié")).map((e) => e.name)).toEqual(["café.html"]);
      expect((await fs.read("vérifié/café.html"))?.toString()).toBe("latin");
      await fs.close();
    } finally {
      await server.stop();
    }
  });
});

describe("transfer: SFTP host keys (OpenSSH)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("sftp");
  });
  afterAll(async () => {
    await server?.stop();
  });
  const unpinned = () => {
    const { hostKey: _key, ...rest } = server.remoteConfig;
    return rest;
  };

  it("pipelined puts and mkdirs never write through a folder symlinked out of the root; inside, bytes land", async () => {
    // a folder the server user may write to, outside its root, reached through a symlink inside the root
    const outside = await mkdtemp(join(tmpdir(), "siteloom-sec-out-"));
    await server.own(outside);
    await symlink(outside, join(server.rootDir, "out"));
    const local = join(scratch, "page.html");
    await writeFile(local, "<p>page</p>".repeat(10_000));
    const fs = await createRemote(server.remoteConfig, server.resolve);
    try {
      const put = fs.put!(local, "out/.in.page.html.r1", "out/page.html", { expectedSize: 110_000 });
      expect((await failure(put)).code).toBe("ERR_TRANSFER_UNSAFE_PATH");
      // a refused stream source is let go (a file stream closes its file), as a refused OPEN lets it go
      for (const send of [
        (stream: Readable) => fs.upload(stream, "out/streamed.html"),
        (stream: Readable) => fs.put!(stream, "out/.in.streamed.html.r1", "out/streamed.html", {}),
      ]) {
        const stream = createReadStream(local);
        expect((await failure(send(stream))).code).toBe("ERR_TRANSFER_UNSAFE_PATH");
        expect(stream.destroyed).toBe(true);
      }
      expect((await failure(fs.mkdirMany!(["fresh", "out/new", "fresh/deeper"]))).code).toBe(
        "ERR_TRANSFER_UNSAFE_PATH",
      );
      expect(await readdir(outside)).toEqual([]);

      // inside the root: folders one depth at a time, then a put whose rename is deferred until flush
      await fs.mkdirMany!(["a", "a/b", "a/b/c", "fresh"]);
      let placed: Error | undefined | "pending" = "pending";
      await fs.put!(local, "a/b/c/.in.page.html.r1", "a/b/c/page.html", {
        expectedSize: 110_000,
        onPlaced: (error) => {
          placed = error;
        },
      });
      await fs.flush!();
      expect(placed).toBeUndefined();
      expect(await readFile(join(server.rootDir, "a/b/c/page.html"))).toEqual(await readFile(local));
      expect(await readdir(join(server.rootDir, "a/b/c"))).toEqual(["page.html"]);
      // a size the server does not hold fails the put and leaves the file in place as it was
      await writeFile(local, "<p>changed</p>");
      const wrong = await failure(fs.put!(local, "a/b/c/.in.page.html.r2", "a/b/c/page.html", { expectedSize: 5 }));
      expect(wrong.message).toContain("size check failed");
      expect((await readFile(join(server.rootDir, "a/b/c/page.html"), "utf8")).length).toBe(110_000);

      // a folder replaced by a symlink after this session removed it is checked again
      await fs.removeDir("fresh");
      await mkdir(join(outside, "fresh"));
      await server.own(join(outside, "fresh"));
      await symlink(join(outside, "fresh"), join(server.rootDir, "fresh"));
      const again = fs.put!(local, "fresh/.in.page.html.r1", "fresh/page.html", { expectedSize: 14 });
      expect((await failure(again)).code).toBe("ERR_TRANSFER_UNSAFE_PATH");
      expect(await readdir(join(outside, "fresh"))).toEqual([]);
    } finally {
      await fs.close();
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("refuses an unknown host key, showing its fingerprint and the config line to add", async () => {
    const knownHostsFile = join(scratch, "empty_known_hosts");
    const error = await failure(createRemote(unpinned(), server.resolve, { knownHostsFile }));
    expect(error.code).toBe("ERR_TRANSFER_HOST_KEY");
    expect(error.message).toContain(`unknown host key ${server.remoteConfig.hostKey}`);
    expect(error.message).toContain(`hostKey: "${server.remoteConfig.hostKey}"`);
    expect(error.message).toContain("--accept-new");
  });

  it("--accept-new records the key once; later runs use known_hosts", async () => {
    const knownHostsFile = join(scratch, "accept", "known_hosts");
    const added: string[] = [];
    const fs = await createRemote(unpinned(), server.resolve, {
      knownHostsFile,
      acceptNew: true,
      onHostKeyAdded: (line) => added.push(line),
    });
    await fs.close();
    expect(added).toEqual([server.knownHostsLine]);
    expect((await readFile(knownHostsFile, "utf8")).trim()).toBe(server.knownHostsLine);
    const again = await createRemote(unpinned(), server.resolve, { knownHostsFile });
    expect(await again.list("")).toBeInstanceOf(Array);
    await again.close();
    expect((await readFile(knownHostsFile, "utf8")).trim().split("\n")).toHaveLength(1);
  });

  it("accepts a hashed known_hosts entry", async () => {
    const knownHostsFile = join(scratch, "hashed_known_hosts");
    await writeFile(knownHostsFile, `${server.knownHostsLine}\n`);
    await run("ssh-keygen", ["-H", "-f", knownHostsFile]);
    expect(await readFile(knownHostsFile, "utf8")).toMatch(/^\|1\|/);
    const fs = await createRemote(unpinned(), server.resolve, { knownHostsFile });
    await fs.close();
  });

  it("refuses a changed host key, even with --accept-new", async () => {
    const knownHostsFile = join(scratch, "changed_known_hosts");
    const other = join(scratch, "otherkey");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherKey = (await readFile(`${other}.pub`, "utf8")).split(" ").slice(0, 2).join(" ");
    await writeFile(knownHostsFile, `[127.0.0.1]:${server.port} ${otherKey}\n`);
    const error = await failure(createRemote(unpinned(), server.resolve, { knownHostsFile, acceptNew: true }));
    expect(error.code).toBe("ERR_TRANSFER_HOST_KEY");
    expect(error.message).toMatch(/HOST KEY CHANGED/);
    expect(await readFile(knownHostsFile, "utf8")).toBe(`[127.0.0.1]:${server.port} ${otherKey}\n`);
  });

  it("refuses a key that does not match the pinned remote.hostKey", async () => {
    const remote = { ...server.remoteConfig, hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    const error = await failure(createRemote(remote, server.resolve));
    expect(error.code).toBe("ERR_TRANSFER_HOST_KEY");
    expect(error.message).toContain(`host key ${server.remoteConfig.hostKey} does not match remote.hostKey`);
  });

  it("logs in with a passphrase-protected key; a wrong passphrase is a readable auth error", async () => {
    const keyFile = join(scratch, "locked_key");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "open sesame 42", "-f", keyFile]);
    await server.authorizeKey(await readFile(`${keyFile}.pub`, "utf8"));
    process.env.SITELOOM_TEST_KEY_PASSPHRASE = "open sesame 42";
    try {
      const { password: _pw, ...rest } = server.remoteConfig;
      const remote = { ...rest, privateKey: keyFile, passphrase: "${SITELOOM_TEST_KEY_PASSPHRASE}" };
      const fs = await createRemote(remote, server.resolve);
      await fs.upload(Readable.from([Buffer.from("key")]), "key.txt");
      await fs.close();
      expect(await readFile(join(server.rootDir, "key.txt"), "utf8")).toBe("key");
      const error = await failure(createRemote({ ...remote, passphrase: "wrong phrase 99" }, server.resolve));
      expect(error.code).toBe("ERR_TRANSFER_AUTH");
      expect(error.message).toMatch(/check remote\.privateKey and remote\.passphrase/);
      expect(error.message).not.toContain("wrong phrase 99");
    } finally {
      delete process.env.SITELOOM_TEST_KEY_PASSPHRASE;
    }
  });

  it("reports a wrong password as an authentication error without the password", async () => {
    const remote = { ...server.remoteConfig, password: "not-the-password-42" };
    const error = await failure(createRemote(remote, server.resolve));
    expect(error.code).toBe("ERR_TRANSFER_AUTH");
    expect(error.message).not.toContain("not-the-password-42");
  });
});

describe("transfer: createRemote config checks", () => {
  it("names the missing setting", async () => {
    const resolve = async () => {
      throw new Error("not called");
    };
    const noHost = await failure(createRemote(RemoteSchema.parse({ protocol: "ftp" }), resolve));
    expect(noHost.code).toBe("ERR_CONFIG_INVALID");
    expect(noHost.message).toMatch(/remote\.host is missing/);
    const noUser = await failure(createRemote(RemoteSchema.parse({ protocol: "sftp", host: "h" }), resolve));
    expect(noUser.message).toMatch(/remote\.user is missing/);
    const noCa = await failure(
      createRemote(
        RemoteSchema.parse({ protocol: "ftps", host: "127.0.0.1", caFile: join(scratch, "missing.pem") }),
        resolve,
      ),
    );
    expect(noCa.message).toMatch(/remote\.caFile .*missing\.pem cannot be read \(ENOENT\)/);
  });

  it("reports a refused connection as ERR_TRANSFER_CONNECT", async () => {
    const remote = RemoteSchema.parse({ protocol: "ftp", host: "127.0.0.1", port: 1, user: "u" });
    const error = await failure(createRemote(remote, async () => Promise.reject(new Error("unused"))));
    expect(error.code).toBe("ERR_TRANSFER_CONNECT");
    expect(error.message).toMatch(/ftp:\/\/127\.0\.0\.1:1: cannot connect/);
  });
});
