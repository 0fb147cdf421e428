import { afterEach, describe, expect, it } from "vitest";
import { readAuditLog } from "../../src/audit/index.ts";
import { bearer, startTestServer, type TestServer, WORKSPACE_YAML } from "../server/support.ts";
import { useTempDir } from "../support/cli.ts";
import { startReceiver, type WebhookReceiver, waitFor } from "./support.ts";

let hook: WebhookReceiver | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  await hook?.close();
  server = undefined;
  hook = undefined;
});

describe("alerts: configuration changes through the API", () => {
  it("a patch is one audit entry and one alert; a rollback of two files is one alert; a no-op patch none", async () => {
    const dir = await useTempDir();
    const key = `hmac-${Math.random().toString(36).slice(2)}`;
    hook = await startReceiver(key);
    const s = await startTestServer(
      dir,
      {},
      `${WORKSPACE_YAML}alerts:
  channels:
    hook: { type: webhook, url: "${hook.url}", key: "${key}", timeoutMs: 3000 }
  rules:
    - events: [config.update, config.rollback]
      channels: [hook]
  retryBaseMs: 50
`,
    );
    server = s;
    const call = async (method: "PATCH" | "POST", url: string, payload?: unknown) => {
      const response = await s.app.inject({ method, url, headers: bearer(s.tokens.admin), payload: payload as object });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { version: number; changed: boolean };
    };
    const first = await call("PATCH", "/config?site=shop", { content: { tone: "calm" } });
    const second = await call("PATCH", "/config", { deploy: { parallel: 3 } });
    expect(second.version).toBe(first.version + 1);
    // the same value again changes nothing: no version, no alert
    expect((await call("PATCH", "/config", { deploy: { parallel: 3 } })).changed).toBe(false);
    // back to the first version: siteloom.yaml and sites/shop/site.yaml both change, in one new version
    const rolled = await call("POST", `/config/rollback/${first.version - 1}`);
    expect(rolled).toMatchObject({ changed: true, version: second.version + 1 });

    await waitFor(() => hook!.accepted.length >= 3, 10_000, "three alerts");
    // anything more would have been queued by now: the store holds every delivery before it is sent
    await new Promise((r) => setTimeout(r, 500));
    expect(await s.store.countAlerts()).toBe(3);
    const alerts = hook.accepted.map((a) => a.json as { kind: string; ref: string; audit: { id: string } });
    expect(alerts.map((a) => a.kind)).toEqual(["config.update", "config.update", "config.rollback"]);

    const log = readAuditLog(`${dir}/.siteloom/audit.log`) as unknown as {
      action: string;
      hash: string;
      version?: number;
    }[];
    const changes = log.filter((e) => e.action.startsWith("config.") && e.action !== "config.read");
    // one entry per request: the API's own; the files it wrote add no config.write entries
    expect(changes.map((e) => [e.action, e.version])).toEqual([
      ["config.patch", first.version],
      ["config.patch", second.version],
      ["config.patch", undefined],
      ["config.rollback", rolled.version],
    ]);
    // each alert links to its request's entry
    expect(alerts.map((a) => a.audit.id)).toEqual([changes[0], changes[1], changes[3]].map((e) => e?.hash));
  });
});
