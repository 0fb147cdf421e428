// Checks rendered Kubernetes objects against the API types, both pinned in package.json: kubernetes-models' JSON
// schemas of the Kubernetes OpenAPI (types, required fields, formats) and the typed models of @kubernetes/client-node
// (every field name, as the API server's strict field validation knows them: a typo is not dropped silently). Then
// against our own rules for a siteloom install. Returns one line per problem.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { Deployment } from "kubernetes-models/apps/v1";
import { CronJob } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { isCredentialVariable } from "../../src/config/mask.ts";

/** A rendered object, loosely typed: the type check is the schema's job. */
// biome-ignore lint/suspicious/noExplicitAny: objects from YAML are checked by the schemas below
export type K8sObject = Record<string, any>;

/** What a rendered overlay must hold. */
export interface Expectations {
  namespace: string;
  env: string;
  apiReplicas: number;
  /** Undefined: no worker Deployment (the CronJob instead). */
  workerReplicas: number | undefined;
  cron: boolean;
}

/** The Secret the pods mount at /run/secrets; `siteloom secrets export --to k8s` makes it (not in the repo). */
export const SECRET_NAME = "siteloom-secrets";

/** Renders an overlay with `kubectl kustomize` (kustomize v5 inside kubectl) and parses every object. */
export async function renderOverlay(dir: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseObjects(stdout);
}

/** Every document of a multi-document YAML text; a YAML error throws. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/** Type-checks each object against the Kubernetes API schema of its kind; an unknown kind is a problem too. */
export function typeProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const obj of objects) {
    const model = MODELS[`${obj.apiVersion} ${obj.kind}`];
    const where = `${obj.kind}/${obj.metadata?.name}`;
    if (!model) {
      problems.push(`${where}: ${obj.apiVersion} ${obj.kind} is not a kind this install uses`);
      continue;
    }
    try {
      new model(obj).validate();
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
    _unknownFields(obj, CLIENT_TYPES[`${obj.apiVersion} ${obj.kind}`]!, where, problems);
  }
  return problems;
}

/** Our rules: probes, limits, non-root, pinned image, no literal secrets, labels and selectors that match. */
export function ruleProblems(objects: K8sObject[], expect: Expectations): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const named = (kind: string, name: string) => byKind(kind).find((o) => o.metadata?.name === name);
  const configMaps = new Set(byKind("ConfigMap").map((o) => o.metadata.name as string));

  for (const obj of objects) {
    if (obj.metadata?.namespace !== expect.namespace) {
      problems.push(`${obj.kind}/${obj.metadata?.name}: namespace ${obj.metadata?.namespace}, not ${expect.namespace}`);
    }
    if (obj.metadata?.labels?.["app.kubernetes.io/name"] !== "siteloom") {
      problems.push(`${obj.kind}/${obj.metadata?.name}: no app.kubernetes.io/name=siteloom label`);
    }
  }
  for (const map of byKind("ConfigMap")) {
    for (const key of Object.keys(map.data ?? {})) {
      if (key.startsWith("SITELOOM_SECRET_") || isCredentialVariable(key)) {
        problems.push(`ConfigMap/${map.metadata.name}: ${key} is a credential in plain sight`);
      }
    }
  }
  for (const secret of byKind("Secret")) {
    problems.push(`Secret/${secret.metadata.name}: a Secret with values is rendered from the repo`);
  }

  const api = named("Deployment", "siteloom-api");
  const worker = named("Deployment", "siteloom-worker");
  const cron = named("CronJob", "siteloom-run");
  if (!api) problems.push("no Deployment siteloom-api");
  if (expect.workerReplicas !== undefined && !worker) problems.push("no Deployment siteloom-worker");
  if (expect.workerReplicas === undefined && worker) problems.push("a worker Deployment beside the CronJob");
  if (expect.cron !== Boolean(cron)) problems.push(expect.cron ? "no CronJob siteloom-run" : "an unexpected CronJob");
  if (api && api.spec.replicas !== expect.apiReplicas) {
    problems.push(`siteloom-api: ${api.spec.replicas} replicas, expected ${expect.apiReplicas}`);
  }
  if (worker && worker.spec.replicas !== expect.workerReplicas) {
    problems.push(`siteloom-worker: ${worker.spec.replicas} replicas, expected ${expect.workerReplicas}`);
  }

  const pods: { owner: string; spec: K8sObject; labels: Record<string, string> }[] = [];
  for (const d of byKind("Deployment")) {
    const labels = d.spec.template.metadata?.labels ?? {};
    if (!_matches(d.spec.selector?.matchLabels, labels)) {
      problems.push(`Deployment/${d.metadata.name}: its selector does not match its pod labels`);
    }
    pods.push({ owner: `Deployment/${d.metadata.name}`, spec: d.spec.template.spec, labels });
  }
  if (cron) {
    const t = cron.spec.jobTemplate.spec.template;
    pods.push({ owner: "CronJob/siteloom-run", spec: t.spec, labels: t.metadata?.labels ?? {} });
  }
  for (const pod of pods) problems.push(..._podProblems(pod.owner, pod.spec, configMaps, expect.env, objects));

  if (api) {
    const container = api.spec.template.spec.containers[0];
    if (container.args?.[0] !== "serve") problems.push("siteloom-api does not run `siteloom serve`");
    const port = (container.ports ?? []).find((p: K8sObject) => p.name === "http");
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const get = container[probe]?.httpGet;
      if (get?.path !== "/health") problems.push(`siteloom-api: ${probe} is not an HTTP GET of /health`);
      else if (!port || (get.port !== "http" && get.port !== port.containerPort)) {
        problems.push(`siteloom-api: ${probe} probes a port the container does not open`);
      }
    }
    const service = named("Service", "siteloom-api");
    if (!service) problems.push("no Service siteloom-api");
    else {
      const selected = pods.filter((p) => _matches(service.spec.selector, p.labels)).map((p) => p.owner);
      if (selected.join() !== "Deployment/siteloom-api") {
        problems.push(`Service/siteloom-api selects ${selected.join(", ") || "no pods"}, not the API's alone`);
      }
      for (const p of service.spec.ports ?? []) {
        if (p.targetPort !== "http" && p.targetPort !== port?.containerPort) {
          problems.push(`Service/siteloom-api: targetPort ${p.targetPort} is not the API's port`);
        }
      }
    }
  }
  if (worker) {
    const container = worker.spec.template.spec.containers[0];
    const args: string[] = container.args ?? [];
    if (args[0] !== "worker") problems.push("siteloom-worker does not run `siteloom worker`");
    const metricsPort = args[args.indexOf("--metrics-port") + 1];
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const command: string[] = container[probe]?.exec?.command ?? [];
      if (command.join(" ") !== `node /opt/siteloom/deploy/healthcheck.mjs http://127.0.0.1:${metricsPort}/metrics`) {
        problems.push(`siteloom-worker: ${probe} is not the image's health check of the worker's --metrics-port`);
      }
    }
  }
  if (cron && cron.spec.jobTemplate.spec.template.spec.containers[0].args?.[0] !== "run") {
    problems.push("the CronJob does not run `siteloom run`");
  }

  const pdbs = byKind("PodDisruptionBudget");
  for (const d of byKind("Deployment")) {
    const labels = d.spec.template.metadata?.labels ?? {};
    if (!pdbs.some((p) => _matches(p.spec.selector?.matchLabels, labels))) {
      problems.push(`Deployment/${d.metadata.name}: no PodDisruptionBudget selects its pods`);
    }
  }
  for (const pdb of pdbs) {
    if (!pods.some((p) => _matches(pdb.spec.selector?.matchLabels, p.labels))) {
      problems.push(`PodDisruptionBudget/${pdb.metadata.name} selects no pods`);
    }
  }
  return problems;
}

// --- internal ---

type Model = new (data: K8sObject) => { validate(): void };

// each model's constructor wants its own typed data; what comes from YAML is what is being checked
const MODELS: Record<string, Model> = {
  "apps/v1 Deployment": Deployment as unknown as Model,
  "batch/v1 CronJob": CronJob as unknown as Model,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget as unknown as Model,
  "v1 ConfigMap": ConfigMap as unknown as Model,
  "v1 Secret": Secret as unknown as Model,
  "v1 Service": Service as unknown as Model,
};

/** The client-node type of each kind, whose attribute map names every field the API knows. */
const CLIENT_TYPES: Record<string, string> = {
  "apps/v1 Deployment": "V1Deployment",
  "batch/v1 CronJob": "V1CronJob",
  "policy/v1 PodDisruptionBudget": "V1PodDisruptionBudget",
  "v1 ConfigMap": "V1ConfigMap",
  "v1 Secret": "V1Secret",
  "v1 Service": "V1Service",
};

type AttributeMap = { baseName: string; type: string }[];

function _unknownFields(value: unknown, type: string, path: string, problems: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value))
      for (const [i, item] of value.entries()) _unknownFields(item, array[1]!, `${path}[${i}]`, problems);
    return;
  }
  const record = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (record) {
    for (const [key, item] of Object.entries(value as object))
      _unknownFields(item, record[1]!, `${path}.${key}`, problems);
    return;
  }
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[type];
  if (!model?.getAttributeTypeMap || typeof value !== "object") return; // a scalar, IntOrString, Date, object
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value as object)) {
    const fieldType = fields.get(key);
    if (fieldType === undefined) problems.push(`${path}.${key}: not a field of ${type}`);
    else _unknownFields(item, fieldType, `${path}.${key}`, problems);
  }
}

function _matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function _podProblems(
  owner: string,
  spec: K8sObject,
  configMaps: Set<string>,
  env: string,
  objects: K8sObject[],
): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (pod.runAsNonRoot !== true || !(pod.runAsUser > 0)) problems.push(`${owner}: the pod may run as root`);
  for (const c of spec.containers ?? []) {
    const where = `${owner} container ${c.name}`;
    const image = String(c.image ?? "");
    const tag = /:([^/:@]+)$/.exec(image)?.[1];
    if (!tag && !image.includes("@sha256:")) problems.push(`${where}: image ${image} has no tag`);
    if (tag === "latest") problems.push(`${where}: image tag latest`);
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        if (c.resources?.[kind]?.[r] === undefined) problems.push(`${where}: no ${r} ${kind.slice(0, -1)}`);
      }
    }
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: privilege escalation allowed`);
    if (sc.runAsUser === 0) problems.push(`${where}: runs as root`);
    for (const e of c.env ?? []) {
      if (e.value !== undefined && isCredentialVariable(e.name)) {
        problems.push(`${where}: credential variable ${e.name} holds a literal value`);
      }
    }
    for (const from of c.envFrom ?? []) {
      const name = from.configMapRef?.name;
      if (name !== undefined && !configMaps.has(name)) problems.push(`${where}: ConfigMap ${name} is not rendered`);
    }
    const envMap = objects.find(
      (o) =>
        o.kind === "ConfigMap" && (c.envFrom ?? []).some((f: K8sObject) => f.configMapRef?.name === o.metadata.name),
    );
    if (envMap?.data?.SITELOOM_ENV !== env) problems.push(`${where}: SITELOOM_ENV is not ${env}`);
    if (envMap?.data?.SITELOOM_SECRETS_BACKEND !== "env") problems.push(`${where}: not on the env secret store`);
    const mounts = new Map<string, K8sObject>((c.volumeMounts ?? []).map((m: K8sObject) => [m.name, m]));
    const secretVolume = (spec.volumes ?? []).find((v: K8sObject) => v.secret);
    if (
      secretVolume?.secret.secretName !== SECRET_NAME ||
      mounts.get(secretVolume.name)?.mountPath !== "/run/secrets"
    ) {
      problems.push(`${where}: the Secret ${SECRET_NAME} is not mounted at /run/secrets`);
    }
    for (const v of spec.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) {
        problems.push(`${where}: volume ${v.name} names ConfigMap ${v.configMap.name}, which is not rendered`);
      }
      if (!mounts.has(v.name)) problems.push(`${where}: volume ${v.name} is not mounted`);
    }
  }
  return problems;
}
