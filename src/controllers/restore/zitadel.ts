// Holding a Zitadel still while its database is restored in place, through nothing but the Zitadel's own API:
//
// 1. scale down: one JSON patch on the Zitadel sets spec.replicas to 0 and records, in two annotations, which
//    Restore holds it and how many replicas it had (so a restarted operator knows both). The Zitadel controller
//    renders the Deployment with 0 replicas; we wait until no pod is left.
// 2. the restore Job runs (controller.ts).
// 3. setup again: the Zitadel's setup Jobs that finished before the restore are deleted. The Zitadel controller
//    then creates the setup Job for its version once more (ZITADEL's init and setup are idempotent and bring a
//    restored database to the running version) and holds the Deployment as it is, at 0, until setup succeeded
//    (src/controllers/zitadel/rollout.ts).
// 4. scale up: spec.replicas goes back to the recorded number and the annotations go. The Deployment moves only
//    once setup succeeded, so no pod ever serves a half-restored or un-migrated database.
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";

export const RESTORE_ANNOTATION = {
  /** The Restore (name) that holds this Zitadel at zero replicas. */
  holder: "zitadel-operator.dev/restore-in-progress",
  /** spec.replicas before the restore scaled it down. */
  replicas: "zitadel-operator.dev/replicas-before-restore",
} as const;

export const ZITADEL_TYPES = {
  zitadel: {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    plural: "zitadels",
    namespaced: true,
  },
  deployment: { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
};

export type ZitadelObject = KubeObject & {
  spec?: { replicas?: number };
  status?: { conditions?: { type: string; status: string; observedGeneration?: number }[] };
};

type DeploymentObject = KubeObject & {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; observedGeneration?: number };
};

/** JSON Pointer escaping of an annotation key. */
const pointer = (key: string) => `/metadata/annotations/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;

/** Step 1: hold `zitadel` at zero replicas for `restore`, atomically with the record of how many it had. */
export async function scaleDown(
  client: KubeClient,
  zitadel: ZitadelObject,
  restore: string,
): Promise<number> {
  const replicas = zitadel.spec?.replicas ?? 1;
  const ops: object[] = [
    { op: "test", path: "/metadata/resourceVersion", value: zitadel.metadata?.resourceVersion },
  ];
  if (zitadel.metadata?.annotations === undefined)
    ops.push({ op: "add", path: "/metadata/annotations", value: {} });
  ops.push(
    { op: "add", path: pointer(RESTORE_ANNOTATION.holder), value: restore },
    { op: "add", path: pointer(RESTORE_ANNOTATION.replicas), value: String(replicas) },
    { op: "add", path: "/spec/replicas", value: 0 },
  );
  await client.jsonPatch(
    ZITADEL_TYPES.zitadel,
    zitadel.metadata?.namespace,
    zitadel.metadata?.name ?? "",
    ops,
  );
  return replicas;
}

/** Whether no ZITADEL pod of the Deployment is left (a missing Deployment has none). */
export async function scaledToZero(client: KubeClient, zitadel: ZitadelObject): Promise<boolean> {
  const d = await client.get<DeploymentObject>(
    ZITADEL_TYPES.deployment,
    zitadel.metadata?.namespace,
    zitadel.metadata?.name ?? "",
  );
  return d === undefined || ((d.spec?.replicas ?? 0) === 0 && (d.status?.replicas ?? 0) === 0);
}

/** Step 3: delete the Zitadel's setup Jobs that finished before `restoredAt`; returns their names. */
export async function rerunSetup(
  client: KubeClient,
  zitadel: ZitadelObject,
  restoredAt: string,
): Promise<string[]> {
  const { items } = await client.list<KubeObject & { status?: { completionTime?: string } }>(
    ZITADEL_TYPES.job,
    {
      namespace: zitadel.metadata?.namespace,
      labelSelector: `app.kubernetes.io/instance=${zitadel.metadata?.name},app.kubernetes.io/component=migration`,
    },
  );
  const stale = items.filter(
    (j) => (j.metadata?.creationTimestamp ?? "") < restoredAt && !j.metadata?.deletionTimestamp,
  );
  for (const job of stale) {
    await client.delete(ZITADEL_TYPES.job, zitadel.metadata?.namespace, job.metadata?.name ?? "", {
      propagationPolicy: "Background",
      ...(job.metadata?.uid ? { uid: job.metadata.uid } : {}),
    });
  }
  return stale.map((j) => j.metadata?.name ?? "");
}

/** Step 4: give the Zitadel its replicas back and release it. */
export async function scaleUp(client: KubeClient, zitadel: ZitadelObject): Promise<number> {
  const replicas = Number(zitadel.metadata?.annotations?.[RESTORE_ANNOTATION.replicas] ?? "1");
  await client.jsonPatch(ZITADEL_TYPES.zitadel, zitadel.metadata?.namespace, zitadel.metadata?.name ?? "", [
    { op: "test", path: "/metadata/resourceVersion", value: zitadel.metadata?.resourceVersion },
    { op: "replace", path: "/spec/replicas", value: Number.isInteger(replicas) ? replicas : 1 },
    { op: "remove", path: pointer(RESTORE_ANNOTATION.holder) },
    { op: "remove", path: pointer(RESTORE_ANNOTATION.replicas) },
  ]);
  return replicas;
}

/** Whether the Zitadel serves again: Ready=True for its current generation. */
export function zitadelReady(zitadel: ZitadelObject): boolean {
  const ready = zitadel.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "True" && ready.observedGeneration === zitadel.metadata?.generation;
}
