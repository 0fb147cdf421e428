import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { randomValue, tempWorkspace } from "./helpers.ts";

describe("secrets: test <site> logs in with the stored credentials", { timeout: 300_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("resolves secret://shop/FTP_PASSWORD from the store, logs in, and reports a refused password without it", async () => {
    const site = [
      "remote:",
      "  protocol: ftp",
      `  host: ${server.host}`,
      `  port: ${server.port}`,
      `  user: ${server.user}`,
      `  root: ${server.remoteConfig.root}`,
      "  password: secret://shop/FTP_PASSWORD",
      "",
    ].join("\n");
    const ws = await tempWorkspace({ "sites/shop/site.yaml": site });
    await ws.cli(["secrets", "init"]);
    await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: server.password });
    const ok = await ws.cli(["secrets", "test", "shop"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+shop: logged in to ftp:\/\//);
    expect(ok.stdout + ok.stderr).not.toContain(server.password);

    const wrong = randomValue("wrong");
    await ws.cli(["secrets", "rotate", "shop/FTP_PASSWORD", "--stdin"], { input: wrong });
    const refused = await ws.cli(["secrets", "test", "shop", "--debug"]);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain("FAIL shop");
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
  });
});
