// Labels, owner references and the other metadata every object of a CockroachCluster carries.

import { createHash } from "node:crypto";
import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { API_VERSION, GROUP } from "../../api/group.ts";
import type { ObjectMeta, OwnerReference } from "../../runtime/kube.ts";
import { clusterName, type Placement } from "./topology.ts";

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  version: "app.kubernetes.io/version",
  cluster: `${GROUP}/cluster`,
  region: `${GROUP}/region`,
  /** Pods with this label (value: the cluster's name) may open SQL connections through the NetworkPolicy. */
  cockroachClient: `${GROUP}/cockroach-client`,
} as const;

export const ANNOTATION = {
  /** The RemoteCluster an object belongs in; absent for this Kubernetes cluster. */
  remoteCluster: `${GROUP}/remote-cluster`,
  /** Hash of the pod template: pods whose annotation differs run an older template. */
  templateHash: `${GROUP}/template-hash`,
  /** The node IDs a decommission Job works on. */
  nodeIds: `${GROUP}/node-ids`,
} as const;

const APP_NAME = "cockroachdb";
const MANAGER = "zitadel-operator";
/** app.kubernetes.io/component of the CockroachDB node pods and of everything that selects them. */
export const DATABASE_COMPONENT = "database";

/** Labels that select this cluster's node pods in one Kubernetes cluster (all regions there). */
export function clusterPodSelector(cluster: CockroachCluster): Record<string, string> {
  return {
    [LABEL.name]: APP_NAME,
    [LABEL.instance]: clusterName(cluster),
    [LABEL.component]: DATABASE_COMPONENT,
  };
}

/** The StatefulSet's selector: the cluster's pods in one region. Immutable once the StatefulSet exists. */
export function placementPodSelector(
  cluster: CockroachCluster,
  placement: Placement,
): Record<string, string> {
  return {
    ...clusterPodSelector(cluster),
    ...(placement.region === undefined ? {} : { [LABEL.region]: placement.region }),
  };
}

/** status.selector for the scale subresource: the node pods of every region, as a label selector string. */
export function podSelectorString(cluster: CockroachCluster): string {
  return Object.entries(clusterPodSelector(cluster))
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** The labels every object of the cluster carries. */
export function commonLabels(
  cluster: CockroachCluster,
  component: string | undefined,
  region: string | undefined,
): Record<string, string> {
  return {
    [LABEL.name]: APP_NAME,
    [LABEL.instance]: clusterName(cluster),
    ...(component === undefined ? {} : { [LABEL.component]: component }),
    [LABEL.managedBy]: MANAGER,
    [LABEL.cluster]: clusterName(cluster),
    ...(region === undefined ? {} : { [LABEL.region]: region }),
  };
}

/**
 * Metadata for a child object. Children in this Kubernetes cluster get a controller reference to the
 * CockroachCluster (when it has a uid, i.e. was read from the API server); owner references cannot cross clusters,
 * so children in a RemoteCluster carry the remote-cluster annotation instead and are removed through the finalizer.
 */
export function childMeta(
  cluster: CockroachCluster,
  options: {
    readonly name: string;
    readonly namespace: string;
    readonly remoteCluster: string | undefined;
    readonly component?: string;
    readonly region?: string;
    readonly annotations?: Record<string, string>;
  },
): ObjectMeta {
  const annotations = {
    ...(options.remoteCluster === undefined ? {} : { [ANNOTATION.remoteCluster]: options.remoteCluster }),
    ...options.annotations,
  };
  const owner = options.remoteCluster === undefined ? ownerReference(cluster) : undefined;
  return {
    name: options.name,
    namespace: options.namespace,
    labels: commonLabels(cluster, options.component, options.region),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    ...(owner === undefined ? {} : { ownerReferences: [owner] }),
  };
}

function ownerReference(cluster: CockroachCluster): OwnerReference | undefined {
  const uid = cluster.metadata.uid;
  if (uid === undefined || uid === "") return undefined;
  return {
    apiVersion: API_VERSION,
    kind: "CockroachCluster",
    name: clusterName(cluster),
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The RemoteCluster an object rendered by renderCockroachCluster must be applied to; undefined for this one. */
export function remoteClusterOf(obj: { readonly metadata?: ObjectMeta }): string | undefined {
  return obj.metadata?.annotations?.[ANNOTATION.remoteCluster];
}

/** A short, stable hash of a JSON value (key order as built, which render keeps deterministic). */
export function shortHash(value: unknown, length = 16): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, length);
}
