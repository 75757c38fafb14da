import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderCrds } from "../../../src/api/crds.ts";
import {
  DEFAULT_IMAGE,
  type InstallObject,
  renderInstallManifests,
  renderInstallYaml,
} from "../../../src/install/manifests.ts";

const MANIFEST = join(import.meta.dirname, "../../../manifests/install.yaml");

function find(objects: InstallObject[], kind: string): InstallObject {
  const found = objects.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind}`);
  return found;
}

// The Deployment's pod spec, typed just enough for the assertions below.
interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  securityContext: Record<string, unknown>;
  containers: {
    image: string;
    args: string[];
    env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
    securityContext: Record<string, unknown>;
    livenessProbe: { httpGet: { path: string; port: string } };
    readinessProbe: { httpGet: { path: string; port: string } };
    ports: { name: string; containerPort: number }[];
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    volumeMounts: { name: string; mountPath: string }[];
  }[];
  volumes: { name: string; emptyDir?: object }[];
  topologySpreadConstraints: { topologyKey: string; labelSelector: unknown }[];
}

function podSpec(objects: InstallObject[]): PodSpec {
  const deployment = find(objects, "Deployment") as unknown as { spec: { template: { spec: PodSpec } } };
  return deployment.spec.template.spec;
}

const defaults = renderInstallManifests({ image: DEFAULT_IMAGE });

describe("manifests/install.yaml", () => {
  it("matches `zitadel-operator install --out manifests/install.yaml` (run it after changing src/install or src/api)", async () => {
    expect(await readFile(MANIFEST, "utf8")).toBe(renderInstallYaml({ image: DEFAULT_IMAGE }));
  });

  it("parses back to exactly the rendered objects", async () => {
    const docs = parseAllDocuments(await readFile(MANIFEST, "utf8"));
    expect(docs.map((d) => d.toJS())).toEqual(JSON.parse(JSON.stringify(defaults)));
  });

  it("renders the same bytes every time", () => {
    expect(renderInstallYaml({ image: "x:1" })).toBe(renderInstallYaml({ image: "x:1" }));
  });
});

describe("renderInstallManifests", () => {
  it("orders the namespace and CRDs before what uses them, and RBAC before the Deployment", () => {
    expect(defaults.map((o) => o.kind)).toEqual([
      "Namespace",
      ...renderCrds().map(() => "CustomResourceDefinition"),
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Service",
      "Deployment",
      "PodDisruptionBudget",
    ]);
    expect(defaults.filter((o) => o.kind === "CustomResourceDefinition")).toEqual(renderCrds());
  });

  it("labels the namespace to enforce the restricted Pod Security Standard", () => {
    expect(find(defaults, "Namespace").metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
  });

  it("runs the operator non-root, read-only, without privileges or capabilities, under RuntimeDefault seccomp", () => {
    const spec = podSpec(defaults);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(spec.containers).toHaveLength(1);
    expect(spec.containers[0]?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(spec.serviceAccountName).toBe("zitadel-operator");
    expect(spec.automountServiceAccountToken).toBe(true);
  });

  it("runs `zitadel-operator run` with leader election, metrics on 8080 and probes on 8081", () => {
    const container = podSpec(defaults).containers[0];
    expect(container?.image).toBe(DEFAULT_IMAGE);
    expect(container?.args).toEqual([
      "run",
      "--leader-elect",
      "--metrics-bind-address=:8080",
      "--health-probe-bind-address=:8081",
    ]);
    expect(container?.ports.map((p) => [p.name, p.containerPort])).toEqual([
      ["metrics", 8080],
      ["health", 8081],
    ]);
    expect(container?.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container?.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "health" });
    expect(Object.keys(container?.resources.requests ?? {})).toEqual(["cpu", "memory"]);
    expect(Object.keys(container?.resources.limits ?? {})).toEqual(["cpu", "memory"]);
  });

  it("tells the pod its name and namespace through the downward API", () => {
    const env = podSpec(defaults).containers[0]?.env ?? [];
    expect(env.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom?.fieldRef.fieldPath])).toEqual([
      ["POD_NAMESPACE", "metadata.namespace"],
      ["POD_NAME", "metadata.name"],
    ]);
  });

  it("tells the operator its own image, which its backup and restore Jobs run", () => {
    const container = podSpec(defaults).containers[0];
    expect(container?.env?.find((e) => e.name === "OPERATOR_IMAGE")?.value).toBe(container?.image);
  });

  it("gives the read-only container one writable emptyDir at /tmp", () => {
    const spec = podSpec(defaults);
    expect(spec.containers[0]?.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(spec.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }]);
  });

  it("spreads replicas over nodes and keeps one available through drains", () => {
    const spec = podSpec(defaults);
    expect(spec.topologySpreadConstraints.map((c) => c.topologyKey)).toEqual(["kubernetes.io/hostname"]);
    const deployment = find(defaults, "Deployment") as unknown as {
      spec: { replicas: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(deployment.spec.replicas).toBe(2);
    expect(find(defaults, "PodDisruptionBudget")).toMatchObject({
      spec: { minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } },
    });
    expect(spec.topologySpreadConstraints[0]?.labelSelector).toEqual({
      matchLabels: deployment.spec.selector.matchLabels,
    });
  });

  it("exposes metrics through a Service selecting the operator's pods", () => {
    expect(find(defaults, "Service")).toMatchObject({
      metadata: { name: "zitadel-operator-metrics" },
      spec: { ports: [{ name: "metrics", port: 8080, targetPort: "metrics" }] },
    });
  });

  it("puts every namespaced object and every binding subject into the chosen namespace", () => {
    const objects = renderInstallManifests({ namespace: "ops", image: "registry.example/op:1" });
    expect(find(objects, "Namespace").metadata.name).toBe("ops");
    const namespaced = objects.filter((o) =>
      ["ServiceAccount", "Role", "RoleBinding", "Service", "Deployment", "PodDisruptionBudget"].includes(
        o.kind,
      ),
    );
    expect(namespaced).toHaveLength(6);
    for (const obj of namespaced) expect(obj.metadata.namespace, obj.kind).toBe("ops");
    for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
      expect(find(objects, kind).subjects).toEqual([
        { kind: "ServiceAccount", name: "zitadel-operator", namespace: "ops" },
      ]);
    }
    expect(podSpec(objects).containers[0]?.image).toBe("registry.example/op:1");
  });

  it("leaves out the PodDisruptionBudget for a single replica, which it would make undrainable", () => {
    const kinds = renderInstallManifests({ image: "x:1", replicas: 1 }).map((o) => o.kind);
    expect(kinds).not.toContain("PodDisruptionBudget");
    expect(kinds).toContain("Role");
  });

  it("drops the Lease Role and the --leader-elect flag without leader election", () => {
    const objects = renderInstallManifests({ image: "x:1", replicas: 1, leaderElect: false });
    expect(objects.map((o) => o.kind)).not.toContain("Role");
    expect(objects.map((o) => o.kind)).not.toContain("RoleBinding");
    expect(podSpec(objects).containers[0]?.args).not.toContain("--leader-elect");
  });

  it("refuses options that would run two operators at once, or none", () => {
    expect(() => renderInstallManifests({ image: "x:1", replicas: 2, leaderElect: false })).toThrow(
      /leader election/,
    );
    expect(() => renderInstallManifests({ image: "x:1", replicas: 0 })).toThrow(/replicas/);
    expect(() => renderInstallManifests({ image: "x:1", replicas: Number.NaN })).toThrow(/replicas/);
    expect(() => renderInstallManifests({ image: "" })).toThrow(/image/);
  });
});
