// Everything a CockroachCluster consists of in Kubernetes, in the order to apply it.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { renderPodDisruptionBudget } from "./disruption-budget.ts";
import { renderInitJob } from "./jobs.ts";
import { renderNetworkPolicy } from "./network-policy.ts";
import { renderServiceAccount } from "./service-account.ts";
import { renderHeadlessService, renderPublicService } from "./services.ts";
import { renderStatefulSet } from "./statefulset.ts";
import { type CockroachRenderContext, targets } from "./topology.ts";

/**
 * The objects of `cluster` in apply order: ServiceAccounts, Services, PodDisruptionBudgets and NetworkPolicies
 * before the StatefulSets whose pods need them, then the init Job until status.initialized says it ran. Objects for
 * a region in another Kubernetes cluster carry the remote-cluster annotation (remoteClusterOf) and come after this
 * cluster's objects of the same kind. Certificates (Secrets) are not rendered here: their contents come from
 * src/pki and must exist before the StatefulSets.
 */
export function renderCockroachCluster(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
): KubeObject[] {
  const all = targets(cluster, ctx);
  const regionsOf = (fn: (region: string | undefined) => KubeObject) =>
    all.flatMap((target) => target.placements.map((placement) => fn(placement.region)));
  return [
    ...all.map((target) => renderServiceAccount(cluster, ctx, target.remoteCluster)),
    ...regionsOf((region) => renderHeadlessService(cluster, ctx, region)),
    ...all.map((target) => renderPublicService(cluster, ctx, target.remoteCluster)),
    ...all.map((target) => renderPodDisruptionBudget(cluster, ctx, target.remoteCluster)),
    ...(cluster.spec.networkPolicy
      ? all.map((target) => renderNetworkPolicy(cluster, ctx, target.remoteCluster))
      : []),
    ...regionsOf((region) => renderStatefulSet(cluster, ctx, region)),
    ...(cluster.status?.initialized === true ? [] : [renderInitJob(cluster, ctx)]),
  ];
}
