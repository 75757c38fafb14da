// One voluntary disruption at a time (a Kubernetes node drain, a cluster autoscaler) for the CockroachDB pods in one
// Kubernetes cluster: with three replicas per range, losing one node keeps every range available.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { childMeta, clusterPodSelector, DATABASE_COMPONENT } from "./meta.ts";
import { targetOf } from "./services.ts";
import { type CockroachRenderContext, clusterName } from "./topology.ts";

export function renderPodDisruptionBudget(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  remoteCluster?: string,
): KubeObject {
  const target = targetOf(cluster, ctx, remoteCluster);
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMeta(cluster, {
      name: clusterName(cluster),
      namespace: target.namespace,
      remoteCluster: target.remoteCluster,
      component: DATABASE_COMPONENT,
    }),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: clusterPodSelector(cluster) },
    },
  };
}
