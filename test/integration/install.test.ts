// The install manifests against a real kube-apiserver: every object passes server-side validation, the
// Deployment's pods are admitted under the restricted Pod Security Standard, and the operator's RBAC grants
// exactly what src/install/rbac.ts says: tried for real with the ServiceAccount's identity.
//
// Dry run needs what the objects refer to: namespaced objects are validated against their namespace, which a
// dry-run Namespace does not create. So the manifests are rendered for this test's own namespace (created for
// real first), and everything, Namespace and CRDs included, is then applied with dryRun=All. The CRDs are also
// installed for real (shared, identical for every test: idempotent under server-side apply) because the
// ServiceAccount's checks need custom resources.

import { CoordinationV1Api, KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderCrds } from "../../src/api/crds.ts";
import { applyInstallManifests } from "../../src/cli/install.ts";
import { writeUserKubeconfig } from "../../src/controlplane/controlplane.ts";
import { type InstallObject, renderInstallManifests } from "../../src/install/manifests.ts";
import { CLUSTER_RULES, LEADER_ELECTION_LEASE, NAMESPACE_RULES } from "../../src/install/rbac.ts";
import { ApiError, KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const IMAGE = "registry.example/zitadel-operator:test";
const SA = "zitadel-operator";

let kc: KubeConfig;
let admin: KubeClient;

beforeAll(async () => {
  kc = sharedKubeConfig();
  admin = new KubeClient(kc, { fieldManager: "install-test" });
  for (const crd of renderCrds()) await admin.apply({ ...crd });
  await eventually(async () => {
    const type = await admin.resourceType("apiextensions.k8s.io/v1", "CustomResourceDefinition");
    for (const crd of renderCrds()) {
      const live = await admin.get<
        { status?: { conditions?: { type: string; status: string }[] } } & KubeObject
      >(type, undefined, crd.metadata.name);
      expect(live?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")).toBe(
        true,
      );
    }
  });
  // Right after a CRD is established its storage may still be starting (429 "storage is (re)initializing").
  await eventually(async () => {
    for (const crd of renderCrds()) {
      await admin.list(await admin.resourceType("zitadel-operator.dev/v1alpha1", crd.spec.names.kind));
    }
  });
});

/** The HTTP status an API call failed with, or 0 if it succeeded. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    const code = (err as { code?: unknown }).code;
    if (typeof code === "number") return code;
    throw err;
  }
}

async function clientFor(
  user: string,
  groups: string[] = [],
): Promise<{ client: KubeClient; kc: KubeConfig }> {
  const userKc = new KubeConfig();
  userKc.loadFromFile(await writeUserKubeconfig(inject("controlPlane"), user, groups));
  return { client: new KubeClient(userKc), kc: userKc };
}

describe("the install manifests", () => {
  it("pass the API server's validation, every object, with a server-side dry run that stores nothing", async () => {
    const ns = await testNamespace(kc, "install");
    const objects = renderInstallManifests({ namespace: ns, image: IMAGE });
    const applied: string[] = [];
    await applyInstallManifests(admin, objects, { dryRun: true, log: (line) => applied.push(line) });
    expect(applied).toHaveLength(objects.length);

    const deployments = await admin.resourceType("apps/v1", "Deployment");
    expect(await admin.get(deployments, ns, "zitadel-operator")).toBeUndefined();
  });

  it("cannot be dry-run into a namespace that does not exist yet (why the test renders into its own)", async () => {
    const objects = renderInstallManifests({ namespace: "zitadel-operator-never-created", image: IMAGE });
    const serviceAccount = objects.find((o) => o.kind === "ServiceAccount");
    if (!serviceAccount) throw new Error("no ServiceAccount");
    expect(await statusOf(admin.apply(serviceAccount, { dryRun: true }))).toBe(404);
  });
});

describe("an installed operator", () => {
  let ns: string;
  let objects: InstallObject[];
  let sa: KubeClient;
  let saKc: KubeConfig;
  const cleanup: KubeObject[] = [];

  beforeAll(async () => {
    ns = await testNamespace(kc, "operator");
    // Cluster-scoped RBAC under names of this test's own, so it cannot meet another test's (or a real) install.
    objects = renderInstallManifests({ namespace: ns, image: IMAGE }).map((obj) => ownNames(obj, ns));
    await applyInstallManifests(admin, objects);
    cleanup.push(...objects.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding"));
    ({ client: sa, kc: saKc } = await clientFor(`system:serviceaccount:${ns}:${SA}`, [
      "system:serviceaccounts",
      `system:serviceaccounts:${ns}`,
    ]));
  });

  afterAll(async () => {
    for (const obj of cleanup) {
      const type = await admin.resourceType(obj.apiVersion ?? "", obj.kind ?? "");
      await admin.delete(type, undefined, obj.metadata?.name ?? "");
    }
  });

  it("runs its replicas under the enforced restricted Pod Security Standard", async () => {
    // The namespace enforces `restricted`: a pod without our security context is refused...
    const pods = await admin.resourceType("v1", "Pod");
    const plain = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "plain", namespace: ns },
      spec: { containers: [{ name: "c", image: IMAGE }] },
    };
    // (Pod Security admission reads namespaces from a cache that may not have seen this one yet.)
    await eventually(async () => {
      const refused = await admin.apply(plain, { dryRun: true }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(403);
      expect((refused as ApiError).message).toMatch(/violates PodSecurity "restricted:latest"/);
    });

    // ...while a pod of the operator's template is admitted...
    const deployment = objects.find((o) => o.kind === "Deployment") as InstallObject & {
      spec: { template: { metadata: object; spec: object } };
    };
    await admin.apply(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...deployment.spec.template.metadata, name: "operator", namespace: ns },
        spec: deployment.spec.template.spec,
      },
      { dryRun: true },
    );
    // ...and the ReplicaSet controller gets both of the operator's pods admitted, and kwok makes them ready.
    const deployments = await admin.resourceType("apps/v1", "Deployment");
    await eventually(
      async () => {
        const live = await admin.get<{ status?: { readyReplicas?: number } } & KubeObject>(
          deployments,
          ns,
          "zitadel-operator",
        );
        expect(live?.status?.readyReplicas).toBe(2);
      },
      { timeoutMs: 60_000 },
    );
    const list = await admin.list(pods, {
      namespace: ns,
      labelSelector: "app.kubernetes.io/name=zitadel-operator",
    });
    expect(list.items).toHaveLength(2);
  });

  it("is allowed every verb on every resource the RBAC table lists, and Leases only in its namespace", async () => {
    const other = await testNamespace(kc, "elsewhere");
    for (const rule of CLUSTER_RULES) {
      for (const attributes of accessChecks(rule, other)) {
        expect(await allowed(sa, attributes), JSON.stringify(attributes)).toBe(true);
      }
    }
    for (const rule of NAMESPACE_RULES) {
      for (const attributes of accessChecks(rule, ns)) {
        expect(await allowed(sa, attributes), JSON.stringify(attributes)).toBe(true);
        expect(
          await allowed(sa, { ...attributes, namespace: other }),
          `${JSON.stringify(attributes)} in ${other}`,
        ).toBe(false);
      }
    }
  });

  it("is refused everything else worth trying: RBAC, nodes, exec, pod writes, updates, wildcards", async () => {
    const denied: Record<string, string>[] = [
      { group: "rbac.authorization.k8s.io", resource: "roles", verb: "create", namespace: ns },
      { group: "rbac.authorization.k8s.io", resource: "rolebindings", verb: "create", namespace: ns },
      { group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "escalate" },
      { group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "bind" },
      { group: "", resource: "users", verb: "impersonate" },
      { group: "", resource: "serviceaccounts", verb: "impersonate", namespace: ns },
      { group: "", resource: "serviceaccounts/token", verb: "create", namespace: ns },
      { group: "", resource: "nodes", verb: "list" },
      { group: "", resource: "pods", subresource: "exec", verb: "create", namespace: ns },
      { group: "", resource: "pods", subresource: "exec", verb: "get", namespace: ns },
      { group: "", resource: "pods", subresource: "portforward", verb: "create", namespace: ns },
      { group: "", resource: "pods", verb: "create", namespace: ns },
      { group: "", resource: "pods", verb: "delete", namespace: ns },
      { group: "", resource: "persistentvolumeclaims", verb: "create", namespace: ns },
      { group: "apps", resource: "statefulsets", verb: "update", namespace: ns },
      { group: "", resource: "secrets", verb: "deletecollection", namespace: ns },
      { group: "", resource: "namespaces", verb: "delete" },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "list" },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "patch" },
      {
        group: "apiextensions.k8s.io",
        resource: "customresourcedefinitions",
        verb: "get",
        name: "widgets.example.com",
      },
      { group: "", resource: "events", verb: "create", namespace: ns },
      {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "update",
        namespace: ns,
        name: "someone-elses",
      },
      { group: "zitadel-operator.dev", resource: "zitadels", verb: "*", namespace: ns },
      { group: "*", resource: "*", verb: "get", namespace: ns },
    ];
    for (const attributes of denied)
      expect(await allowed(sa, attributes), JSON.stringify(attributes)).toBe(false);

    // And for real, not only as a review.
    expect(
      await statusOf(
        sa.apply({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "more", namespace: ns },
          rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["create"] }],
        }),
      ),
    ).toBe(403);
    expect(await statusOf(sa.list(await sa.resourceType("v1", "Node")))).toBe(403);
    expect(
      await statusOf(
        sa.create({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "p", namespace: ns },
          spec: { containers: [{ name: "c", image: IMAGE }] },
        }),
      ),
    ).toBe(403);
  });

  it("watches and server-side applies custom resources, their status and finalizers", async () => {
    const clusters = await sa.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
    await sa.list(clusters); // across all namespaces, as the informer does
    const created = await sa.apply<KubeObject>({
      apiVersion: "zitadel-operator.dev/v1alpha1",
      kind: "CockroachCluster",
      metadata: { name: "db", namespace: ns },
      spec: { version: "v25.2.4", nodes: 3 },
    });
    expect(created.metadata?.uid).toBeTruthy();
    const withStatus = await sa.apply<KubeObject & { status?: { observedGeneration?: number } }>(
      {
        apiVersion: "zitadel-operator.dev/v1alpha1",
        kind: "CockroachCluster",
        metadata: { name: "db", namespace: ns },
        status: {
          observedGeneration: 1,
          conditions: [
            {
              type: "Ready",
              status: "False",
              reason: "Provisioning",
              message: "Waiting for the nodes",
              lastTransitionTime: "2026-01-01T00:00:00Z",
            },
          ],
        },
      },
      { subresource: "status" },
    );
    expect(withStatus.status?.observedGeneration).toBe(1);
    await sa.jsonPatch(clusters, ns, "db", [
      { op: "add", path: "/metadata/finalizers", value: ["zitadel-operator.dev/cleanup"] },
    ]);
    await sa.jsonPatch(clusters, ns, "db", [{ op: "remove", path: "/metadata/finalizers" }]);
    await sa.delete(clusters, ns, "db");
  });

  it("server-side applies, reads and deletes the objects it owns", async () => {
    const labels = { app: "db" };
    const statefulSet = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace: ns },
      spec: {
        serviceName: "db",
        replicas: 0,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: "db", image: IMAGE }] } },
      },
    };
    await sa.apply(statefulSet); // a create, through PATCH
    await sa.apply({ ...statefulSet, spec: { ...statefulSet.spec, replicas: 1 } }); // an update, through PATCH
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db-node-certs", namespace: ns },
      stringData: { "ca.crt": "not a real certificate" },
    };
    await sa.apply(secret);
    const secrets = await sa.resourceType("v1", "Secret");
    expect(await sa.get(secrets, ns, "db-node-certs")).toBeDefined();
    await sa.list(secrets);
    await sa.delete(secrets, ns, "db-node-certs");
    await sa.delete(await sa.resourceType("apps/v1", "StatefulSet"), ns, "db");

    // Volumes: the operator never creates them (the StatefulSet controller does), but deletes them on request.
    await admin.apply({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "datadir-db-0", namespace: ns },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    await sa.delete(await sa.resourceType("v1", "PersistentVolumeClaim"), ns, "datadir-db-0");
  });

  it("records Events", async () => {
    await sa.create({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "db.1", namespace: ns },
      eventTime: "2026-01-01T00:00:00.000000Z",
      reportingController: "zitadel-operator.dev/operator",
      reportingInstance: "test",
      action: "Apply",
      reason: "Applied",
      type: "Normal",
      note: "applied the StatefulSet",
      regarding: { apiVersion: "apps/v1", kind: "Deployment", name: "zitadel-operator", namespace: ns },
    });
  });

  it("holds its leader election Lease, in its own namespace and under its own name only", async () => {
    const leases = saKc.makeApiClient(CoordinationV1Api);
    const lease = (name: string, namespace: string): V1Lease => ({
      metadata: { name, namespace },
      spec: { holderIdentity: "replica-a", leaseDurationSeconds: 15 },
    });
    const created = await leases.createNamespacedLease({
      namespace: ns,
      body: lease(LEADER_ELECTION_LEASE, ns),
    });
    const read = await leases.readNamespacedLease({ name: LEADER_ELECTION_LEASE, namespace: ns });
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    await leases.replaceNamespacedLease({
      name: LEADER_ELECTION_LEASE,
      namespace: ns,
      body: { ...read, spec: { ...read.spec, holderIdentity: "replica-b" } },
    });

    const other = await testNamespace(kc, "elsewhere");
    expect(
      await statusOf(
        leases.createNamespacedLease({ namespace: other, body: lease(LEADER_ELECTION_LEASE, other) }),
      ),
    ).toBe(403);
    // Create cannot be limited by name, but every other Lease is out of reach once created.
    const stray = await leases.createNamespacedLease({ namespace: ns, body: lease("stray", ns) });
    expect(await statusOf(leases.readNamespacedLease({ name: "stray", namespace: ns }))).toBe(403);
    expect(await statusOf(leases.replaceNamespacedLease({ name: "stray", namespace: ns, body: stray }))).toBe(
      403,
    );
  });

  it("can read its own CRDs and no others", async () => {
    const crds = await admin.resourceType("apiextensions.k8s.io/v1", "CustomResourceDefinition");
    for (const crd of renderCrds()) expect(await sa.get(crds, undefined, crd.metadata.name)).toBeDefined();
    // Whether or not it exists, another CRD is forbidden: the API server authorizes before it looks.
    expect(await statusOf(sa.get(crds, undefined, "widgets.test.zitadel-operator.dev"))).toBe(403);
  });
});

describe("server-side apply", () => {
  it("needs create as well as patch to create an object, and patch alone to change one", async () => {
    const ns = await testNamespace(kc, "ssa");
    const user = `ssa-probe-${ns}`;
    const bind = async (verbs: string[]) => {
      await admin.apply({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "configmaps", namespace: ns },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs }],
      });
      await admin.apply({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "configmaps", namespace: ns },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmaps" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
      });
    };
    const { client } = await clientFor(user);
    const configMap = (name: string) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: ns },
      data: { a: "1" },
    });
    await admin.apply(configMap("existing"), { fieldManager: "someone-else" });

    await bind(["patch"]);
    await eventually(async () => expect(await statusOf(client.apply(configMap("existing")))).toBe(0));
    const refused = await client.apply(configMap("new")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(403);
    expect((refused as ApiError).message).toMatch(/cannot create resource "configmaps"/);

    await bind(["create"]);
    await eventually(async () => expect(await statusOf(client.apply(configMap("new")))).toBe(403));
    expect((await client.apply(configMap("new")).catch((e: ApiError) => e)).message).toMatch(
      /cannot patch resource "configmaps"/,
    );

    await bind(["create", "patch"]);
    await eventually(async () => expect(await statusOf(client.apply(configMap("new")))).toBe(0));
  });
});

/** Names of this test's own for the cluster-scoped RBAC objects (and the bindings' references to them). */
function ownNames(obj: InstallObject, ns: string): InstallObject {
  if (obj.kind === "ClusterRole")
    return { ...obj, metadata: { ...obj.metadata, name: `zitadel-operator-${ns}` } };
  if (obj.kind === "ClusterRoleBinding") {
    return {
      ...obj,
      metadata: { ...obj.metadata, name: `zitadel-operator-${ns}` },
      roleRef: { ...(obj.roleRef as object), name: `zitadel-operator-${ns}` },
    };
  }
  return obj;
}

/** The resource attributes of every (verb, resource, name) a rule grants, in `namespace` where namespaced. */
function accessChecks(rule: (typeof CLUSTER_RULES)[number], namespace: string): Record<string, string>[] {
  const checks: Record<string, string>[] = [];
  for (const group of rule.apiGroups) {
    for (const resource of rule.resources) {
      const [plural = resource, subresource] = resource.split("/");
      for (const verb of rule.verbs) {
        for (const name of rule.resourceNames ?? [undefined]) {
          checks.push({
            group,
            resource: plural,
            ...(subresource ? { subresource } : {}),
            verb,
            ...(name ? { name } : {}),
            ...(CLUSTER_SCOPED.has(plural) ? {} : { namespace }),
          });
        }
      }
    }
  }
  return checks;
}

const CLUSTER_SCOPED = new Set(["namespaces", "customresourcedefinitions", "nodes"]);

/** Asks the API server, as `client`'s identity, whether it may do this (a SelfSubjectAccessReview). */
async function allowed(client: KubeClient, resourceAttributes: Record<string, string>): Promise<boolean> {
  const review = await client.create<{ status?: { allowed?: boolean } } & KubeObject>({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    metadata: {},
    spec: { resourceAttributes },
  });
  return review.status?.allowed === true;
}
