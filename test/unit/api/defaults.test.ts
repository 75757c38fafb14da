import { describe, expect, it } from "vitest";
import { parseResource, type Resource } from "../../../src/api/validate.ts";

const API_VERSION = "zitadel-operator.dev/v1alpha1";

function parsed(obj: unknown): Resource {
  const result = parseResource(obj);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.resource;
}

describe("defaults", () => {
  it("fills in a CockroachCluster as the API server would", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "CockroachCluster",
      metadata: { name: "db" },
      spec: { version: "v25.2.4", nodes: 3 },
    });
    if (r.kind !== "CockroachCluster") throw new Error("wrong kind");
    expect(r.spec.storage).toEqual({ size: "10Gi", retainPolicy: "Retain" });
    expect(r.spec.tls).toEqual({
      keyAlgorithm: "ecdsa-p256",
      caLifetime: "43800h",
      caOverlap: "168h",
      leafLifetime: "2160h",
      renewBefore: "720h",
    });
    expect(r.spec.upgrade).toEqual({ finalize: "Auto" });
    expect(r.spec.scaleDown).toEqual({ allowed: true, decommissionTimeout: "2h" });
    expect(r.spec.clusterDomain).toBe("cluster.local");
    expect(r.spec.allowUnsafeNodeCount).toBe(false);
    expect(r.spec.networkPolicy).toBe(false);
    expect(r.spec.scheduling).toEqual({ podAntiAffinity: "Preferred" });
    expect(r.spec.cache).toBe("25%");
  });

  it("keeps what was written and defaults only what was not", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "CockroachCluster",
      metadata: { name: "db" },
      spec: {
        version: "v25.2.4",
        nodes: 3,
        storage: { size: "100Gi" },
        tls: { leafLifetime: "30d", renewBefore: "7d" },
      },
    });
    if (r.kind !== "CockroachCluster") throw new Error("wrong kind");
    expect(r.spec.storage).toEqual({ size: "100Gi", retainPolicy: "Retain" });
    expect(r.spec.tls).toEqual({
      keyAlgorithm: "ecdsa-p256",
      caLifetime: "43800h",
      caOverlap: "168h",
      leafLifetime: "30d",
      renewBefore: "7d",
    });
  });

  it("turns resource quantities written as numbers into strings", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "CockroachCluster",
      metadata: { name: "db" },
      spec: { version: "v25.2.4", nodes: 3, resources: { requests: { cpu: 2, memory: "8Gi" } } },
    });
    if (r.kind !== "CockroachCluster") throw new Error("wrong kind");
    expect(r.spec.resources?.requests).toEqual({ cpu: "2", memory: "8Gi" });
  });

  it("fills in a Zitadel on PostgreSQL", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "Zitadel",
      metadata: { name: "zitadel" },
      spec: {
        version: "v4.13.0",
        externalDomain: "auth.example.com",
        database: { postgres: { host: "pg-rw", adminSecretRef: { name: "pg-superuser" } } },
        masterkeySecretRef: { name: "mk" },
      },
    });
    if (r.kind !== "Zitadel") throw new Error("wrong kind");
    expect(r.spec.replicas).toBe(2);
    expect(r.spec.externalPort).toBe(443);
    expect(r.spec.externalSecure).toBe(true);
    expect(r.spec.database.postgres).toEqual({
      host: "pg-rw",
      port: 5432,
      database: "zitadel",
      sslMode: "verify-full",
      adminSecretRef: { name: "pg-superuser", usernameKey: "username", passwordKey: "password" },
    });
    expect(r.spec.masterkeySecretRef).toEqual({ name: "mk", key: "masterkey" });
    expect(r.spec.login).toEqual({ enabled: false, replicas: 2 });
    expect(r.spec.ingress).toEqual({ enabled: false });
    expect(r.spec.deletionPolicy).toEqual({ database: "Retain" });
  });

  it("fills in a Zitadel on CockroachDB", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "Zitadel",
      metadata: { name: "zitadel" },
      spec: {
        version: "v2.71.6",
        externalDomain: "auth.example.com",
        database: { cockroach: { clusterRef: { name: "db" } } },
      },
    });
    if (r.kind !== "Zitadel") throw new Error("wrong kind");
    expect(r.spec.database.cockroach).toEqual({
      clusterRef: { name: "db" },
      database: "zitadel",
      user: "zitadel",
    });
  });

  it("fills in a BackupSchedule and its template", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "BackupSchedule",
      metadata: { name: "nightly" },
      spec: {
        schedule: "@daily",
        template: {
          source: { cockroachClusterRef: { name: "db" } },
          destination: { s3: { bucket: "backups", credentialsSecretRef: { name: "s3" } } },
        },
      },
    });
    if (r.kind !== "BackupSchedule") throw new Error("wrong kind");
    expect(r.spec).toMatchObject({
      suspend: false,
      immediate: false,
      concurrencyPolicy: "Forbid",
      missedRuns: "RunOnce",
      failedBackupsHistoryLimit: 3,
    });
    expect(r.spec.template.verify).toBe(false);
    expect(r.spec.template.deletionPolicy).toBe("Retain");
    expect(r.spec.template.destination.s3).toEqual({
      bucket: "backups",
      forcePathStyle: false,
      credentialsSecretRef: {
        name: "s3",
        accessKeyIDKey: "AWS_ACCESS_KEY_ID",
        secretAccessKeyKey: "AWS_SECRET_ACCESS_KEY",
      },
    });
  });

  it("fills in a Restore, a GitSource and a RemoteCluster", () => {
    const restore = parsed({
      apiVersion: API_VERSION,
      kind: "Restore",
      metadata: { name: "r" },
      spec: { backupRef: { name: "b" } },
    });
    expect(restore.kind === "Restore" && restore.spec.overwrite).toBe(false);

    const source = parsed({
      apiVersion: API_VERSION,
      kind: "GitSource",
      metadata: { name: "platform" },
      spec: { url: "https://github.com/example/platform.git" },
    });
    if (source.kind !== "GitSource") throw new Error("wrong kind");
    expect(source.spec).toMatchObject({
      ref: { branch: "main" },
      path: ".",
      interval: "5m",
      prune: false,
      maxPruneFraction: 0.5,
      suspend: false,
    });

    const remote = parsed({
      apiVersion: API_VERSION,
      kind: "RemoteCluster",
      metadata: { name: "eu" },
      spec: { kubeconfigSecretRef: { name: "eu-kubeconfig" }, region: "eu-west-1" },
    });
    if (remote.kind !== "RemoteCluster") throw new Error("wrong kind");
    expect(remote.spec.kubeconfigSecretRef.key).toBe("kubeconfig");
    expect(remote.spec.clusterDomain).toBe("cluster.local");
  });

  it("keeps metadata the API server adds, and status", () => {
    const r = parsed({
      apiVersion: API_VERSION,
      kind: "RemoteCluster",
      metadata: { name: "eu", namespace: "identity", uid: "1234", resourceVersion: "42", generation: 3 },
      spec: { kubeconfigSecretRef: { name: "eu-kubeconfig" }, region: "eu-west-1" },
      status: {
        observedGeneration: 3,
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "Connected",
            message: "",
            lastTransitionTime: "2025-01-02T03:04:05Z",
          },
        ],
      },
    });
    expect(r.metadata).toMatchObject({ uid: "1234", resourceVersion: "42", generation: 3 });
    expect(r.status?.conditions?.[0]?.status).toBe("True");
  });
});
