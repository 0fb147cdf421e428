/**
 * The WordPress client's retry rules on a loopback HTTP server that answers from a script (the statuses a real
 * WordPress, its host's proxy or a rate-limiting plugin send); the whole publish runs against a real WordPress in
 * wordpress.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWordpressClient } from "../../src/publish/index.ts";
import { Secret } from "../../src/secret.ts";
import { type LocalService, sendJson, startLocalService } from "../support/cloud/http.ts";

let server: LocalService;
let script: number[] = [];

beforeAll(async () => {
  server = await startLocalService((_req, res) => {
    const status = script.shift() ?? 200;
    if (status === 200) return sendJson(res, 200, { id: 7 });
    return sendJson(res, status, { code: `status_${status}` }, status === 429 ? { "retry-after": "0" } : {});
  });
});
afterAll(async () => {
  await server?.close();
});

function client() {
  return createWordpressClient({ url: server.url, user: "admin", appPassword: new Secret("pw"), retryBaseMs: 1 });
}

describe("publish: WordPress client retries", () => {
  it.each([408, 409, 425, 429, 500, 502, 503])("a read answered %i is retried, then succeeds", async (status) => {
    script = [status, status];
    const c = client();
    const before = server.requests.length;
    await expect(c.rest("GET", "/wp/v2/posts/7")).resolves.toEqual({ id: 7 });
    expect(server.requests.length - before).toBe(3);
    expect(c.stats.retries).toBe(2);
    await c.close();
  });

  it.each([408, 425, 429, 503])("a create answered %i (the server did not act) is sent again", async (status) => {
    script = [status];
    const c = client();
    const before = server.requests.length;
    await expect(c.rest("POST", "/wp/v2/posts", { body: { title: "t" } })).resolves.toEqual({ id: 7 });
    expect(server.requests.length - before).toBe(2);
    await c.close();
  });

  it.each([409, 500, 502])(
    "a create answered %i is not sent again (it may have been done): one clear error",
    async (status) => {
      script = [status];
      const c = client();
      const before = server.requests.length;
      const error = await c.rest("POST", "/wp/v2/posts", { body: { title: "t" } }).catch((e) => e);
      expect(server.requests.length - before).toBe(1);
      expect(error).toMatchObject({
        code: "ERR_PUBLISH_FAILED",
        message: `WordPress answered HTTP ${status} status_${status}`,
      });
      await c.close();
    },
  );

  it("retries spent: the last status and the number of tries, one line", async () => {
    script = [503, 503, 503, 503, 503];
    const c = client();
    const error = await c.rest("GET", "/wp/v2/posts/7").catch((e) => e);
    expect(error).toMatchObject({
      code: "ERR_PUBLISH_FAILED",
      message: "WordPress answered HTTP 503 status_503 (gave up after 5 tries)",
    });
    await c.close();
  });
});
