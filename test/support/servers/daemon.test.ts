import { mkdir, writeFile } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./common.ts";
import { launchDaemon } from "./daemon.ts";

// The harness picks a free port, then the daemon binds it: in between, another process may take it (on a loaded
// machine with many suites it does). vsftpd then exits 2 without a word.
let blocker: Server;
let taken: number;
beforeAll(async () => {
  blocker = createServer((socket) => {
    socket.on("error", () => undefined); // the harness hangs up once it has read the line
    socket.end("220 not the server under test\r\n");
  });
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  taken = (blocker.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

describe("test harness: launchDaemon", () => {
  it("starts a fresh instance on a new port when another process took the first one", async () => {
    const ports: number[] = [];
    const daemon = await launchDaemon("harness-port", async ({ dirs }) => {
      const port = ports.length === 0 ? taken : await freePort();
      ports.push(port);
      const empty = join(dirs.etc, "empty");
      await mkdir(empty);
      const conf = join(dirs.etc, "vsftpd.conf");
      await writeFile(conf, _vsftpdConf(port, empty));
      return { command: "/usr/sbin/vsftpd", args: [conf], port, greeting: "220", extra: undefined };
    });
    try {
      expect(ports).toHaveLength(2);
      expect(daemon.port).toBe(ports[1]);
      expect(await _greeting(daemon.port)).toMatch(/^220 /);
      expect(await _greeting(daemon.port)).not.toContain("not the server under test");
    } finally {
      await daemon.stop();
    }
  });

  it("does not try again when the daemon fails for another reason", async () => {
    let calls = 0;
    const port = await freePort();
    const launch = launchDaemon("harness-fail", async () => {
      calls++;
      return { command: "/bin/false", args: [], port, greeting: "220", extra: undefined };
    });
    await expect(launch).rejects.toThrow(/exited early/);
    expect(calls).toBe(1);
  });
});

// --- internal ---

function _vsftpdConf(port: number, empty: string): string {
  return [
    "listen=YES",
    "listen_ipv6=NO",
    "listen_address=127.0.0.1",
    `listen_port=${port}`,
    "background=NO",
    "seccomp_sandbox=NO",
    `secure_chroot_dir=${empty}`,
    "anonymous_enable=NO",
    "local_enable=YES",
    "pam_service_name=vsftpd",
    "",
  ].join("\n");
}

function _greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("data", (d) => {
      data += d.toString("latin1");
      if (data.includes("\n")) {
        socket.destroy();
        resolve(data.trim());
      }
    });
    socket.on("error", reject);
  });
}
