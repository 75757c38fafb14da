import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  ANNOTATION,
  LABEL,
  nodeCertificateNames,
  podSelectorString,
  remoteClusterOf,
  renderCockroachCluster,
  renderStatefulSet,
} from "../../../../src/render/cockroach/index.ts";
import type { KubeObject } from "../../../../src/runtime/kube.ts";
import { cockroachCluster } from "./cluster.ts";
import { asStatefulSet, container, flag, type StatefulSet, startFlags } from "./shapes.ts";

const REGIONS = [
  { name: "eu-central-1", nodes: 3, zone: "eu-central-1a" },
  { name: "eu-west-1", nodes: 3, clusterRef: { name: "eu-west" } },
  { name: "us-east-1", nodes: 2, clusterRef: { name: "us-east" } },
];
const REMOTES = {
  "eu-west": {
    namespace: "identity-eu",
    clusterDomain: "eu-west.local",
    dnsSuffix: "svc.eu-west.example.internal",
  },
  "us-east": {
    clusterDomain: "us-east.local",
    advertisedAddresses: ["crdb-0.us-east.example.com", "2001:db8::7"],
  },
};

const statefulSets = (objects: KubeObject[]) =>
  objects.filter((o) => o.kind === "StatefulSet").map(asStatefulSet);

describe("renderCockroachCluster", () => {
  it("renders ServiceAccount, Services, PDB, NetworkPolicy, StatefulSet and init Job, in apply order", () => {
    const objects = renderCockroachCluster(cockroachCluster({ networkPolicy: true }));
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      "ServiceAccount/crdb",
      "Service/crdb",
      "Service/crdb-public",
      "PodDisruptionBudget/crdb",
      "NetworkPolicy/crdb",
      "StatefulSet/crdb",
      "Job/crdb-init",
    ]);
  });

  it("gives every object our labels and a controller reference to the CockroachCluster", () => {
    for (const obj of renderCockroachCluster(cockroachCluster({ networkPolicy: true }))) {
      expect(obj.metadata?.labels).toMatchObject({
        "app.kubernetes.io/name": "cockroachdb",
        "app.kubernetes.io/instance": "crdb",
        "app.kubernetes.io/managed-by": "zitadel-operator",
        "zitadel-operator.dev/cluster": "crdb",
      });
      expect(obj.metadata?.ownerReferences).toEqual([
        {
          apiVersion: "zitadel-operator.dev/v1alpha1",
          kind: "CockroachCluster",
          name: "crdb",
          uid: "uid-1",
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it("leaves owner references out for a CockroachCluster that has no uid (rendered from a file)", () => {
    const objects = renderCockroachCluster(cockroachCluster({}, { uid: undefined }));
    expect(objects.every((o) => o.metadata?.ownerReferences === undefined)).toBe(true);
  });

  it("renders the same objects for the same input, byte for byte", () => {
    const a = JSON.stringify(
      renderCockroachCluster(cockroachCluster({ regions: REGIONS }), { remoteClusters: REMOTES }),
    );
    const b = JSON.stringify(
      renderCockroachCluster(cockroachCluster({ regions: REGIONS }), { remoteClusters: REMOTES }),
    );
    expect(a).toBe(b);
  });

  it("omits the init Job once status.initialized says it ran, and the NetworkPolicy unless asked for", () => {
    const kinds = renderCockroachCluster(cockroachCluster({}, {}, { initialized: true })).map((o) => o.kind);
    expect(kinds).not.toContain("Job");
    expect(kinds).not.toContain("NetworkPolicy");
  });

  it("never references a CA Secret: pods get leaf certificates only", () => {
    const cluster = cockroachCluster({ tls: { caSecretRef: { name: "corp-ca" } } });
    const text = JSON.stringify(renderCockroachCluster(cluster));
    expect(text).not.toContain("corp-ca");
    expect(text).not.toContain('"crdb-ca"');
    expect(text).not.toContain("ca.key");
  });

  it("exposes the node pods' selector for the scale subresource", () => {
    expect(podSelectorString(cockroachCluster())).toBe(
      "app.kubernetes.io/name=cockroachdb,app.kubernetes.io/instance=crdb,app.kubernetes.io/component=database",
    );
  });
});

describe("renderCockroachCluster with regions", () => {
  const cluster = cockroachCluster({ regions: REGIONS, networkPolicy: true });
  const objects = renderCockroachCluster(cluster, { remoteClusters: REMOTES });

  it("renders one StatefulSet per region, named <cluster>-<region>", () => {
    expect(
      statefulSets(objects).map((s) => [s.metadata?.name, s.metadata?.namespace, s.spec.replicas]),
    ).toEqual([
      ["crdb-eu-central-1", "identity", 3],
      ["crdb-eu-west-1", "identity-eu", 3],
      ["crdb-us-east-1", "identity", 2],
    ]);
  });

  it("marks objects of other Kubernetes clusters with their RemoteCluster, without owner references", () => {
    const remote = objects.filter((o) => remoteClusterOf(o) !== undefined);
    expect(new Set(remote.map(remoteClusterOf))).toEqual(new Set(["eu-west", "us-east"]));
    expect(remote.every((o) => o.metadata?.ownerReferences === undefined)).toBe(true);
    // Per Kubernetes cluster: ServiceAccount, public Service, PDB, NetworkPolicy; per region: headless Service, StatefulSet.
    expect(remote.filter((o) => remoteClusterOf(o) === "eu-west").map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "Service",
      "Service",
      "PodDisruptionBudget",
      "NetworkPolicy",
      "StatefulSet",
    ]);
  });

  it("gives every StatefulSet the same --join list: three nodes per region, across regions", () => {
    const joins = statefulSets(objects).map((s) => flag(startFlags(s.spec.template), "join"));
    expect(new Set(joins).size).toBe(1);
    expect(joins[0]?.split(",")).toEqual([
      "crdb-eu-central-1-0.crdb-eu-central-1.identity.svc.cluster.local:26257",
      "crdb-eu-central-1-1.crdb-eu-central-1.identity.svc.cluster.local:26257",
      "crdb-eu-central-1-2.crdb-eu-central-1.identity.svc.cluster.local:26257",
      "crdb-eu-west-1-0.crdb-eu-west-1.identity-eu.svc.eu-west.example.internal:26257",
      "crdb-eu-west-1-1.crdb-eu-west-1.identity-eu.svc.eu-west.example.internal:26257",
      "crdb-eu-west-1-2.crdb-eu-west-1.identity-eu.svc.eu-west.example.internal:26257",
      "crdb-0.us-east.example.com:26257",
      "[2001:db8::7]:26257",
    ]);
  });

  it("sets the locality region, and the zone where the spec names one", () => {
    expect(statefulSets(objects).map((s) => flag(startFlags(s.spec.template), "locality"))).toEqual([
      "region=eu-central-1,zone=eu-central-1a",
      "region=eu-west-1",
      "region=us-east-1",
    ]);
  });

  it("advertises the pod's own name, or its load balancer where the RemoteCluster lists one per pod", () => {
    const [central, west, east] = statefulSets(objects) as [StatefulSet, StatefulSet, StatefulSet];
    expect(flag(startFlags(central.spec.template), "advertise-addr")).toBe(
      "$(POD_NAME).crdb-eu-central-1.identity.svc.cluster.local:26257",
    );
    expect(flag(startFlags(west.spec.template), "advertise-addr")).toBe(
      "$(POD_NAME).crdb-eu-west-1.identity-eu.svc.eu-west.example.internal:26257",
    );
    const script = container(east.spec.template, "cockroachdb").command[2] ?? "";
    expect(script).toContain("addresses=(crdb-0.us-east.example.com:26257 '[2001:db8::7]:26257')");
    expect(flag(startFlags(east.spec.template), "advertise-addr")).toBe('"$address"');
  });

  it("names in the node certificate every address nodes dial or advertise", () => {
    const names = nodeCertificateNames(cluster, { remoteClusters: REMOTES });
    const covered = (host: string) =>
      names.dnsNames.includes(host) ||
      names.ipAddresses.includes(host) ||
      names.dnsNames.some((n) => n.startsWith("*.") && host.slice(host.indexOf(".") + 1) === n.slice(2));
    const hosts = (flag(startFlags(statefulSets(objects)[0]?.spec.template as never), "join") ?? "")
      .split(",")
      .map((address) => address.replace(/:26257$/, "").replace(/^\[(.*)\]$/, "$1"));
    for (const host of hosts) expect(covered(host), host).toBe(true);
    expect(covered("crdb-public.identity-eu.svc.eu-west.local")).toBe(true);
  });

  it("runs the init Job next to the first region in this Kubernetes cluster, against its pod 0", () => {
    const job = objects.find((o) => o.kind === "Job");
    expect(remoteClusterOf(job as KubeObject)).toBeUndefined();
    expect(JSON.stringify(job)).toContain(
      "--host=crdb-eu-central-1-0.crdb-eu-central-1.identity.svc.cluster.local:26257",
    );
  });

  it("opens the RPC port to nodes in other Kubernetes clusters, which no pod selector can name", () => {
    const policy = objects.find((o) => o.kind === "NetworkPolicy") as { spec: { ingress: unknown[] } };
    expect(policy.spec.ingress.at(-1)).toEqual({ ports: [{ port: 26257, protocol: "TCP" }] });
  });
});

describe("renderStatefulSet", () => {
  it("runs cockroach start in secure mode with both ports, Parallel pods and a partitioned rolling update", () => {
    const sts = asStatefulSet(renderStatefulSet(cockroachCluster()));
    const flags = startFlags(sts.spec.template);
    expect(flag(flags, "certs-dir")).toBe("/cockroach/cockroach-certs");
    expect(flag(flags, "listen-addr")).toBe(":26257");
    expect(flag(flags, "http-addr")).toBe(":8080");
    expect(flag(flags, "cluster-name")).toBe("crdb");
    expect(flag(flags, "locality")).toBeUndefined();
    expect(sts.spec.podManagementPolicy).toBe("Parallel");
    expect(sts.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { partition: 0 } });
  });

  it("probes readiness with /health?ready=1 and liveness with /health, over HTTPS on 8080", () => {
    const db = container(
      asStatefulSet(renderStatefulSet(cockroachCluster())).spec.template,
      "cockroachdb",
    ) as unknown as {
      readinessProbe: { httpGet: unknown };
      livenessProbe: { httpGet: unknown };
      ports: unknown;
    };
    expect(db.readinessProbe.httpGet).toEqual({ path: "/health?ready=1", port: "http", scheme: "HTTPS" });
    expect(db.livenessProbe.httpGet).toEqual({ path: "/health", port: "http", scheme: "HTTPS" });
    expect(db.ports).toEqual([
      { name: "grpc", containerPort: 26257, protocol: "TCP" },
      { name: "http", containerPort: 8080, protocol: "TCP" },
    ]);
  });

  it("takes the partition and the replicas from the context during upgrades and scale-downs", () => {
    const sts = asStatefulSet(
      renderStatefulSet(cockroachCluster({ nodes: 3 }), { partitions: { crdb: 2 }, replicas: { crdb: 5 } }),
    );
    expect(sts.spec.updateStrategy.rollingUpdate.partition).toBe(2);
    expect(sts.spec.replicas).toBe(5);
  });

  it("sizes --cache and --max-sql-memory after the memory limit", () => {
    const cluster = cockroachCluster({
      resources: { requests: { memory: "4Gi" }, limits: { memory: "8Gi" } },
      cache: "30%",
      maxSQLMemory: "1Gi",
    });
    const flags = startFlags(asStatefulSet(renderStatefulSet(cluster)).spec.template);
    expect([flag(flags, "cache"), flag(flags, "max-sql-memory")]).toEqual(["2457MiB", "1024MiB"]);
  });

  it("mounts the node certificate Secret as the certs dir with the modes CockroachDB accepts", () => {
    const sts = asStatefulSet(renderStatefulSet(cockroachCluster()));
    expect(sts.spec.template.spec.volumes.find((v) => v.name === "certs")?.secret).toEqual({
      secretName: "crdb-node-certs",
      items: [
        { key: "ca.crt", path: "ca.crt", mode: 0o444 },
        { key: "node.crt", path: "node.crt", mode: 0o444 },
        { key: "node.key", path: "node.key", mode: 0o440 },
      ],
    });
    expect(sts.spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsGroup: 1000,
      fsGroup: 1000,
    });
  });

  it("claims the spec's storage for each pod", () => {
    const sts = asStatefulSet(
      renderStatefulSet(
        cockroachCluster({ storage: { size: "100Gi", storageClassName: "ssd", retainPolicy: "Delete" } }),
      ),
    );
    expect(sts.spec.volumeClaimTemplates[0]?.spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      storageClassName: "ssd",
      resources: { requests: { storage: "100Gi" } },
    });
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: "Delete",
      whenScaled: "Delete",
    });
  });

  it("spreads pods by anti-affinity as spec.scheduling says, and over zones", () => {
    const required = asStatefulSet(
      renderStatefulSet(cockroachCluster({ scheduling: { podAntiAffinity: "Required" } })),
    );
    expect(JSON.stringify(required.spec.template.spec.affinity)).toContain("requiredDuringScheduling");
    const none = asStatefulSet(
      renderStatefulSet(cockroachCluster({ scheduling: { podAntiAffinity: "None" } })),
    );
    expect(none.spec.template.spec.affinity).toBeUndefined();
    expect(none.spec.template.spec.topologySpreadConstraints).toMatchObject([
      { topologyKey: "topology.kubernetes.io/zone", maxSkew: 1 },
    ]);
  });

  it("drains on SIGTERM within a 300 s grace period", () => {
    expect(
      asStatefulSet(renderStatefulSet(cockroachCluster())).spec.template.spec.terminationGracePeriodSeconds,
    ).toBe(300);
  });

  it("changes the template hash with anything that restarts pods, and only then", () => {
    const hash = (spec: Record<string, unknown>, ctx = {}) =>
      asStatefulSet(renderStatefulSet(cockroachCluster(spec), ctx)).spec.template.metadata.annotations?.[
        ANNOTATION.templateHash
      ];
    expect(hash({})).toBe(hash({}));
    expect(hash({ version: "v25.2.5" })).not.toBe(hash({}));
    expect(hash({ resources: { limits: { memory: "4Gi" } } })).not.toBe(hash({}));
    // Partition and replicas steer the StatefulSet controller; they are not part of the pods.
    expect(hash({}, { partitions: { crdb: 1 }, replicas: { crdb: 4 } })).toBe(hash({}));
  });

  it("labels pods with their version, which rollingUpdateStep reads", () => {
    const sts = asStatefulSet(renderStatefulSet(cockroachCluster({ version: "v25.2.5" })));
    expect(sts.spec.template.metadata.labels[LABEL.version]).toBe("v25.2.5");
  });

  it("refuses a region the cluster does not have", () => {
    expect(() => renderStatefulSet(cockroachCluster({ regions: REGIONS }), {}, "mars-1")).toThrow(
      /no region "mars-1"/,
    );
  });

  it("renders shell scripts that bash parses", () => {
    const objects = renderCockroachCluster(cockroachCluster({ regions: REGIONS }), {
      remoteClusters: REMOTES,
    });
    const scripts = objects.flatMap((o) =>
      ((o as StatefulSet).spec?.template?.spec.containers ?? [])
        .filter((c) => c.command[0] === "/bin/bash")
        .map((c) => c.command[2] ?? ""),
    );
    expect(scripts.length).toBeGreaterThanOrEqual(5);
    for (const script of scripts) execFileSync("bash", ["-n", "-c", script]);
  });
});
