// Checks a DigitalOcean App Platform spec against the fields DigitalOcean documents for app.yaml: the app spec
// reference (https://docs.digitalocean.com/products/app-platform/reference/app-spec/) and the generated Go types of
// its official client, godo (github.com/digitalocean/godo, apps.gen.go: AppSpec, AppServiceSpec, AppWorkerSpec,
// AppDatabaseSpec, AppVariableDefinition, ImageSourceSpec, AppServiceSpecHealthCheck, HealthCheckSpec, ...). Only the
// parts of those types a siteloom spec uses are written out in full; an unknown field anywhere is a problem, as a
// typo (`instance_cout`) would otherwise be dropped silently by the platform.
import { isReference } from "../../src/config/index.ts";
import { isCredentialVariable } from "../../src/config/mask.ts";

// biome-ignore lint/suspicious/noExplicitAny: specs from YAML are what is being checked
export type AppSpecDoc = Record<string, any>;

/** Type problems: unknown fields, wrong scalar types, values outside an enum, missing required fields. */
export function appSpecTypeProblems(spec: AppSpecDoc): string[] {
  const problems: string[] = [];
  _check(spec, TYPES.AppSpec!, "spec", problems);
  return problems;
}

/** What the spec of one environment must hold. */
export interface AppSpecExpectations {
  env: string;
}

/** Our rules: the topology of issue 22 and no credential in plain sight. */
export function appSpecRuleProblems(spec: AppSpecDoc, expect: AppSpecExpectations): string[] {
  const problems: string[] = [];
  const envOf = (list: AppSpecDoc[] | undefined, key: string) => (list ?? []).find((e) => e.key === key)?.value;
  const api = (spec.services ?? []).find((s: AppSpecDoc) => s.name === "api");
  const worker = (spec.workers ?? []).find((w: AppSpecDoc) => w.name === "worker");
  if (!api) problems.push("no service api");
  else {
    if (api.instance_count !== 2) problems.push(`api: ${api.instance_count} instances, expected 2`);
    if (!/^siteloom serve\b/.test(api.run_command ?? "")) problems.push("api does not run `siteloom serve`");
    if (api.health_check?.http_path !== "/health") problems.push("api: the health check is not GET /health");
    const port = envOf(api.envs, "SITELOOM_SERVER__PORT");
    if (String(api.http_port) !== port)
      problems.push(`api: http_port ${api.http_port} is not the port served (${port})`);
    if (envOf(api.envs, "SITELOOM_SERVER__HOST") !== "0.0.0.0") problems.push("api: serve binds loopback only");
  }
  if (!worker) problems.push("no worker worker");
  else {
    if (worker.instance_count !== 3) problems.push(`worker: ${worker.instance_count} instances, expected 3`);
    if (worker.run_command !== "siteloom worker") problems.push("worker does not run `siteloom worker`");
  }
  const db = (spec.databases ?? []).find((d: AppSpecDoc) => d.engine === "PG");
  if (db?.version !== "15") problems.push("no PostgreSQL 15 database");
  if (envOf(spec.envs, "SITELOOM_ENV") !== expect.env) problems.push(`SITELOOM_ENV is not ${expect.env}`);
  if (envOf(spec.envs, "SITELOOM_SECRETS_BACKEND") !== "env") problems.push("not on the env secret store");
  const components = [...(spec.services ?? []), ...(spec.workers ?? []), ...(spec.jobs ?? [])];
  for (const c of components) {
    if (!c.image?.tag || c.image.tag === "latest") problems.push(`${c.name}: the image has no release tag`);
  }
  for (const [where, list] of [["app", spec.envs], ...components.map((c) => [c.name, c.envs])] as const) {
    for (const e of (list ?? []) as AppSpecDoc[]) {
      const credential = e.key.startsWith("SITELOOM_SECRET_") || isCredentialVariable(e.key);
      // a reference (secret://global/STORE_URL) names a credential without holding it
      const reference = typeof e.value === "string" && isReference(e.value);
      if (credential && !reference && e.type !== "SECRET")
        problems.push(`${where}: ${e.key} is a credential but not of type SECRET`);
      // a SECRET may carry a binding (${db.DATABASE_URL}) or DigitalOcean's own encrypted value, never a literal
      if (e.type === "SECRET" && e.value !== undefined && !/^\$\{[A-Za-z0-9_.-]+\}$|^EV\[/.test(String(e.value))) {
        problems.push(`${where}: ${e.key} holds a literal secret value`);
      }
    }
  }
  return problems;
}

// --- internal ---

type FieldType = "string" | "int" | "bool" | { enum: readonly string[] } | { object: string } | { array: FieldType };

interface TypeDef {
  fields: Record<string, FieldType>;
  required?: string[];
}

const SOURCE = { object: "GitHubSourceSpec" } as const;
const COMMON_COMPONENT: Record<string, FieldType> = {
  name: "string",
  git: { object: "GitSourceSpec" },
  github: SOURCE,
  gitlab: SOURCE,
  bitbucket: SOURCE,
  image: { object: "ImageSourceSpec" },
  dockerfile_path: "string",
  build_command: "string",
  run_command: "string",
  source_dir: "string",
  environment_slug: "string",
  envs: { array: { object: "AppVariableDefinition" } },
  instance_size_slug: "string",
  instance_count: "int",
  autoscaling: { object: "AppAutoscalingSpec" },
  alerts: { array: { object: "AppAlertSpec" } },
  log_destinations: { array: { object: "Opaque" } },
  liveness_health_check: { object: "HealthCheckSpec" },
};
const HEALTH_CHECK: Record<string, FieldType> = {
  initial_delay_seconds: "int",
  period_seconds: "int",
  timeout_seconds: "int",
  success_threshold: "int",
  failure_threshold: "int",
  http_path: "string",
  port: "int",
};

/** From godo apps.gen.go (field names are the `json:` tags). */
const TYPES: Record<string, TypeDef> = {
  AppSpec: {
    required: ["name"],
    fields: {
      name: "string",
      services: { array: { object: "AppServiceSpec" } },
      static_sites: { array: { object: "Opaque" } },
      workers: { array: { object: "AppWorkerSpec" } },
      jobs: { array: { object: "AppJobSpec" } },
      functions: { array: { object: "Opaque" } },
      databases: { array: { object: "AppDatabaseSpec" } },
      domains: { array: { object: "AppDomainSpec" } },
      region: "string",
      envs: { array: { object: "AppVariableDefinition" } },
      alerts: { array: { object: "AppAlertSpec" } },
      ingress: { object: "Opaque" },
      egress: { object: "Opaque" },
      features: { array: "string" },
      maintenance: { object: "Opaque" },
    },
  },
  AppServiceSpec: {
    required: ["name"],
    fields: {
      ...COMMON_COMPONENT,
      http_port: "int",
      protocol: { enum: ["HTTP", "HTTP2"] },
      routes: { array: { object: "Opaque" } },
      health_check: { object: "AppServiceSpecHealthCheck" },
      cors: { object: "Opaque" },
      internal_ports: { array: "int" },
      termination: { object: "AppServiceSpecTermination" },
    },
  },
  AppWorkerSpec: {
    required: ["name"],
    fields: { ...COMMON_COMPONENT, termination: { object: "AppWorkerSpecTermination" } },
  },
  AppJobSpec: {
    required: ["name"],
    fields: {
      ...COMMON_COMPONENT,
      kind: { enum: ["UNSPECIFIED", "PRE_DEPLOY", "POST_DEPLOY", "FAILED_DEPLOY"] },
      termination: { object: "AppWorkerSpecTermination" },
    },
  },
  AppDatabaseSpec: {
    required: ["name"],
    fields: {
      name: "string",
      engine: { enum: ["UNSET", "MYSQL", "PG", "REDIS", "MONGODB", "KAFKA", "OPENSEARCH", "VALKEY"] },
      version: "string",
      size: "string",
      num_nodes: "int",
      production: "bool",
      cluster_name: "string",
      db_name: "string",
      db_user: "string",
    },
  },
  AppDomainSpec: {
    required: ["domain"],
    fields: {
      domain: "string",
      type: { enum: ["UNSPECIFIED", "DEFAULT", "PRIMARY", "ALIAS"] },
      wildcard: "bool",
      zone: "string",
      certificate: "string",
      minimum_tls_version: "string",
    },
  },
  AppVariableDefinition: {
    required: ["key"],
    fields: {
      key: "string",
      value: "string",
      scope: { enum: ["UNSET", "RUN_TIME", "BUILD_TIME", "RUN_AND_BUILD_TIME"] },
      type: { enum: ["GENERAL", "SECRET"] },
    },
  },
  ImageSourceSpec: {
    fields: {
      registry_type: { enum: ["UNSPECIFIED", "DOCR", "DOCKER_HUB", "GHCR"] },
      registry: "string",
      repository: "string",
      tag: "string",
      digest: "string",
      registry_credentials: "string",
      deploy_on_push: { object: "Opaque" },
    },
  },
  GitSourceSpec: { fields: { repo_clone_url: "string", branch: "string" } },
  GitHubSourceSpec: { fields: { repo: "string", branch: "string", deploy_on_push: "bool" } },
  AppServiceSpecHealthCheck: { fields: { ...HEALTH_CHECK, path: "string" } },
  HealthCheckSpec: { fields: HEALTH_CHECK },
  AppServiceSpecTermination: { fields: { drain_seconds: "int", grace_period_seconds: "int" } },
  AppWorkerSpecTermination: { fields: { grace_period_seconds: "int" } },
  AppAutoscalingSpec: {
    fields: { min_instance_count: "int", max_instance_count: "int", metrics: { object: "Opaque" } },
  },
  AppAlertSpec: {
    fields: {
      rule: {
        enum: [
          "UNSPECIFIED_RULE",
          "CPU_UTILIZATION",
          "MEM_UTILIZATION",
          "RESTART_COUNT",
          "DEPLOYMENT_FAILED",
          "DEPLOYMENT_LIVE",
          "DEPLOYMENT_STARTED",
          "DEPLOYMENT_CANCELED",
          "DOMAIN_FAILED",
          "DOMAIN_LIVE",
          "AUTOSCALE_FAILED",
        ],
      },
      disabled: "bool",
      operator: { enum: ["UNSPECIFIED_OPERATOR", "GREATER_THAN", "LESS_THAN"] },
      value: "int",
      window: { enum: ["UNSPECIFIED_WINDOW", "FIVE_MINUTES", "TEN_MINUTES", "THIRTY_MINUTES", "ONE_HOUR"] },
    },
  },
};

function _check(value: unknown, def: TypeDef, path: string, problems: string[]): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key of def.required ?? []) if (obj[key] === undefined) problems.push(`${path}: ${key} is required`);
  for (const [key, v] of Object.entries(obj)) {
    const type = def.fields[key];
    if (!type) problems.push(`${path}.${key}: not a field of the app spec`);
    else _checkType(v, type, `${path}.${key}`, problems);
  }
}

function _checkType(value: unknown, type: FieldType, path: string, problems: string[]): void {
  if (type === "string") {
    if (typeof value !== "string") problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
  } else if (type === "int") {
    if (!Number.isInteger(value)) problems.push(`${path}: expected an integer, got ${JSON.stringify(value)}`);
  } else if (type === "bool") {
    if (typeof value !== "boolean") problems.push(`${path}: expected true or false, got ${JSON.stringify(value)}`);
  } else if ("enum" in type) {
    if (!type.enum.includes(value as string))
      problems.push(`${path}: ${JSON.stringify(value)} is not one of ${type.enum.join(", ")}`);
  } else if ("array" in type) {
    if (!Array.isArray(value)) problems.push(`${path}: expected a list`);
    else for (const [i, item] of value.entries()) _checkType(item, type.array, `${path}[${i}]`, problems);
  } else if (type.object === "Opaque") {
    // a part siteloom's spec does not use: its inner fields are not written out here
    if (typeof value !== "object" || value === null) problems.push(`${path}: expected an object`);
  } else {
    _check(value, TYPES[type.object]!, path, problems);
  }
}
