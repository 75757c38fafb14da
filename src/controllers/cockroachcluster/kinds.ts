// The Kubernetes kinds the CockroachCluster controller reads and writes, and the small readings of their status
// that every step shares (is a pod ready, has a Job finished, what did a Job's container print).
import type { KubeObject, ResourceType } from "../../runtime/kube.ts";

const core = (kind: string, plural: string): ResourceType => ({
  apiVersion: "v1",
  kind,
  plural,
  namespaced: true,
});

export const SECRET = core("Secret", "secrets");
export const SERVICE = core("Service", "services");
export const SERVICE_ACCOUNT = core("ServiceAccount", "serviceaccounts");
export const POD = core("Pod", "pods");
export const PVC = core("PersistentVolumeClaim", "persistentvolumeclaims");
export const STATEFULSET: ResourceType = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  plural: "statefulsets",
  namespaced: true,
};
export const JOB: ResourceType = { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true };
export const PDB: ResourceType = {
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  plural: "poddisruptionbudgets",
  namespaced: true,
};
export const NETWORK_POLICY: ResourceType = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  plural: "networkpolicies",
  namespaced: true,
};

/** The kinds renderCockroachCluster produces, by apiVersion/kind, to find an object's cached live copy. */
export const RENDERED_KINDS = [SERVICE_ACCOUNT, SERVICE, PDB, NETWORK_POLICY, STATEFULSET, JOB];

export interface StatefulSetObject extends KubeObject {
  spec?: {
    replicas?: number;
    updateStrategy?: { rollingUpdate?: { partition?: number } };
    template?: { metadata?: { labels?: Record<string, string> } };
  };
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string };
}

export interface PodObject extends KubeObject {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready?: boolean;
      state?: ContainerState;
      lastState?: ContainerState;
    }[];
  };
}

export interface JobObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; message?: string }[]; completionTime?: string };
}

export function podReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

// Waiting reasons that are a pod starting, not failing.
const STARTING = new Set(["ContainerCreating", "PodInitializing"]);

/** Why a node pod is failing (CrashLoopBackOff, ImagePullBackOff, a non-zero exit), or undefined. */
export function podFailure(pod: PodObject): string | undefined {
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting?.reason;
    if (waiting !== undefined && !STARTING.has(waiting))
      return c.state?.waiting?.message ? `${waiting}: ${c.state.waiting.message}` : waiting;
    const exit = c.state?.terminated?.exitCode;
    if (exit !== undefined && exit !== 0) return `container ${c.name} exited with code ${exit}`;
  }
  return pod.status?.phase === "Failed" ? "the pod failed" : undefined;
}

export type JobPhase = "running" | "succeeded" | "failed";

export function jobPhase(job: JobObject): JobPhase {
  const holds = (type: string) => job.status?.conditions?.some((c) => c.type === type && c.status === "True");
  if (holds("Complete")) return "succeeded";
  if (holds("Failed")) return "failed";
  return "running";
}

/** The termination message of the Job's pods: the successful one's, else the last failed one's. */
export function jobOutput(job: JobObject, pods: readonly PodObject[]): string | undefined {
  const name = job.metadata?.name;
  const mine = pods.filter(
    (p) =>
      p.metadata?.namespace === job.metadata?.namespace &&
      (p.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? p.metadata?.labels?.["job-name"]) === name,
  );
  const message = (p: PodObject) => p.status?.containerStatuses?.[0]?.state?.terminated?.message;
  const succeeded = mine.find((p) => p.status?.phase === "Succeeded");
  if (succeeded !== undefined) return message(succeeded);
  return mine
    .map(message)
    .filter((m) => m !== undefined && m !== "")
    .at(-1);
}
