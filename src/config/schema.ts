import { z } from "zod";
import { credential, guarded } from "../schema-marks.ts";
import { STORE_SCHEMAS } from "../secrets/backends/index.ts";

/**
 * The single source of truth for both configuration files. TypeScript types (`z.infer`), defaults, validation
 * messages and the published JSON Schema (`siteloom config schema`) all come from here.
 *
 * Values documented as "reference allowed" may be written as `${NAME}`, `${NAME:-default}` or
 * `secret://<scope>/<NAME>`; they stay unresolved in every config object and are resolved at use.
 */

export const DEFAULT_PROFILES = ["development", "staging", "production"] as const;

/** One option per registered backend type (src/secrets/backends/index.ts): a new backend file adds its own. */
export const StoreSchema = z.discriminatedUnion("type", STORE_SCHEMAS);

export const SecretsSchema = z
  .strictObject({
    backend: guarded(
      "store",
      z.string().default("file").describe("Name of the default store (a key of `stores`, or file/env)"),
    ),
    stores: guarded("store", z.record(z.string(), StoreSchema).default({}).describe("Named secret stores")),
    allowPlaintext: guarded(
      "credential",
      z.boolean().default(false).describe("Allow plaintext credentials in production (they always warn elsewhere)"),
    ),
    globals: guarded(
      "store",
      z
        .record(z.string().regex(/^[A-Z0-9_]+$/), z.array(z.string()))
        .default({})
        .describe(
          "Credential fields each global secret may be resolved into, beyond its conventional name: { MY_KEY: [llm.apiKey] }",
        ),
    ),
    historySize: z.number().int().min(1).max(1000).default(10).describe("Previous versions kept per secret"),
  })
  .describe("Secret stores and their use");

export const PriceSchema = z.strictObject({
  input: z.number().nonnegative().describe("USD per 1M input tokens"),
  output: z.number().nonnegative().describe("USD per 1M output tokens"),
});

export const LlmSchema = z
  .strictObject({
    provider: guarded(
      "destination",
      z
        .enum(["openai", "openai-compatible", "anthropic", "ollama", "offline"])
        .default("offline")
        .describe("LLM provider; `offline` writes clearly-marked sample drafts without any API"),
    ),
    model: z.string().default("gpt-4o-mini").describe("Model name"),
    baseUrl: guarded(
      "destination",
      z.string().url().optional().describe("API base URL (OpenAI-compatible servers, proxies, tests)"),
    ),
    apiKey: credential(/_API_KEY$/)
      .optional()
      .describe("API key — a reference: secret://global/OPENAI_API_KEY"),
    temperature: z.number().min(0).max(2).default(0.7),
    maxOutputTokens: z.number().int().positive().default(4096),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe(
        "Model requests in flight at once for the whole workspace (every process and machine sharing a PostgreSQL store); also the articles one site generates at once",
      ),
    requestsPerMinute: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Model requests started in any 60 s for the whole workspace (every process and machine sharing a PostgreSQL store); unset: no limit",
      ),
    timeoutMs: z.number().int().positive().default(120_000).describe("Per-request timeout"),
    maxRetries: z.number().int().min(0).max(10).default(3).describe("Retries on 429/5xx/network errors"),
    repairAttempts: z.number().int().min(0).max(5).default(2).describe("Retries when the output is invalid"),
    prices: z.record(z.string(), PriceSchema).default({}).describe("Price overrides per model"),
  })
  .describe("Article generation model");

export const BudgetsSchema = z
  .strictObject({
    maxCostPerArticle: z.number().nonnegative().optional().describe("USD; an article that would exceed it stops"),
    maxMonthlyCost: z.number().nonnegative().optional().describe("USD per calendar month, all sites"),
  })
  .describe("Spending limits");

export const ServerSchema = z
  .strictObject({
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8088),
    tls: z.strictObject({ cert: z.string(), key: z.string() }).optional().describe("PEM files for HTTPS"),
    trustProxy: z.boolean().default(false),
    rateLimit: z.number().int().positive().default(600).describe("Requests per minute per token and address"),
  })
  .describe("Runtime configuration API (siteloom serve)");

export const StateStoreSchema = z
  .strictObject({
    url: credential(/(^|_)STORE_URL$|^DATABASE_URL$/)
      .optional()
      .describe(
        "PostgreSQL holding the shared state of many machines, a reference to a postgres:// URL: secret://global/STORE_URL; unset = .siteloom/state.db (SQLite)",
      ),
    poolSize: z.number().int().min(1).max(100).default(10).describe("PostgreSQL connections per process"),
  })
  .describe("Where runs, locks, the audit log, the cost ledger, manifests and articles live (SITELOOM_STORE wins)");
export const PathsSchema = z
  .strictObject({
    data: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Folder for what runs write: <data>/<site>/export, articles, output and <data>/.siteloom (state, caches), so the configuration can be mounted read-only; relative to the workspace; unset = beside each site.yaml and .siteloom/ (SITELOOM_DATA_DIR wins)",
      ),
  })
  .describe("Where the workspace's data lives");

/** Alert kinds rules can pick (docs/alerts.md); `*` picks every kind. */
export const ALERT_KINDS = [
  "secret.reveal",
  "secret.rotate",
  "secret.write",
  "secret.delete",
  "config.update",
  "config.rollback",
  "token.create",
  "token.revoke",
  "auth.denied",
  "budget.threshold",
  "run.failed",
  "deploy.verify-mismatch",
  "lock.takeover",
] as const;

const AlertChannelSchema = z.discriminatedUnion("type", [
  z
    .strictObject({
      type: z.literal("webhook"),
      url: guarded("destination", z.string().url().describe("Where the JSON is POSTed")),
      key: credential(/(^|_)WEBHOOK_KEY$/)
        .optional()
        .describe(
          "HMAC-SHA256 key (reference: secret://global/ALERT_WEBHOOK_KEY); signs `<timestamp>.<body>` into X-Siteloom-Signature",
        ),
      caFile: guarded("destination", z.string().optional().describe("CA certificate file for the receiver")),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .describe("JSON POST with an HMAC signature"),
  z
    .strictObject({
      type: z.literal("slack"),
      url: credential(/(^|_)SLACK_WEBHOOK_URL$/).describe(
        "Incoming-webhook URL, itself a credential (reference: secret://global/SLACK_WEBHOOK_URL)",
      ),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .describe("Slack incoming webhook"),
  z
    .strictObject({
      type: z.literal("email"),
      host: guarded("destination", z.string().describe("SMTP server")),
      port: guarded("destination", z.number().int().min(1).max(65535).default(587)),
      security: guarded(
        "destination",
        z
          .enum(["starttls", "tls", "none"])
          .default("starttls")
          .describe("starttls (required upgrade, port 587), tls (implicit, port 465), none (loopback relays only)"),
      ),
      user: guarded("destination", z.string().optional()),
      password: credential(/(^|_)SMTP_PASSWORD$/)
        .optional()
        .describe("Reference: secret://global/SMTP_PASSWORD"),
      from: z.string().min(3).describe("Sender address"),
      to: guarded("destination", z.array(z.string().min(3)).min(1).describe("Recipients")),
      caFile: guarded("destination", z.string().optional().describe("CA certificate file for the SMTP server")),
      timeoutMs: z.number().int().positive().default(15_000),
    })
    .describe("E-mail over SMTP"),
]);

export const AlertRuleSchema = z.strictObject({
  events: z
    .array(z.enum([...ALERT_KINDS, "*"]))
    .min(1)
    .describe("Alert kinds; * for all"),
  environments: z.array(z.string()).optional().describe("Only these environments (default: any)"),
  sites: z.array(z.string()).optional().describe("Only events of these sites (default: any, and workspace-wide ones)"),
  channels: z.array(z.string()).min(1).describe("Names of channels (keys of alerts.channels)"),
});

export const AlertsSchema = z
  .strictObject({
    // a channel holds credentials and decides where alerts go: changing one needs the right to change credentials
    channels: guarded(
      "credential",
      z
        .record(z.string().regex(/^[a-z][a-z0-9-]*$/), AlertChannelSchema)
        .default({})
        .describe("Named channels"),
    ),
    rules: z.array(AlertRuleSchema).default([]).describe("Which events go to which channels"),
    productionDefaults: z
      .boolean()
      .default(true)
      .describe(
        "In production, send every secret.reveal, secret.rotate, config.update, config.rollback and run.failed to every channel",
      ),
    budgetThresholds: z
      .array(z.number().positive().max(1000))
      .default([80, 100])
      .describe("Percentages of budgets.maxMonthlyCost that raise budget.threshold, once per month each"),
    authDenied: z
      .strictObject({
        count: z.number().int().min(1).default(5),
        windowMinutes: z.number().int().min(1).default(10),
      })
      .default({ count: 5, windowMinutes: 10 })
      .describe("auth.denied fires when one address is refused this often within the window"),
    attempts: z.number().int().min(1).max(20).default(3).describe("Tries per delivery round"),
    retryBaseMs: z.number().int().min(0).default(1000).describe("First wait between tries of a round"),
    retryLaterMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe("Wait before the next round after a failed one (doubles per round, up to an hour)"),
    auditUrl: z
      .string()
      .url()
      .optional()
      .describe("Base URL of the API (siteloom serve) for links to audit entries in alerts"),
  })
  .describe("Alerts on sensitive changes and failures (webhook, Slack, e-mail)");

export const MetricsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve GET /metrics (Prometheus text format)"),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe("Serve /metrics on this separate port without a token instead of on the API (with a viewer token)"),
    host: guarded(
      "destination",
      z.string().default("127.0.0.1").describe("Address of the separate metrics port (keep it on loopback)"),
    ),
  })
  .describe("Prometheus metrics of siteloom serve and siteloom worker");

export const FeaturesSchema = z
  .strictObject({
    autoPublish: z.boolean().default(false).describe("Publish to WordPress after a run"),
    autoDeploy: z.boolean().default(true).describe("Deploy at the end of `siteloom run`"),
  })
  .describe("Feature flags (may differ per environment)");

export const RemoteSchema = z
  .strictObject({
    protocol: guarded("destination", z.enum(["ftp", "ftps", "sftp", "local"]).default("ftp")),
    host: guarded("destination", z.string().optional().describe("Host name or address")),
    port: guarded(
      "destination",
      z.number().int().min(1).max(65535).optional().describe("Default 21 (ftp/ftps), 990 (implicit), 22 (sftp)"),
    ),
    user: guarded("destination", z.string().optional()),
    password: credential(/(^|_)S?FTP_PASSWORD$/)
      .optional()
      .describe("Reference: secret://<site>/FTP_PASSWORD"),
    privateKey: guarded("credential", z.string().optional().describe("SFTP private key file")),
    passphrase: credential(/(^|_)SSH_KEY_PASSPHRASE$/)
      .optional()
      .describe("Passphrase of the private key (reference)"),
    root: guarded("destination", z.string().default("/").describe("Remote directory of the site")),
    encoding: z.enum(["utf8", "latin1"]).default("utf8").describe("File name encoding of old FTP servers"),
    implicitTls: guarded("destination", z.boolean().default(false).describe("FTPS on port 990 (implicit TLS)")),
    tlsFingerprint: guarded(
      "destination",
      z.string().optional().describe("Pinned SHA-256 certificate fingerprint of a self-signed host"),
    ),
    caFile: guarded("destination", z.string().optional().describe("CA certificate file for the host")),
    insecure: guarded("destination", z.boolean().default(false).describe("Skip TLS verification (warns on every run)")),
    hostKey: guarded("destination", z.string().optional().describe("Pinned SSH host key fingerprint (SHA256:...)")),
    timeoutMs: z.number().int().positive().default(30_000),
    pipelining: z
      .enum(["auto", "on", "off"])
      .default("auto")
      .describe(
        "FTP: send commands whose replies do not decide the next ones in one write. auto: on, and off for the rest of the run (with a warning) once the server answers out of order or refuses a command sent early",
      ),
  })
  .describe("Where the live site is hosted");

export const ExportSchema = z
  .strictObject({
    exclude: z.array(z.string()).default([]).describe("gitignore-style patterns not downloaded"),
    maxFileSize: z
      .number()
      .int()
      .positive()
      .default(100 * 1024 * 1024)
      .describe("Bytes; larger files are skipped, and a download is cut off here even if the listing said less"),
    maxTotalBytes: z
      .number()
      .int()
      .positive()
      .default(20 * 1024 ** 3)
      .describe("Bytes downloaded in one export at most; a larger plan is refused before any download"),
    maxDepth: z.number().int().min(1).default(64).describe("Folder levels listed below remote.root at most"),
    maxPathLength: z
      .number()
      .int()
      .min(16)
      .default(1024)
      .describe("Longest path (UTF-8 bytes below remote.root) mirrored; longer ones are skipped"),
    maxEntriesPerDir: z
      .number()
      .int()
      .min(1)
      .default(50_000)
      .describe("Entries one folder may list; a larger listing is not mirrored"),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .default(500_000)
      .describe("Entries in the whole remote tree; listing stops there and nothing is mirrored"),
  })
  .describe("Mirroring the live site down; the limits bound what a broken or hostile server can make it do");

export const DeploySchema = z
  .strictObject({
    parallel: z.number().int().min(1).max(64).default(8).describe("Connections in the pool"),
    manifestPath: z
      .string()
      .default(".siteloom")
      .describe("Remote manifest folder, relative to remote.root (a folder inside it; it gets a deny-all .htaccess)"),
    protect: z.array(z.string()).default([".htaccess", ".well-known/", "cgi-bin/"]).describe("Never deleted remotely"),
    delete: z.boolean().default(false).describe("Delete remote files not in output/"),
    verify: z.enum(["size", "hash", "none"]).default("size"),
    retries: z.number().int().min(0).max(20).default(4),
    retryBaseMs: z.number().int().min(0).default(250),
    retryMaxMs: z.number().int().min(0).default(10_000),
    backups: z
      .number()
      .int()
      .min(0)
      .max(50)
      .default(3)
      .describe(
        "Deploys whose replaced and deleted files are kept on the server (in deploy.backupDir) for `siteloom deploy --rollback`; 0 keeps none",
      ),
    backupDir: z
      .string()
      .min(1)
      .default("auto")
      .describe(
        "Where the backups go: `auto` (<parent of remote.root>/.siteloom-backups/<its name>/ when remote.root has a parent the account can write, else inside), `inside` (<manifestPath>/backups/, deny-all), or a server folder outside remote.root (absolute, or relative to the login folder)",
      ),
  })
  .describe("Uploading output/ to the host");

export const ContentSchema = z
  .strictObject({
    language: z.string().default("en"),
    author: z.string().optional(),
    minWords: z.number().int().positive().max(20_000).default(600),
    maxWords: z.number().int().positive().max(20_000).default(1500),
    tone: z.string().optional(),
    audience: z.string().optional(),
    status: z.enum(["draft", "ready"]).default("ready").describe("Status of generated articles"),
    review: z
      .enum(["required", "off"])
      .optional()
      .describe(
        "Editorial review: `required` makes generated articles drafts until approved (siteloom articles approve); default: required in the production environment, off elsewhere",
      ),
  })
  .describe("Article generation defaults for the site");

export const EnrichSchema = z
  .strictObject({
    template: z.string().optional().describe("Page used as the layout (default: detected)"),
    listingTemplate: z
      .string()
      .optional()
      .describe("Page used as the layout of blog listings (default: a detected listing page, else the article layout)"),
    contentSelector: z.string().optional().describe("CSS selector of the content region (default: detected)"),
    keep: z
      .array(z.string())
      .default([])
      .describe("Selectors of parts never left out of generated pages (the layout model treats them as chrome)"),
    remove: z.array(z.string()).default([]).describe("Selectors of parts left out of generated pages (a hero)"),
    blogPath: z.string().default("blog"),
    perPage: z.number().int().min(1).max(100).default(10),
    navLink: z
      .strictObject({
        enabled: z.boolean().default(false),
        label: z.string().default("Blog"),
        selector: z.string().optional().describe("Navigation list; default: detected <nav> ul"),
      })
      .default({ enabled: false, label: "Blog" }),
    languages: z.array(z.string()).default([]).describe("hreflang languages"),
    skipServerSide: z.boolean().default(true).describe("Leave pages with PHP/SSI untouched"),
    organization: z.strictObject({ name: z.string().optional(), logo: z.string().optional() }).default({}),
    sitemapLimit: z.number().int().min(1).max(50_000).default(50_000),
    feedItems: z.number().int().min(1).default(20),
    drafts: z
      .enum(["skip", "preview"])
      .default("skip")
      .describe(
        'Articles with status "draft": skip them, or render previews marked "Draft — sample content" with noindex, left out of the sitemap and feeds',
      ),
  })
  .describe("Turning articles into pages of the site");

export const WordpressSchema = z
  .strictObject({
    url: guarded("destination", z.string().url().describe("Site URL; the REST API is at /wp-json/")),
    user: guarded("destination", z.string()),
    appPassword: credential(/(^|_)WP_APP_PASSWORD$/).describe("Application password (reference)"),
    status: z
      .enum(["draft", "publish", "future"])
      .default("draft")
      .describe("Post status (per environment: draft in staging, publish in production); future dates stay future"),
    author: z.number().int().positive().optional().describe("WordPress user id of the posts' author"),
    caFile: guarded(
      "destination",
      z.string().optional().describe("CA certificate file for a WordPress with a private certificate"),
    ),
    concurrency: z.number().int().min(1).max(16).default(2).describe("Requests at once (shared hosting is slow)"),
    timeoutMs: z.number().int().positive().default(30_000).describe("Timeout of one request"),
    retries: z.number().int().min(0).max(10).default(4).describe("Retries on 429/5xx and connection errors"),
    retryBaseMs: z.number().int().positive().default(500).describe("First retry delay (doubles each time)"),
    retryMaxMs: z.number().int().positive().default(30_000).describe("Longest wait between retries (Retry-After too)"),
    onRemoved: z
      .enum(["keep", "draft", "trash"])
      .default("keep")
      .describe("What happens to the post of an article removed from articles/ (or no longer ready)"),
    otherLinks: z
      .enum(["absolute", "text"])
      .default("absolute")
      .describe("Links to pages not on WordPress: absolute links to the static site, or plain text"),
  })
  .describe("Publishing to WordPress");

export const QueueSchema = z
  .strictObject({
    url: guarded(
      "store",
      z
        .string()
        .optional()
        .describe(
          "PostgreSQL of the job queue (pg-boss), a reference: ${SITELOOM_QUEUE_URL}; default: the state store's when it is PostgreSQL",
        ),
    ),
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .default("siteloom-run")
      .describe("Queue the runs go to (`siteloom worker --queue` picks another)"),
    retryLimit: z.number().int().min(0).max(20).default(3).describe("Retries of a failed job before the dead letters"),
    retryDelaySeconds: z.number().int().min(1).default(10).describe("First retry delay; doubles each time"),
    leaseSeconds: z
      .number()
      .int()
      .min(5)
      .max(600)
      .default(30)
      .describe("A job whose worker stops heartbeating for this long is handed to another worker"),
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .default(30)
      .describe("On SIGTERM a worker finishes its jobs for this long, then hands the rest back"),
    startWaitSeconds: z
      .number()
      .int()
      .min(0)
      .default(60)
      .describe(
        "At start, serve and worker wait this long for a database they cannot reach yet (a stack starting in any order), retrying with backoff; a wrong password fails at once",
      ),
    scheduleCheckSeconds: z
      .number()
      .int()
      .min(1)
      .max(45)
      .default(30)
      .describe(
        "How often the workers look for a due schedule: its runs are enqueued at most this long after its time",
      ),
  })
  .describe("Job queue and workers (many machines; see docs/many-machines.md)");

export const ScheduleSchema = z
  .strictObject({
    cron: z
      .string()
      .regex(/^\S+(\s+\S+){4,5}$/, "expected a cron expression of 5 fields such as `0 3 * * *`")
      .describe("When to run, cron syntax: `0 3 * * *` is every day at 03:00"),
    tz: z.string().default("UTC").describe("Time zone of the cron expression, e.g. Europe/Paris"),
    steps: z.array(z.string()).optional().describe("Steps to run; default: the pipeline's default steps"),
  })
  .describe("Scheduled runs of the site (enqueued for the workers)");

/** Sections a site can set (and the workspace can default for every site). */
export const SiteSectionsShape = {
  name: z.string().optional().describe("Display name of the site"),
  domain: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i, "expected a domain such as example.com")
    .optional(),
  url: z.string().url().optional().describe("Public base URL; default https://<domain>/"),
  remote: RemoteSchema.default(() => RemoteSchema.parse({})),
  export: ExportSchema.default(() => ExportSchema.parse({})),
  deploy: DeploySchema.default(() => DeploySchema.parse({})),
  content: ContentSchema.default(() => ContentSchema.parse({})),
  enrich: EnrichSchema.default(() => EnrichSchema.parse({})),
  wordpress: WordpressSchema.optional(),
  llm: LlmSchema.default(() => LlmSchema.parse({})),
  budgets: BudgetsSchema.default(() => BudgetsSchema.parse({})),
  features: FeaturesSchema.default(() => FeaturesSchema.parse({})),
  schedule: ScheduleSchema.optional(),
};

/** Keys only the workspace file has. */
export const WorkspaceOnlyShape = {
  $schema: z.string().optional(),
  environment: guarded(
    "destination",
    z.string().optional().describe("Default environment when neither --env nor SITELOOM_ENV is given"),
  ),
  env: guarded(
    "store",
    z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a variable name such as FTP_PASSWORD"))
      .default([])
      .describe("Environment variables that ${NAME} references may read; any other is refused at use"),
  ),
  profiles: z
    .array(z.string().regex(/^[a-z][a-z0-9-]*$/))
    .default([...DEFAULT_PROFILES])
    .describe("Known environment names"),
  secrets: SecretsSchema.default(() => SecretsSchema.parse({})),
  server: ServerSchema.default(() => ServerSchema.parse({})),
  queue: QueueSchema.default(() => QueueSchema.parse({})),
  store: StateStoreSchema.default(() => StateStoreSchema.parse({})),
  paths: PathsSchema.default(() => PathsSchema.parse({})),
  alerts: AlertsSchema.default(() => AlertsSchema.parse({})),
  metrics: MetricsSchema.default(() => MetricsSchema.parse({})),
};

/** The fully resolved configuration of one site (all layers merged). */
export const SiteConfigSchema = z.strictObject({ ...WorkspaceOnlyShape, ...SiteSectionsShape });
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
export type WorkspaceConfig = SiteConfig;

/** `siteloom.yaml` as written: everything, plus per-environment blocks. */
export const WorkspaceFileSchema = z.strictObject({
  ...WorkspaceOnlyShape,
  ...SiteSectionsShape,
  environments: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .optional()
    .describe("Per-environment overrides: environments.production.deploy.parallel"),
});

/** `sites/<name>/site.yaml` as written. */
export const SiteFileSchema = z.strictObject({
  $schema: z.string().optional(),
  ...SiteSectionsShape,
  environments: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

export type RemoteConfig = z.infer<typeof RemoteSchema>;
export type DeployConfig = z.infer<typeof DeploySchema>;
export type ExportConfig = z.infer<typeof ExportSchema>;
export type LlmConfig = z.infer<typeof LlmSchema>;
export type BudgetsConfig = z.infer<typeof BudgetsSchema>;
export type ContentConfig = z.infer<typeof ContentSchema>;
export type EnrichConfig = z.infer<typeof EnrichSchema>;
export type WordpressConfig = z.infer<typeof WordpressSchema>;
export type SecretsConfig = z.infer<typeof SecretsSchema>;
export type StoreConfig = z.infer<typeof StoreSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type FeaturesConfig = z.infer<typeof FeaturesSchema>;
export type QueueConfig = z.infer<typeof QueueSchema>;
export type ScheduleConfig = z.infer<typeof ScheduleSchema>;
export type AlertsConfig = z.infer<typeof AlertsSchema>;
export type AlertChannelConfig = z.infer<typeof AlertChannelSchema>;
export type AlertRule = z.infer<typeof AlertRuleSchema>;
export type MetricsConfig = z.infer<typeof MetricsSchema>;
export type PathsConfig = z.infer<typeof PathsSchema>;
