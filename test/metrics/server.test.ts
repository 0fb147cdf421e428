import { afterEach, describe, expect, it } from "vitest";
import { publishActivity } from "../../src/events.ts";
import { createMetrics, startMetricsServer } from "../../src/metrics/index.ts";
import { bearer, startTestServer, type TestServer } from "../server/support.ts";
import { useTempDir } from "../support/cli.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("metrics: GET /metrics and the separate port", () => {
  it("needs a viewer token, counts API requests by route template and pipeline activity with bounded labels", async () => {
    server = await startTestServer(await useTempDir());
    const { app, tokens } = server;
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    await app.inject({ method: "GET", url: "/config?site=shop", headers: bearer(tokens.viewer) });
    publishActivity({
      kind: "pipeline",
      event: {
        type: "step-finished",
        time: new Date().toISOString(),
        runId: "r1",
        site: "shop",
        step: "deploy",
        status: "succeeded",
        durationMs: 1500,
        counts: { uploaded: 7, unchanged: 2 },
        bytes: 4096,
        costUsd: 0,
        plan: [],
      } as { type: string },
    });
    publishActivity({
      kind: "llm.call",
      provider: "openai",
      model: "gpt-4o-mini",
      site: "shop",
      inputTokens: 1000,
      outputTokens: 500,
      costUsd: 0.25,
      ok: true,
    });
    const res = await app.inject({ method: "GET", url: "/metrics", headers: bearer(tokens.viewer) });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    const text = res.body;
    expect(text).toContain('siteloom_http_requests_total{route="/config",method="GET",status="200"} 1');
    expect(text).toContain('siteloom_files_uploaded_total{site="shop"} 7');
    expect(text).toContain('siteloom_transfer_bytes_total{site="shop",step="deploy"} 4096');
    expect(text).toContain('siteloom_step_duration_seconds_bucket{le="2.5",step="deploy",status="succeeded"} 1');
    expect(text).toContain('siteloom_llm_cost_usd_total{provider="openai",model="gpt-4o-mini",site="shop"} 0.25');
    expect(text).toContain("siteloom_budget_used_usd 0");
    // no query string, token or secret value in any label
    expect(text).not.toContain("site=shop");
    expect(text).not.toContain(tokens.viewer);
  });

  it("startMetricsServer serves only GET /metrics on loopback", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const detach = metrics.attach();
    const m = await startMetricsServer({ metrics });
    try {
      expect(m.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      publishActivity({ kind: "retry", what: "deploy", site: "shop" });
      const res = await fetch(m.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('siteloom_retries_total{what="deploy"} 1');
      expect((await fetch(m.url.replace("/metrics", "/other"))).status).toBe(404);
      expect((await fetch(m.url, { method: "POST" })).status).toBe(405);
    } finally {
      detach();
      await m.close();
    }
  });
});
