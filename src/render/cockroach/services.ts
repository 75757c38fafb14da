// The two Services of a CockroachCluster: a headless one per StatefulSet that gives every pod a stable DNS name
// (for --join and --advertise-addr), and a public one that load-balances SQL clients over ready nodes.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { childMeta, clusterPodSelector, DATABASE_COMPONENT, placementPodSelector } from "./meta.ts";
import {
  type CockroachRenderContext,
  clusterName,
  clusterNamespace,
  GRPC_PORT,
  HTTP_PORT,
  placements,
  publicServiceName,
  type Target,
  targets,
} from "./topology.ts";

/** The headless Service of `region`'s StatefulSet (the only one without regions); it has the StatefulSet's name. */
export function renderHeadlessService(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  region?: string,
): KubeObject {
  const all = placements(cluster, ctx);
  const placement = region === undefined ? all[0] : all.find((p) => p.region === region);
  if (placement === undefined)
    throw new Error(`CockroachCluster ${clusterName(cluster)} has no region "${region}"`);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(cluster, {
      name: placement.statefulSet,
      namespace: placement.namespace,
      remoteCluster: placement.remoteCluster,
      component: DATABASE_COMPONENT,
      region: placement.region,
    }),
    spec: {
      clusterIP: "None",
      // Nodes must find each other before any is ready: a node is ready only once the cluster is initialized.
      publishNotReadyAddresses: true,
      selector: placementPodSelector(cluster, placement),
      ports: [
        { name: "grpc", port: GRPC_PORT, targetPort: "grpc", protocol: "TCP" },
        { name: "http", port: HTTP_PORT, targetPort: "http", protocol: "TCP" },
      ],
    },
  };
}

/**
 * <cluster>-public in the Kubernetes cluster `remoteCluster` (this one when undefined): SQL and DB Console over
 * the ready nodes of every region there. ZITADEL connects to it.
 */
export function renderPublicService(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  remoteCluster?: string,
): KubeObject {
  const target = targetOf(cluster, ctx, remoteCluster);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(cluster, {
      name: publicServiceName(cluster),
      namespace: target.namespace,
      remoteCluster: target.remoteCluster,
      component: DATABASE_COMPONENT,
    }),
    spec: {
      type: "ClusterIP",
      selector: clusterPodSelector(cluster),
      ports: [
        { name: "sql", port: GRPC_PORT, targetPort: "grpc", protocol: "TCP" },
        { name: "http", port: HTTP_PORT, targetPort: "http", protocol: "TCP" },
      ],
    },
  };
}

/** The Kubernetes cluster `remoteCluster` names (this one when undefined), with the namespace used there. */
export function targetOf(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext,
  remoteCluster: string | undefined,
): Target {
  const found = targets(cluster, ctx).find((t) => t.remoteCluster === remoteCluster);
  if (found !== undefined) return found;
  if (remoteCluster !== undefined)
    throw new Error(
      `CockroachCluster ${clusterName(cluster)} has no region in RemoteCluster "${remoteCluster}"`,
    );
  // Every region runs elsewhere: objects for this cluster still go to the CockroachCluster's own namespace.
  return { remoteCluster: undefined, namespace: clusterNamespace(cluster, ctx), placements: [] };
}
