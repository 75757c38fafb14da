// The operator's RBAC as data: every permission it holds, with the reason it needs it. The ClusterRole and the
// Role of the install manifests are rendered from these tables, the YAML carries each `why` as a comment, and
// unit tests hold the tables to least privilege (no wildcards, no RBAC objects, no exec).
import { GROUP } from "../api/group.ts";
import { KINDS, pluralOf } from "../api/kinds.ts";

export type Verb = "get" | "list" | "watch" | "create" | "patch" | "update" | "delete";

export interface PermissionRule {
  apiGroups: string[];
  resources: string[];
  verbs: Verb[];
  /** Limits get/update/patch/delete to these names (create and list cannot be limited by name). */
  resourceNames?: string[];
  why: string;
}

/** The Lease candidates compete for; the Role below only lets the operator touch this one. */
export const LEADER_ELECTION_LEASE = "zitadel-operator";

const OUR_PLURALS = KINDS.map((kind) => pluralOf(kind));

// Objects the operator renders and owns: read through the informer cache, written by server-side apply, and
// deleted when the desired state no longer has them. Server-side apply of an object that does not exist yet is a
// PATCH, but the API server also checks `create` for it (verified in test/integration/install.test.ts).
const OWNED: Verb[] = ["get", "list", "watch", "create", "patch", "delete"];

/** Cluster-wide permissions: custom resources and their children live in any namespace. */
export const CLUSTER_RULES: readonly PermissionRule[] = [
  {
    apiGroups: [GROUP],
    resources: OUR_PLURALS,
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why:
      "Reconcilers watch every kind and add or remove their finalizer by patch; a GitSource applies resources " +
      "of these kinds from Git and prunes those removed from it; a BackupSchedule creates Backups and deletes " +
      "those past its retention.",
  },
  {
    apiGroups: [GROUP],
    resources: OUR_PLURALS.map((plural) => `${plural}/status`),
    verbs: ["patch"],
    why: "Status (conditions, observedGeneration, certificate expiry) is written by server-side apply to the status subresource.",
  },
  {
    apiGroups: [GROUP],
    resources: OUR_PLURALS.map((plural) => `${plural}/finalizers`),
    verbs: ["update"],
    why:
      "Children carry an ownerReference with blockOwnerDeletion; where the OwnerReferencesPermissionEnforcement " +
      "admission plugin is on (OpenShift, hardened clusters), setting it needs update on the owner's finalizers.",
  },
  {
    apiGroups: ["apps"],
    resources: ["statefulsets"],
    verbs: OWNED,
    why: "CockroachDB nodes, one StatefulSet per region; a removed region's StatefulSet is deleted after its nodes are decommissioned.",
  },
  {
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: OWNED,
    why: "ZITADEL and its login UI; the login Deployment is deleted when spec.login is turned off.",
  },
  {
    apiGroups: [""],
    resources: ["services"],
    verbs: OWNED,
    why: "CockroachDB public and headless Services, ZITADEL and login UI Services.",
  },
  {
    apiGroups: [""],
    resources: ["configmaps"],
    verbs: OWNED,
    why: "ZITADEL configuration rendered from spec and spec.config.",
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: OWNED,
    why:
      "Writes the operator CA, node and client certificates and a generated masterkey; reads referenced Secrets " +
      "(database and backup credentials, Git credentials and age keys, RemoteCluster kubeconfigs); deletes client " +
      "certificates of SQL users removed from spec.users. CA Secrets are never deleted.",
  },
  {
    apiGroups: [""],
    resources: ["serviceaccounts"],
    verbs: OWNED,
    why: "CockroachDB and ZITADEL pods run as ServiceAccounts of their own that have no API permissions.",
  },
  {
    apiGroups: ["policy"],
    resources: ["poddisruptionbudgets"],
    verbs: OWNED,
    why: "Keep a CockroachDB quorum and a ZITADEL replica up through node drains.",
  },
  {
    apiGroups: ["batch"],
    resources: ["jobs"],
    verbs: OWNED,
    why: "CockroachDB cluster init, ZITADEL init and setup migrations, backup and restore runs; finished Jobs are cleaned up.",
  },
  {
    apiGroups: ["networking.k8s.io"],
    resources: ["networkpolicies"],
    verbs: OWNED,
    why: "Limit who reaches CockroachDB's SQL and RPC ports to ZITADEL, the operator and the other nodes.",
  },
  {
    apiGroups: ["networking.k8s.io"],
    resources: ["ingresses"],
    verbs: OWNED,
    why: "The optional ZITADEL Ingress; deleted when it is turned off.",
  },
  {
    apiGroups: ["autoscaling"],
    resources: ["horizontalpodautoscalers"],
    verbs: OWNED,
    why: "The optional ZITADEL HorizontalPodAutoscaler; deleted when it is turned off.",
  },
  {
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["get", "list", "watch"],
    why: "Readiness and versions of CockroachDB and ZITADEL pods, and the pod of a Job. Pods are never written or exec'd into.",
  },
  {
    apiGroups: [""],
    resources: ["pods/log"],
    verbs: ["get"],
    why: "The tail of a failed Job's log goes into the condition message.",
  },
  {
    apiGroups: [""],
    resources: ["persistentvolumeclaims"],
    verbs: ["get", "list", "watch", "patch", "delete"],
    why:
      "Volume state of CockroachDB nodes; patch grows volumes when spec.storage.size grows (a StatefulSet's " +
      "claim templates are immutable); delete only under storage.retainPolicy Delete, never implicitly.",
  },
  {
    apiGroups: ["events.k8s.io"],
    resources: ["events"],
    verbs: ["create"],
    why: "An Event for every action. Events are only created, never updated (src/runtime/events.ts).",
  },
  {
    apiGroups: [""],
    resources: ["namespaces"],
    verbs: ["get", "list", "watch", "create", "patch"],
    why:
      "A GitSource applies the Namespaces committed to Git and checks that those it applies into exist. Never " +
      "delete: pruning a Namespace would take everything in it, so the operator is not allowed to.",
  },
  {
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    verbs: ["get"],
    resourceNames: OUR_PLURALS.map((plural) => `${plural}.${GROUP}`),
    why: "At start, check that our CRDs are installed and say which is missing; only our own CRDs can be read.",
  },
];

/** Permissions in the operator's own namespace only. */
export const NAMESPACE_RULES: readonly PermissionRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create"],
    why: "Leader election: the first candidate creates the Lease (create cannot be limited to a name).",
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "update"],
    resourceNames: [LEADER_ELECTION_LEASE],
    why:
      "Leader election: candidates read the Lease; renewing, taking over and releasing it are updates carrying " +
      "the resourceVersion read (src/runtime/leader.ts).",
  },
];

// Kinds that live in the operator's own cluster only: a remote cluster gets none of them.
const HOME_ONLY = new Set(["namespaces", "customresourcedefinitions", "events"]);

/**
 * What the operator needs in the namespace of a RemoteCluster (the Role `install --remote-role` prints): its
 * cluster rules for the namespaced objects of a region (StatefulSets, Services, Secrets, Jobs and so on), without
 * our custom resources, Events and Namespaces, which stay in the operator's own cluster.
 */
export const REMOTE_RULES: readonly PermissionRule[] = CLUSTER_RULES.filter(
  (rule) => !rule.apiGroups.includes(GROUP) && !rule.resources.some((r) => HOME_ONLY.has(r)),
);

/** A rule as the RBAC API takes it: without `why`, which goes into a YAML comment instead. */
export function toPolicyRule(rule: PermissionRule): Omit<PermissionRule, "why"> {
  const { why: _why, ...policy } = rule;
  return {
    apiGroups: [...policy.apiGroups],
    resources: [...policy.resources],
    ...(policy.resourceNames ? { resourceNames: [...policy.resourceNames] } : {}),
    verbs: [...policy.verbs],
  };
}
