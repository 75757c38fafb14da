// What every step of the Zitadel reconcile shares: its view of the cluster (the controller's caches and the
// client), the Events it records, and the shape of a step's outcome.
import type { Zitadel } from "../../api/zitadel.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../runtime/kube.ts";

export const TYPES = {
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  configMap: { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  service: { apiVersion: "v1", kind: "Service", plural: "services", namespaced: true },
  pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  deployment: { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  podDisruptionBudget: {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
  },
  ingress: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", plural: "ingresses", namespaced: true },
} satisfies Record<string, ResourceType>;

export type SecretObject = KubeObject & { data?: Record<string, string>; immutable?: boolean };

/** A step that could not finish: a condition-ready reason and message (never a secret in it). */
export interface StepFailure {
  readonly ok: false;
  readonly reason: string;
  readonly message: string;
  /** Look again after this long rather than backing off: the step waits for something that is on its way. */
  readonly requeueAfterMs?: number;
}

/** What a step needs of the world. */
export interface StepContext {
  readonly zitadel: Zitadel;
  /** The live object, as Events regard it. */
  readonly object: KubeObject;
  readonly namespace: string;
  readonly client: KubeClient;
  readonly events: EventRecorder;
  /** The Restore holding this Zitadel at zero pods (hold.ts): nothing is generated meanwhile. */
  readonly heldBy?: string;
  /** A cached object of a watched kind. */
  cached<T extends KubeObject>(type: ResourceType, name: string): T | undefined;
  /** Cached objects of a watched kind in the Zitadel's namespace with these labels. */
  cachedList<T extends KubeObject>(type: ResourceType, labels: Record<string, string>): T[];
}

/** A Secret's value under `key`, decoded; undefined when the key is missing. */
export function secretValue(secret: SecretObject | undefined, key: string): string | undefined {
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}
