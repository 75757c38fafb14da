// The local control plane is a real Kubernetes: these tests hold it to what the rest of the suite relies on.

import { request } from "node:https";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeUserKubeconfig } from "../../src/controlplane/controlplane.ts";
import { sharedKubeConfig, startControlPlane, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { widgetCrd } from "../support/widget.ts";

let kc: KubeConfig;
let ns: string;

beforeAll(async () => {
  kc = sharedKubeConfig();
  ns = await testNamespace(kc, "cp");
});

describe("the shared control plane", () => {
  it("is the Kubernetes version the project pins", async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe("v1.34.4");
  });

  it("authenticates clients by certificate and authorizes them with RBAC", async () => {
    const cluster = kc.getCurrentCluster();
    const anonymous = await statusOf(`${cluster?.server}/api/v1/namespaces`, cluster?.caData ?? "");
    expect(anonymous).toBe(403);

    const stranger = new KubeConfig();
    stranger.loadFromFile(await writeUserKubeconfig(inject("controlPlane"), "nobody"));
    const err = await stranger
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace: ns })
      .catch((e: { code?: number }) => e);
    expect((err as { code?: number }).code).toBe(403);
  });

  it("applies a CRD and creates, watches, updates and deletes a custom resource", async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: widgetCrd }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
    await eventually(async () => {
      const crd = await ext.readCustomResourceDefinition({ name: "widgets.test.zitadel-operator.dev" });
      expect(crd.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
    });

    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "test.zitadel-operator.dev", version: "v1", namespace: ns, plural: "widgets" };
    const seen: string[] = [];
    // Right after a CRD is established its watch cache may still be starting: the API server answers 429
    // ("storage is (re)initializing") until it is. Real clients retry; so does this test.
    const watch = await eventually(async () => {
      let failed: unknown;
      const w = await new Watch(kc).watch(
        `/apis/test.zitadel-operator.dev/v1/namespaces/${ns}/widgets`,
        {},
        (type, obj: { spec?: { size?: number } }) => seen.push(`${type}:${obj.spec?.size}`),
        (err) => {
          if (err && (err as Error).name !== "AbortError") failed = err;
        },
      );
      await new Promise((r) => setTimeout(r, 300));
      if (failed) throw failed;
      return w;
    });
    try {
      await custom.createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: "test.zitadel-operator.dev/v1",
          kind: "Widget",
          metadata: { name: "w" },
          spec: { size: 1 },
        },
      });
      // The API server enforces the schema: a size of 0 is rejected.
      const invalid = await custom
        .patchNamespacedCustomObject({
          ...ref,
          name: "w",
          body: [{ op: "replace", path: "/spec/size", value: 0 }],
        })
        .catch((e: { code?: number }) => e);
      expect((invalid as { code?: number }).code).toBe(422);
      await custom.patchNamespacedCustomObject({
        ...ref,
        name: "w",
        body: [{ op: "replace", path: "/spec/size", value: 2 }],
      });
      await custom.deleteNamespacedCustomObject({ ...ref, name: "w" });
      await eventually(() => expect(seen).toEqual(["ADDED:1", "MODIFIED:2", "DELETED:2"]));
    } finally {
      watch.abort();
    }
  });

  it("runs a StatefulSet with persistent volumes until every pod is Ready", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const labels = { app: "db" };
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: "db" },
        spec: {
          serviceName: "db",
          replicas: 3,
          podManagementPolicy: "Parallel",
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              // One pod per node, as CockroachDB wants: the three fake nodes must all be used.
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" },
                  ],
                },
              },
              containers: [{ name: "db", image: "example.invalid/db:1", ports: [{ containerPort: 26257 }] }],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data" },
              spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
            },
          ],
        },
      },
    });
    await eventually(
      async () => {
        const sts = await apps.readNamespacedStatefulSet({ name: "db", namespace: ns });
        expect(sts.status?.readyReplicas).toBe(3);
      },
      { timeoutMs: 60_000 },
    );
    const core = kc.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "app=db" });
    expect(new Set(pods.items.map((p) => p.spec?.nodeName)).size).toBe(3);
    expect(pods.items.every((p) => p.status?.podIP)).toBe(true);
    const claims = await core.listNamespacedPersistentVolumeClaim({ namespace: ns });
    expect(claims.items.map((c) => c.status?.phase)).toEqual(["Bound", "Bound", "Bound"]);
  });

  it("runs a Job to completion", async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: "once" },
        spec: {
          backoffLimit: 0,
          template: {
            spec: { restartPolicy: "Never", containers: [{ name: "once", image: "example.invalid/job:1" }] },
          },
        },
      },
    });
    await eventually(
      async () => {
        const job = await batch.readNamespacedJob({ name: "once", namespace: ns });
        expect(job.status?.succeeded).toBe(1);
        expect(job.status?.conditions?.find((c) => c.type === "Complete")?.status).toBe("True");
      },
      { timeoutMs: 60_000 },
    );
  });
  it("fails a Job whose image asks for a simulated failure", async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: "doomed" },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: "Never",
              containers: [{ name: "doomed", image: "example.invalid/job:simulate-failure" }],
            },
          },
        },
      },
    });
    await eventually(
      async () => {
        const job = await batch.readNamespacedJob({ name: "doomed", namespace: ns });
        expect(job.status?.conditions?.find((c) => c.type === "Failed")?.status).toBe("True");
        expect(job.status?.succeeded ?? 0).toBe(0);
      },
      { timeoutMs: 60_000 },
    );
    const pods = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: ns, labelSelector: "job-name=doomed" });
    expect(pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
  });
});

describe("a control plane of a test's own", () => {
  let own: Awaited<ReturnType<typeof startControlPlane>>;
  beforeAll(async () => {
    own = await startControlPlane({ name: "own", nodes: 1 });
  });
  afterAll(async () => {
    await own?.stop();
  });

  it("is isolated from the shared one", async () => {
    const mine = own.kubeConfig().makeApiClient(CoreV1Api);
    const names = (await mine.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).not.toContain(ns);
    expect(own.server).not.toBe(kc.getCurrentCluster()?.server);
  });

  it("survives an API server restart and keeps its data", async () => {
    const core = own.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "kept" } } });
    await own.restartApiServer();
    const kept = await core.readNamespace({ name: "kept" });
    expect(kept.metadata?.name).toBe("kept");
  });

  it("leaves no process behind when stopped", async () => {
    const extra = await startControlPlane({ name: "short-lived", nodes: 1 });
    const pids = Object.values(extra.info().pids);
    expect(pids.length).toBe(5);
    await extra.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});

/** The HTTP status of an unauthenticated GET (TLS verified against the cluster's CA). */
function statusOf(url: string, caData: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    request(url, { ca: Buffer.from(caData, "base64") }, (res) => {
      res.resume();
      resolve(res.statusCode);
    })
      .on("error", reject)
      .end();
  });
}
