// Who may reach the CockroachDB pods (spec.networkPolicy): the other nodes, SQL clients that carry the
// cockroach-client label (ZITADEL pods and the operator's Jobs), and the operator for the DB Console's HTTP port.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { childMeta, clusterPodSelector, DATABASE_COMPONENT, LABEL } from "./meta.ts";
import { targetOf } from "./services.ts";
import {
  type CockroachRenderContext,
  clusterName,
  DEFAULT_OPERATOR_NAMESPACE,
  GRPC_PORT,
  HTTP_PORT,
  targets,
} from "./topology.ts";

// The labels of the operator's pods (src/install/manifests.ts).
const OPERATOR_POD_LABELS = {
  "app.kubernetes.io/name": "zitadel-operator",
  "app.kubernetes.io/component": "operator",
};

/** The NetworkPolicy for the pods in `remoteCluster` (this Kubernetes cluster when undefined). */
export function renderNetworkPolicy(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
  remoteCluster?: string,
): KubeObject {
  const target = targetOf(cluster, ctx, remoteCluster);
  const grpc = { port: GRPC_PORT, protocol: "TCP" };
  const http = { port: HTTP_PORT, protocol: "TCP" };
  const spansClusters = targets(cluster, ctx).length > 1;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMeta(cluster, {
      name: clusterName(cluster),
      namespace: target.namespace,
      remoteCluster: target.remoteCluster,
      component: DATABASE_COMPONENT,
    }),
    spec: {
      podSelector: { matchLabels: clusterPodSelector(cluster) },
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: clusterPodSelector(cluster) } }], ports: [grpc, http] },
        {
          from: [{ podSelector: { matchLabels: { [LABEL.cockroachClient]: clusterName(cluster) } } }],
          ports: [grpc],
        },
        {
          // The operator runs SQL through Jobs (which are clients above); it only reads health and metrics.
          from: [
            {
              namespaceSelector: {
                matchLabels: {
                  "kubernetes.io/metadata.name": ctx.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE,
                },
              },
              podSelector: { matchLabels: OPERATOR_POD_LABELS },
            },
          ],
          ports: [http],
        },
        // Nodes in other Kubernetes clusters arrive from addresses no selector here can name (other pod networks,
        // load balancers). Their RPC port stays open to them; every connection still needs a certificate signed
        // by the cluster's CA.
        ...(spansClusters ? [{ ports: [grpc] }] : []),
      ],
    },
  };
}
