// CockroachCluster -> Kubernetes objects, the decisions taken between renders, and the names both rely on.
// Pure: no I/O; the reconciler observes, calls these, and applies the result.

export { renderCockroachCluster } from "./cluster.ts";
export * from "./decisions.ts";
export { renderPodDisruptionBudget } from "./disruption-budget.ts";
export { renderDecommissionJob, renderInitJob, renderSqlJob, type SqlStatements } from "./jobs.ts";
export {
  ANNOTATION,
  clusterPodSelector,
  commonLabels,
  LABEL,
  placementPodSelector,
  podSelectorString,
  remoteClusterOf,
} from "./meta.ts";
export { renderNetworkPolicy } from "./network-policy.ts";
export { cockroachImage } from "./pod.ts";
export { renderServiceAccount } from "./service-account.ts";
export { renderHeadlessService, renderPublicService } from "./services.ts";
export { renderStatefulSet } from "./statefulset.ts";
export {
  type CockroachRenderContext,
  GRPC_PORT,
  HTTP_PORT,
  joinAddresses,
  nodeCertificateNames,
  nodeCertificateSecretName,
  nodeServiceLocations,
  operationsPlacement,
  type Placement,
  placements,
  publicServiceName,
  type RemoteClusterLocation,
  rootClientSecretName,
  type Target,
  targets,
} from "./topology.ts";
