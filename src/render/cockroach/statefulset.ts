// The StatefulSet of one region (or of the whole cluster without regions): `cockroach start` in secure mode.
// https://www.cockroachlabs.com/docs/v26.1/cockroach-start

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { cacheAndSqlMemory } from "./decisions.ts";
import {
  ANNOTATION,
  childMeta,
  clusterPodSelector,
  commonLabels,
  DATABASE_COMPONENT,
  LABEL,
  placementPodSelector,
  shortHash,
} from "./meta.ts";
import {
  CERTS_DIR,
  COCKROACH_BINARY,
  certsVolume,
  cockroachImage,
  containerSecurityContext,
  DATA_DIR,
  imagePullFields,
  imagePullPolicy,
  podSecurityContext,
} from "./pod.ts";
import {
  advertiseAddress,
  type CockroachRenderContext,
  clusterName,
  GRPC_PORT,
  HTTP_PORT,
  joinAddresses,
  nodeCertificateSecretName,
  type Placement,
  placements,
  withPort,
} from "./topology.ts";

// Kubernetes sends SIGTERM, on which cockroach drains itself (leases, then SQL clients) and exits; the grace period
// must outlast the drain. CockroachDB recommends at least 300 s, the official operator's value.
// https://www.cockroachlabs.com/docs/v26.1/node-shutdown#termination-grace-period-on-kubernetes
const TERMINATION_GRACE_SECONDS = 300;
const DATA_VOLUME = "datadir";
const CERTS_VOLUME = "certs";
const TMP_VOLUME = "tmp";
const CERT_RELOAD_INTERVAL_SECONDS = 30;

/**
 * The StatefulSet of `region` (a spec.regions[].name; the cluster's only StatefulSet when omitted): Parallel pod
 * management (a restarting cluster needs its peers up to become ready), a partitioned RollingUpdate the reconciler
 * steers during upgrades (ctx.partitions), and replicas from ctx.replicas during a scale-down.
 */
export function renderStatefulSet(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  region?: string,
): KubeObject {
  const all = placements(cluster, ctx);
  const placement = region === undefined ? all[0] : all.find((p) => p.region === region);
  if (placement === undefined)
    throw new Error(`CockroachCluster ${clusterName(cluster)} has no region "${region}"`);
  const template = podTemplate(cluster, ctx, placement);
  const storage = cluster.spec.storage;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(cluster, {
      name: placement.statefulSet,
      namespace: placement.namespace,
      remoteCluster: placement.remoteCluster,
      component: DATABASE_COMPONENT,
      region: placement.region,
    }),
    spec: {
      serviceName: placement.statefulSet,
      replicas: ctx.replicas?.[placement.statefulSet] ?? placement.nodes,
      podManagementPolicy: "Parallel",
      updateStrategy: {
        type: "RollingUpdate",
        rollingUpdate: { partition: ctx.partitions?.[placement.statefulSet] ?? 0 },
      },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: storage.retainPolicy,
        whenScaled: storage.retainPolicy,
      },
      selector: { matchLabels: placementPodSelector(cluster, placement) },
      template,
      volumeClaimTemplates: [
        {
          metadata: {
            name: DATA_VOLUME,
            labels: commonLabels(cluster, DATABASE_COMPONENT, placement.region),
          },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(storage.storageClassName === undefined ? {} : { storageClassName: storage.storageClassName }),
            resources: { requests: { storage: storage.size } },
          },
        },
      ],
    },
  };
}

function podTemplate(cluster: CockroachCluster, ctx: CockroachRenderContext, placement: Placement) {
  const spec = podSpec(cluster, ctx, placement);
  const labels = {
    ...commonLabels(cluster, DATABASE_COMPONENT, placement.region),
    // rollingUpdateStep reads each pod's version from here.
    [LABEL.version]: cluster.spec.version,
  };
  // Everything that must restart the pods is in the template; the hash names that state in one short value, so
  // a pod's annotation tells whether it runs the current template without comparing specs.
  const hash = shortHash({ labels, spec });
  return { metadata: { labels, annotations: { [ANNOTATION.templateHash]: hash } }, spec };
}

function podSpec(cluster: CockroachCluster, ctx: CockroachRenderContext, placement: Placement) {
  const scheduling = cluster.spec.scheduling;
  return {
    serviceAccountName: clusterName(cluster),
    automountServiceAccountToken: false,
    // The certificate reloader signals the cockroach process in the other container.
    shareProcessNamespace: true,
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    securityContext: podSecurityContext(),
    ...imagePullFields(cluster),
    ...(scheduling.priorityClassName === undefined
      ? {}
      : { priorityClassName: scheduling.priorityClassName }),
    ...(scheduling.nodeSelector === undefined ? {} : { nodeSelector: sortedRecord(scheduling.nodeSelector) }),
    ...(scheduling.tolerations === undefined
      ? {}
      : { tolerations: scheduling.tolerations.map((t) => ({ ...t })) }),
    ...antiAffinity(cluster),
    topologySpreadConstraints: [
      {
        // Spread each region over its zones, so one zone outage takes at most its share of the nodes.
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: placementPodSelector(cluster, placement) },
      },
    ],
    containers: [cockroachContainer(cluster, ctx, placement), certificateReloader(cluster)],
    volumes: [
      certsVolume(CERTS_VOLUME, nodeCertificateSecretName(cluster, ctx), { node: true }),
      { name: TMP_VOLUME, emptyDir: {} },
    ],
  };
}

/** Never two nodes of the cluster on one Kubernetes node (Required), or only when there is no other way (Preferred). */
function antiAffinity(cluster: CockroachCluster): Record<string, unknown> {
  const term = {
    topologyKey: "kubernetes.io/hostname",
    labelSelector: { matchLabels: clusterPodSelector(cluster) },
  };
  switch (cluster.spec.scheduling.podAntiAffinity) {
    case "None":
      return {};
    case "Required":
      return { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } };
    case "Preferred":
      return {
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
          },
        },
      };
  }
}

function cockroachContainer(cluster: CockroachCluster, ctx: CockroachRenderContext, placement: Placement) {
  const resources = cluster.spec.resources;
  const memory = cacheAndSqlMemory(
    resources?.limits?.memory ?? resources?.requests?.memory,
    cluster.spec.cache,
    cluster.spec.maxSQLMemory,
  );
  const locality = placement.region === undefined ? undefined : localityFlag(placement);
  const flags = (advertise: string) => [
    `--certs-dir=${CERTS_DIR}`,
    `--store=${DATA_DIR}`,
    `--listen-addr=:${GRPC_PORT}`,
    `--advertise-addr=${advertise}`,
    `--http-addr=:${HTTP_PORT}`,
    `--join=${joinAddresses(cluster, ctx).join(",")}`,
    // Nodes refuse to join a cluster of another name: a mix-up of DNS names across clusters cannot merge two
    // clusters. https://www.cockroachlabs.com/docs/v26.1/cockroach-start#general
    `--cluster-name=${clusterName(cluster)}`,
    ...(locality === undefined ? [] : [`--locality=${locality}`]),
    `--cache=${memory.cache}`,
    `--max-sql-memory=${memory.maxSQLMemory}`,
  ];
  return {
    name: "cockroachdb",
    image: cockroachImage(cluster),
    ...imagePullPolicy(cluster),
    ...(placement.advertisedAddresses.length === 0
      ? { command: [COCKROACH_BINARY], args: ["start", ...flags(advertiseAddress(placement))] }
      : { command: ["/bin/bash", "-c", startWithAdvertisedAddress(placement, flags('"$address"'))] }),
    env: [
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      // The Go runtime would otherwise size itself after the Kubernetes node's CPUs.
      ...(resources?.limits?.cpu === undefined
        ? []
        : [
            { name: "GOMAXPROCS", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1" } } },
          ]),
    ],
    ports: [
      // RPC between nodes and SQL from clients share one port.
      { name: "grpc", containerPort: GRPC_PORT, protocol: "TCP" },
      { name: "http", containerPort: HTTP_PORT, protocol: "TCP" },
    ],
    // https://www.cockroachlabs.com/docs/v26.1/monitoring-and-alerting#health-endpoints
    readinessProbe: {
      httpGet: { path: "/health?ready=1", port: "http", scheme: "HTTPS" },
      initialDelaySeconds: 10,
      periodSeconds: 5,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: "/health", port: "http", scheme: "HTTPS" },
      initialDelaySeconds: 30,
      periodSeconds: 5,
      failureThreshold: 3,
    },
    ...(resources === undefined ? {} : { resources: copyResources(resources) }),
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR },
      { name: CERTS_VOLUME, mountPath: CERTS_DIR, readOnly: true },
      { name: TMP_VOLUME, mountPath: "/tmp" },
    ],
  };
}

/**
 * `cockroach start` for pods reached through RemoteCluster.advertisedAddresses (one load balancer per pod, no
 * cross-cluster DNS): pod N advertises the N-th address, which is what the other regions can dial.
 */
function startWithAdvertisedAddress(placement: Placement, flags: readonly string[]): string {
  const addresses = placement.advertisedAddresses.map((address) => shellQuote(withPort(address)));
  return [
    "set -eu",
    `addresses=(${addresses.join(" ")})`,
    `ordinal=\${POD_NAME##*-}`,
    `if [ "$ordinal" -ge \${#addresses[@]} ]; then`,
    `  echo "pod $POD_NAME has no address in RemoteCluster ${placement.remoteCluster}: spec.advertisedAddresses lists \${#addresses[@]}" >&2`,
    "  exit 1",
    "fi",
    `address=\${addresses[$ordinal]}`,
    `exec ${COCKROACH_BINARY} start ${flags.map((flag) => (flag.includes('"$address"') ? flag : shellQuote(flag))).join(" ")}`,
  ].join("\n");
}

function shellQuote(word: string): string {
  return /^[-A-Za-z0-9_.,:=/@%+]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function localityFlag(placement: Placement): string {
  return placement.zone === undefined
    ? `region=${placement.region}`
    : `region=${placement.region},zone=${placement.zone}`;
}

/**
 * Kubelet swaps renewed certificates into the mounted Secret atomically, but CockroachDB reads them only at start
 * and on SIGHUP. This sidecar compares the certificates every 30 s and signals cockroach when they change, so
 * rotation needs neither a restart nor `kubectl exec` rights for the operator. Bash builtins only, apart from sleep.
 */
function certificateReloader(cluster: CockroachCluster) {
  const script = [
    "set -u",
    `snapshot() { printf '%s' "$(< ${CERTS_DIR}/ca.crt)$(< ${CERTS_DIR}/node.crt)"; }`,
    "last=$(snapshot)",
    `while sleep ${CERT_RELOAD_INTERVAL_SECONDS}; do`,
    "  now=$(snapshot)",
    '  [ "$now" = "$last" ] && continue',
    "  cd /proc || exit 1",
    "  for pid in [0-9]*; do",
    '    { read -r comm < "$pid/comm"; } 2>/dev/null || continue',
    '    if [ "$comm" = cockroach ]; then',
    '      kill -HUP "$pid" && echo "certificates changed: sent SIGHUP to cockroach (pid $pid)"',
    "    fi",
    "  done",
    "  last=$now",
    "done",
  ].join("\n");
  return {
    name: "reload-certificates",
    image: cockroachImage(cluster),
    ...imagePullPolicy(cluster),
    command: ["/bin/bash", "-c", script],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: CERTS_VOLUME, mountPath: CERTS_DIR, readOnly: true }],
  };
}

function copyResources(resources: NonNullable<CockroachCluster["spec"]["resources"]>) {
  return {
    ...(resources.requests === undefined ? {} : { requests: sortedRecord(resources.requests) }),
    ...(resources.limits === undefined ? {} : { limits: sortedRecord(resources.limits) }),
  };
}

function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => value !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}
