import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { SiteloomError } from "../../errors.ts";
import {
  normaliseManifestDir,
  openSitePool,
  runDeploy,
  runExport,
  runRollback,
  type SitePool,
} from "../../transfer/index.ts";
import { defineStep, type StepContext } from "../types.ts";

/** Mirrors the live site down into sites/<name>/export/ (incremental). */
export const exportStep = defineStep({
  name: "export",
  description: "mirror the live site down into sites/<name>/export/",
  async run(ctx) {
    const { site } = ctx;
    const cfg = site.config;
    const manifestDir = normaliseManifestDir(cfg.deploy.manifestPath);
    const result = await _withPool(ctx, "←", ({ pool, unsafe }) =>
      runExport({
        site: site.name,
        exportDir: site.paths.export,
        pool,
        // our own deploy manifest folder on the server is not part of the site
        config: { ...cfg.export, exclude: [...cfg.export.exclude, ...(manifestDir ? [`/${manifestDir}/`] : [])] },
        dryRun: ctx.dryRun,
        retries: cfg.deploy.retries,
        retryBaseMs: cfg.deploy.retryBaseMs,
        retryMaxMs: cfg.deploy.retryMaxMs,
        onProgress: (e) =>
          e.phase === "download" &&
          ctx.progress({ done: e.done, total: e.total, unit: "files", message: e.path ?? "" }),
      }).then((exported) => {
        // entries the server listed that were refused for safety are part of the "skipped" report
        for (const u of unsafe) {
          exported.skipped.push({ path: u.dir === "" ? u.name : `${u.dir}/${u.name}`, reason: `refused: ${u.reason}` });
          exported.stats.skipped++;
        }
        return exported;
      }),
    );
    ctx.detail(result);
    for (const skipped of result.skipped) ctx.info(`skipped ${skipped.path} (${skipped.reason})`);
    if (result.failures.length > 0) {
      throw new SiteloomError("ERR_TRANSFER_IO", `${result.failures.length} file(s) could not be downloaded`, {
        site: site.name,
        details: result.failures.map((f) => `  ${f.path}: ${f.message}`),
      });
    }
    const s = result.stats;
    if (ctx.dryRun) {
      return {
        counts: { download: result.downloaded.length, remove: result.deleted.length },
        summary: `would download ${result.downloaded.length} file(s), remove ${result.deleted.length}`,
        plan: [...result.deleted.map((p) => `remove   ${p}`), ...result.downloaded.map((p) => `download ${p}`)],
      };
    }
    return {
      counts: { downloaded: s.downloaded, unchanged: s.unchanged, removed: s.deleted },
      bytes: s.bytes,
      summary: `${s.downloaded} downloaded, ${s.unchanged} unchanged, ${s.deleted} removed`,
    };
  },
});

/** What `siteloom deploy` passes to the deploy step (`ctx.options`); `siteloom run` passes none. */
export interface DeployStepOptions {
  /** Delete remote files that are not in output/ (besides `deploy.delete`). */
  delete?: boolean;
  /** Empty the remote root first; `confirmPurge` must agree. */
  purge?: boolean;
  /** Compare with a listing of the server instead of trusting the manifest. */
  verify?: boolean;
  confirmPurge?: (paths: string[]) => Promise<boolean>;
  /** Undo deploys instead: restore what they replaced or deleted from the server's backups. */
  rollback?: boolean;
  /** With `rollback`: the deploy to return to (manifest id, its start, or run id); default: before the last one. */
  to?: string;
}

/** Uploads what changed in sites/<name>/output/ to the host (temporary names, then renamed into place). */
export const deployStep = defineStep({
  name: "deploy",
  description: "upload what changed in output/ to the host, atomically",
  skip(site, explicit) {
    return site.config.features.autoDeploy || explicit
      ? undefined
      : "features.autoDeploy is off; run with --steps …,deploy to deploy";
  },
  async run(ctx) {
    const { site, workspace } = ctx;
    const cfg = site.config.deploy;
    const flags = ctx.options as DeployStepOptions;
    // a rollback works from the server's backups alone: output/ plays no part
    if (flags.rollback) return _rollback(ctx, flags.to);
    // In a dry run of the whole pipeline, enrich only said what it would write; deploy alone reports the missing output.
    if (ctx.dryRun && ctx.previous.enrich !== undefined && (await isEmptyDir(site.paths.output))) {
      return { summary: "nothing to deploy yet: output/ is empty (a real run builds it first)" };
    }
    // An enrichment killed while moving its new tree into output/ is finished first: never deploy half of each.
    const { settleOutput } = await import("../../enrich/staging.ts"); // not index.ts: no HTML/LLM code
    if (!ctx.dryRun) await settleOutput(site.paths.output);
    const result = await _withPool(ctx, "→", ({ pool }) =>
      runDeploy({
        site: site.name,
        env: workspace.env,
        outputDir: site.paths.output,
        stateDir: workspace.stateDir,
        store: ctx.store,
        lockOwner: ctx.runId,
        pool,
        config: cfg,
        dryRun: ctx.dryRun,
        delete: flags.delete === true || cfg.delete,
        purge: flags.purge === true,
        verify: flags.verify === true,
        ...(flags.confirmPurge ? { confirmPurge: flags.confirmPurge } : {}),
        onProgress: (e) => {
          if (e.totalBytes > 0)
            ctx.progress({ done: e.bytes, total: e.totalBytes, unit: "bytes", message: e.path ?? "" });
        },
      }),
    );
    ctx.detail(result);
    for (const note of result.notes) ctx.info(note);
    if (result.failures.length > 0) {
      throw new SiteloomError(
        "ERR_DEPLOY_FAILED",
        `${result.failures.length} file(s) failed to deploy; rerun \`siteloom deploy ${site.name}\` to retry only those`,
        { site: site.name, details: result.failures.map((f) => `  ${f.path}: ${f.message}`) },
      );
    }
    const s = result.stats;
    if (ctx.dryRun) {
      const bytes = result.plan.upload.reduce((n, u) => n + u.size, 0);
      return {
        counts: { upload: result.plan.upload.length, delete: result.plan.delete.length },
        bytes,
        summary: `would upload ${result.plan.upload.length} file(s), delete ${result.plan.delete.length}`,
        plan: [
          ...result.plan.delete.map((p) => `delete ${p}`),
          ...result.plan.upload.map((u) => `upload ${u.path} (${u.size} bytes, ${u.reason})`),
        ],
      };
    }
    return {
      counts: { uploaded: s.uploaded, unchanged: s.skipped, deleted: s.deleted },
      bytes: s.bytes,
      summary:
        s.uploaded === 0 && s.deleted === 0
          ? `up to date (${s.skipped} unchanged)`
          : `${s.uploaded} uploaded, ${s.skipped} unchanged, ${s.deleted} deleted`,
    };
  },
});

/** Where the enrich step keeps its cache between runs. */
export function enrichCacheFile(stateDir: string, site: string): string {
  return join(stateDir, "enrich", `${site}.json`);
}

/** True when the folder is missing or has no entries. */
export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

// --- internal ---

async function _rollback(ctx: StepContext, to: string | undefined) {
  const { site, workspace } = ctx;
  const result = await _withPool(ctx, "→", ({ pool }) =>
    runRollback({
      site: site.name,
      env: workspace.env,
      stateDir: workspace.stateDir,
      store: ctx.store,
      lockOwner: ctx.runId,
      pool,
      config: site.config.deploy,
      dryRun: ctx.dryRun,
      to,
    }),
  );
  ctx.detail(result);
  const { plan, stats } = result;
  const undone = `${plan.undo.length} deploy(s) undone, back to ${plan.to?.slice(0, 8) ?? "the state before them"}`;
  if (ctx.dryRun) {
    return {
      counts: { restore: plan.restore.length, remove: plan.remove.length },
      summary: `would restore ${plan.restore.length} file(s), remove ${plan.remove.length} (${undone})`,
      plan: [...plan.remove.map((p) => `remove  ${p}`), ...plan.restore.map((r) => `restore ${r.path}`)],
    };
  }
  return {
    counts: { restored: stats.restored, removed: stats.removed },
    summary: `rolled back: ${stats.restored} restored, ${stats.removed} removed (${undone})`,
  };
}

/** Opens the site's connection pool, says where it points (`deploy shop (env production) → ftp://…`), runs `fn`. */
async function _withPool<T>(ctx: StepContext, arrow: "←" | "→", fn: (sitePool: SitePool) => Promise<T>): Promise<T> {
  const sitePool = await openSitePool(ctx.site, ctx.workspace, ctx.site.config.deploy.parallel, { warn: ctx.warn });
  const { pool } = sitePool;
  const verb = arrow === "→" ? "deploy" : "export";
  ctx.info(
    `${verb} ${ctx.site.name} (env ${ctx.workspace.env}) ${arrow} ${sitePool.describe}${ctx.dryRun ? " [dry run]" : ""}`,
  );
  // Ctrl-C: closing the connections abandons transfers in flight; uploads and downloads go to temporary names and
  // are renamed into place only when complete, so nothing partial is left at a final name, and a rerun resumes.
  const onAbort = () => {
    void pool.close().catch(() => {});
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(sitePool);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await pool.close().catch(() => {});
  }
}
