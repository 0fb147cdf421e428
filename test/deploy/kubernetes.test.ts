import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { plaintextCredentialPaths } from "../../src/config/index.ts";
import { validateWorkspace } from "../../src/workspace/index.ts";
import { randomValue, tempWorkspace } from "../secrets/helpers.ts";
import { useTempDir } from "../support/cli.ts";
import {
  type Expectations,
  type K8sObject,
  parseObjects,
  renderOverlay,
  ruleProblems,
  SECRET_NAME,
  typeProblems,
} from "./kubernetes-rules.ts";

const ROOT = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));

const OVERLAYS: Record<string, Expectations> = {
  development: { namespace: "siteloom-dev", env: "development", apiReplicas: 1, workerReplicas: undefined, cron: true },
  staging: { namespace: "siteloom-staging", env: "staging", apiReplicas: 2, workerReplicas: 2, cron: false },
  production: { namespace: "siteloom", env: "production", apiReplicas: 2, workerReplicas: 3, cron: false },
};

// kubectl (with kustomize v5) is part of the machine's base image (the google-cloud-cli packages); Debian's own
// kubernetes-client is 1.20, whose kustomize knows neither `labels:` nor components.
describe("deploy: kubernetes manifests (kubectl kustomize, Kubernetes API schemas)", { timeout: 120_000 }, () => {
  const rendered: Record<string, K8sObject[]> = {};
  beforeAll(async () => {
    for (const env of Object.keys(OVERLAYS)) rendered[env] = await renderOverlay(join(ROOT, "overlays", env));
  });

  for (const [env, expect_] of Object.entries(OVERLAYS)) {
    it(`${env}: every object type-checks and follows the install's rules`, () => {
      const objects = rendered[env]!;
      expect(objects.map((o) => o.kind).sort()).toEqual(
        [
          "ConfigMap",
          "ConfigMap",
          "Deployment",
          ...(expect_.cron ? ["CronJob"] : ["Deployment"]),
          "PodDisruptionBudget",
          ...(expect_.cron ? [] : ["PodDisruptionBudget"]),
          "Service",
        ].sort(),
      );
      expect(typeProblems(objects)).toEqual([]);
      expect(ruleProblems(objects, expect_)).toEqual([]);
    });
  }

  it("every pod reads the configuration from a read-only mount and writes only into /data and /tmp", () => {
    for (const objects of Object.values(rendered)) {
      const env = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("siteloom-env"))!;
      expect(env.data.SITELOOM_DATA_DIR).toBe("/data");
      for (const o of objects.filter((x) => x.kind === "Deployment" || x.kind === "CronJob")) {
        const pod = o.kind === "CronJob" ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
        const volumes = new Map<string, K8sObject>(pod.volumes.map((v: K8sObject) => [v.name, v]));
        const mounts = pod.containers[0].volumeMounts as K8sObject[];
        const writable = mounts.filter((m) => !m.readOnly).map((m) => m.mountPath);
        expect(writable.sort(), o.metadata.name).toEqual(["/data", "/tmp"]);
        const workspace = mounts.find((m) => m.mountPath === "/workspace")!;
        expect(volumes.get(workspace.name)?.configMap?.name, o.metadata.name).toMatch(/^siteloom-workspace/);
        expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
      }
    }
  });

  it("the checks catch a broken object (a wrong type, a missing probe, a literal secret, a stray selector)", () => {
    const objects = structuredClone(rendered.production!);
    const api = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "siteloom-api")!;
    api.spec.replicas = "2";
    const worker = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "siteloom-worker")!;
    const container = worker.spec.template.spec.containers[0];
    container.env = [{ name: "FTP_PASSWORD", value: "hunter2" }];
    container.image = "siteloom:latest";
    delete container.resources.limits;
    delete api.spec.template.spec.containers[0].readinessProbe;
    container.livenessProbe.exec.command[3] = "http://127.0.0.1:9999/metrics";
    const service = objects.find((o) => o.kind === "Service")!;
    service.spec.selector = { "app.kubernetes.io/name": "siteloom" };
    container.readinesProbe = { httpGet: { path: "/health", port: 8088 } };
    service.spec.ports[0].targetPrt = "http";
    expect(typeProblems(objects).sort()).toEqual([
      "Deployment/siteloom-api: data/spec/replicas must be integer",
      "Deployment/siteloom-worker.spec.template.spec.containers[0].readinesProbe: not a field of V1Container",
      "Service/siteloom-api.spec.ports[0].targetPrt: not a field of V1ServicePort",
    ]);
    expect(ruleProblems(objects, OVERLAYS.production!)).toEqual(
      expect.arrayContaining([
        "Deployment/siteloom-worker container worker: image tag latest",
        "Deployment/siteloom-worker container worker: no cpu limit",
        "Deployment/siteloom-worker container worker: no memory limit",
        "Deployment/siteloom-worker container worker: credential variable FTP_PASSWORD holds a literal value",
        "siteloom-api: readinessProbe is not an HTTP GET of /health",
        "siteloom-worker: livenessProbe is not the image's health check of the worker's --metrics-port",
        "Service/siteloom-api selects Deployment/siteloom-api, Deployment/siteloom-worker, not the API's alone",
      ]),
    );
  });

  it("the workspace ConfigMap is a valid siteloom.yaml in every environment, with references only", async () => {
    for (const env of Object.keys(OVERLAYS)) {
      const map = rendered[env]!.find((o) => o.kind === "ConfigMap" && o.data?.["siteloom.yaml"])!;
      const text = map.data["siteloom.yaml"] as string;
      expect(plaintextCredentialPaths(parse(text))).toEqual([]);
      const dir = await useTempDir("siteloom-k8s-ws-");
      await writeFile(join(dir, "siteloom.yaml"), text);
      const report = await validateWorkspace({ workspace: dir, env, vars: {} });
      expect(report.problems).toEqual([]);
    }
  });

  it("the Secret `secrets export --to k8s` writes is the one the pods mount, and type-checks", async () => {
    const ws = await tempWorkspace();
    expect((await ws.cli(["secrets", "init"])).code).toBe(0);
    const value = randomValue("pw");
    await ws.cli(["secrets", "set", "global/STORE_URL", "--stdin"], { input: `postgres://u:${value}@db/siteloom` });
    const out = await ws.cli(["secrets", "export", "--to", "k8s", "--out", "secret.yaml"]);
    expect(out.code, out.stderr).toBe(0);
    const [secret] = parseObjects(await readFile(join(ws.root, "secret.yaml"), "utf8"));
    expect(typeProblems([secret!])).toEqual([]);
    expect(secret!.metadata.name).toBe(SECRET_NAME);
    // the key is the file name the env store reads under /run/secrets for secret://global/STORE_URL
    const workspaceFile = parse(
      rendered.production!.find((o) => o.kind === "ConfigMap" && o.data?.["siteloom.yaml"])!.data["siteloom.yaml"],
    );
    expect(workspaceFile.store.url).toBe("secret://global/STORE_URL");
    expect(Object.keys(secret!.data)).toEqual(["global.STORE_URL"]);
  });
});
