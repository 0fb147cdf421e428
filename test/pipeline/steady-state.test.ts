import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PipelineEvent } from "../../src/pipeline/index.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { createExampleWorkspace } from "../support/example-workspace.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";

// Spawned CLIs and a real server: on a busy shared machine one test can take minutes; a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// Steady state (issue 17): the example site run again and again through the built CLI. The first run deploys what
// enrich made; the second run's export brings back what that deploy replaced (export mirrors the live site), and
// enrich must turn its own deployed output into the same bytes, so that deploy uploads nothing; the third run moves
// no file at all. Before the fix the Blog link of the blog's own pages lost its aria-current once the live site
// had the link, and each site reached a no-op only at its fourth run.

type StepFinished = Extract<PipelineEvent, { type: "step-finished" }>;

describe.each(["vsftpd-ftp", "local"] as const)("pipeline: steady state on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    { steps: "export,enrich,deploy", articles: 0 },
    // the offline provider's sample drafts, rendered as previews: article pages too
    { steps: "export,generate,enrich,deploy", articles: 5 },
  ])("--steps $steps: the second run uploads nothing, the third moves nothing", async ({ steps, articles }) => {
    const dir = await useTempDir("siteloom-steady-");
    const root = join(dir, "ws");
    const live = join(server.rootDir, "example");
    await createExampleWorkspace(root, {
      server,
      // never called: the provider is set to offline below
      llm: { url: "http://127.0.0.1:9/v1" } as Parameters<typeof createExampleWorkspace>[1]["llm"],
      apiKey: "unused",
      editSite: (doc) => {
        if (kind === "local") doc.set("remote", doc.createNode({ protocol: "local", root: live }));
      },
      editWorkspace: (doc) => {
        doc.set("llm", doc.createNode({ provider: "offline" }));
        doc.set("env", Object.keys(server.env));
      },
    });
    const run = async () => {
      const r = await runCli(["--workspace", root, "run", "example", "--steps", steps, "--json"], {
        env: server.env,
        timeoutMs: 180_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const byStep = new Map<string, Record<string, number>>();
      for (const line of r.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as PipelineEvent;
        if (event.type === "step-finished") byStep.set(event.step, (event as StepFinished).counts ?? {});
      }
      return { export: byStep.get("export")!, enrich: byStep.get("enrich")!, deploy: byStep.get("deploy")! };
    };

    const first = await run();
    expect(first.export).toMatchObject({ downloaded: 9, unchanged: 0 }); // the example site's 9 files
    // the example's files, the blog (index, 2 feeds) and with articles their pages and categories: every page (the
    // new Blog link), the sitemap, robots.txt and the blog are uploaded, the stylesheet and the 2 images are not
    const output = await tree(join(root, "sites/example/output"));
    expect(output.size).toBeGreaterThanOrEqual(12 + articles);
    expect(first.deploy).toMatchObject({ uploaded: output.size - 3, unchanged: 3, deleted: 0 });
    const deployed = await tree(live);
    expect(withoutManifest(deployed)).toEqual(output);

    // export brings back exactly what the deploy wrote; enrich gives the same bytes from it: nothing to upload
    const second = await run();
    expect(second.export).toMatchObject({ downloaded: first.deploy.uploaded, removed: 0 });
    expect(second.deploy).toMatchObject({ uploaded: 0, deleted: 0 });
    expect(await tree(live)).toEqual(deployed);

    const third = await run();
    expect(third.export).toMatchObject({ downloaded: 0, removed: 0, unchanged: output.size });
    expect(third.enrich).toMatchObject({ written: 0, removed: 0 });
    expect(third.deploy).toMatchObject({ uploaded: 0, deleted: 0 });
    expect(await tree(live)).toEqual(deployed);
  });
});
