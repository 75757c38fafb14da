// The identity of the node and Job pods: a ServiceAccount of their own, without API permissions and without a
// mounted token (CockroachDB never talks to the Kubernetes API).

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { childMeta } from "./meta.ts";
import { targetOf } from "./services.ts";
import { type CockroachRenderContext, clusterName } from "./topology.ts";

export function renderServiceAccount(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  remoteCluster?: string,
): KubeObject {
  const target = targetOf(cluster, ctx, remoteCluster);
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: childMeta(cluster, {
      name: clusterName(cluster),
      namespace: target.namespace,
      remoteCluster: target.remoteCluster,
    }),
    automountServiceAccountToken: false,
  };
}
