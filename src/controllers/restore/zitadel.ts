// Holding a Zitadel still while its database is restored in place, without touching its spec:
//
// 1. hold: one JSON patch adds the annotation zitadel-operator.dev/restore-in-progress: <restore> to the
//    Zitadel. The Zitadel controller then renders its Deployments (ZITADEL and login) with 0 replicas whatever
//    spec.replicas says (src/controllers/zitadel/hold.ts), so a GitSource re-applying spec.replicas or an
//    autoscaler writing the scale subresource cannot bring pods back. We wait until no pod is left.
// 2. the restore Job runs (controller.ts); with a different masterkey, the key is swapped (masterkey.ts).
// 3. setup again: the Zitadel's setup Jobs that finished before the restore are deleted. The Zitadel controller
//    creates the setup Job for its version once more (ZITADEL's init and setup are idempotent and bring a
//    restored database to the running version) and holds the Deployments at 0 until setup succeeded
//    (src/controllers/zitadel/rollout.ts).
// 4. release, once the new setup Job exists: the annotation goes, and the Zitadel gets spec.replicas (as its
//    last writer left it) once setup succeeded. Waiting for the new Job matters: the Zitadel controller creates it
//    only after its cache saw the old one deleted, so it can no longer count the old one as "setup succeeded"
//    and start pods on the restored database before setup ran on it.
import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { parseResource } from "../../api/index.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { names } from "../../render/zitadel/meta.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { COCKROACH_CLUSTER, renderBootstrapJob } from "../zitadel/database-cockroach.ts";
import { RESTORE_HOLD_ANNOTATION } from "../zitadel/hold.ts";

/**
 * Written by operators before the hold became an annotation only: they set spec.replicas to 0 and kept the old
 * count here. Releasing such a hold gives spec.replicas back, as that operator would have.
 */
const LEGACY_REPLICAS_ANNOTATION = "zitadel-operator.dev/replicas-before-restore";

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

/** The Restore holding `zitadel`, if any. */
export function holderOf(zitadel: ZitadelObject): string | undefined {
  return zitadel.metadata?.annotations?.[RESTORE_HOLD_ANNOTATION];
}

/** JSON Pointer escaping of an annotation key. */
const pointer = (key: string) => `/metadata/annotations/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;

// The hold is a lock, so it is taken and given back with a JSON patch that first tests the resourceVersion
// (compare-and-swap), not with server-side apply: two Restores of the same Zitadel must not both believe they
// hold it, and apply with force would let the second silently take it over. It touches only the annotation.

/** Step 1: hold `zitadel` at zero pods for `restore`. */
export async function hold(client: KubeClient, zitadel: ZitadelObject, restore: string): Promise<void> {
  const ops: object[] = [
    { op: "test", path: "/metadata/resourceVersion", value: zitadel.metadata?.resourceVersion },
  ];
  if (zitadel.metadata?.annotations === undefined)
    ops.push({ op: "add", path: "/metadata/annotations", value: {} });
  ops.push({ op: "add", path: pointer(RESTORE_HOLD_ANNOTATION), value: restore });
  await client.jsonPatch(
    ZITADEL_TYPES.zitadel,
    zitadel.metadata?.namespace,
    zitadel.metadata?.name ?? "",
    ops,
  );
}

/** Whether no pod of the Zitadel's Deployments (ZITADEL and login) is left; a missing Deployment has none. */
export async function scaledToZero(
  client: KubeClient,
  zitadel: Zitadel,
  namespace: string,
): Promise<boolean> {
  for (const name of [names.deployment(zitadel), names.login(zitadel)]) {
    const d = await client.get<DeploymentObject>(ZITADEL_TYPES.deployment, namespace, name);
    if (d !== undefined && ((d.spec?.replicas ?? 1) !== 0 || (d.status?.replicas ?? 0) !== 0)) return false;
  }
  return true;
}

const setupSelector = (zitadel: ZitadelObject) =>
  `app.kubernetes.io/instance=${zitadel.metadata?.name},app.kubernetes.io/component=migration`;

/** Step 3: delete the Zitadel's setup Jobs made before `restoredAt`; returns their names. */
export async function rerunSetup(
  client: KubeClient,
  zitadel: ZitadelObject,
  restoredAt: string,
): Promise<string[]> {
  const { items } = await client.list<KubeObject>(ZITADEL_TYPES.job, {
    namespace: zitadel.metadata?.namespace,
    labelSelector: setupSelector(zitadel),
  });
  const stale = items.filter((j) => !madeAfter(j, restoredAt) && !j.metadata?.deletionTimestamp);
  // On CockroachDB the user's settings per database (READ COMMITTED by default, ZITADEL advisory A10009) belong to
  // the database's ID, which a restore replaced: the bootstrap statements run again, before setup.
  const bootstrap = await bootstrapJobOf(client, zitadel);
  if (bootstrap !== undefined && !madeAfter(bootstrap, restoredAt) && !bootstrap.metadata?.deletionTimestamp)
    stale.push(bootstrap);
  for (const job of stale) {
    await client.delete(ZITADEL_TYPES.job, zitadel.metadata?.namespace, job.metadata?.name ?? "", {
      propagationPolicy: "Background",
      ...(job.metadata?.uid ? { uid: job.metadata.uid } : {}),
    });
  }
  return stale.map((j) => j.metadata?.name ?? "");
}

/** The bootstrap SQL Job of a Zitadel on CockroachDB (database-cockroach.ts), if it has one. */
async function bootstrapJobOf(client: KubeClient, zitadel: ZitadelObject): Promise<KubeObject | undefined> {
  const parsed = parseResource(zitadel);
  if (!parsed.ok || parsed.resource.kind !== "Zitadel") return undefined;
  const crdb = (parsed.resource as Zitadel).spec.database.cockroach;
  if (crdb === undefined) return undefined;
  const namespace = zitadel.metadata?.namespace ?? "default";
  const cluster = await client.get<KubeObject>(COCKROACH_CLUSTER, namespace, crdb.clusterRef.name);
  const clusterParsed = cluster === undefined ? undefined : parseResource(cluster);
  if (!clusterParsed?.ok || clusterParsed.resource.kind !== "CockroachCluster") return undefined;
  const name =
    renderBootstrapJob(clusterParsed.resource as CockroachCluster, crdb, namespace).metadata?.name ?? "";
  return client.get<KubeObject>(ZITADEL_TYPES.job, namespace, name);
}

/** creationTimestamp has whole seconds: a Job of the same second as the restore's end counts as after it. */
function madeAfter(job: KubeObject, restoredAt: string): boolean {
  return (job.metadata?.creationTimestamp ?? "") >= restoredAt.replace(/\.\d+Z$/, "Z");
}

/** The setup Jobs made after the restore: `exists` once one is there, `succeeded` once one succeeded. */
export async function setupAfter(
  client: KubeClient,
  zitadel: ZitadelObject,
  restoredAt: string,
): Promise<{ exists: boolean; succeeded: boolean }> {
  const { items } = await client.list<KubeObject & { status?: { succeeded?: number } }>(ZITADEL_TYPES.job, {
    namespace: zitadel.metadata?.namespace,
    labelSelector: setupSelector(zitadel),
  });
  const fresh = items.filter((j) => !j.metadata?.deletionTimestamp && madeAfter(j, restoredAt));
  return { exists: fresh.length > 0, succeeded: fresh.some((j) => (j.status?.succeeded ?? 0) > 0) };
}

/** Step 4: release the Zitadel. Its spec is not touched (but for a hold taken by an older operator, see above). */
export async function release(client: KubeClient, zitadel: ZitadelObject): Promise<void> {
  const annotations = zitadel.metadata?.annotations ?? {};
  const ops: object[] = [
    { op: "test", path: "/metadata/resourceVersion", value: zitadel.metadata?.resourceVersion },
    { op: "remove", path: pointer(RESTORE_HOLD_ANNOTATION) },
  ];
  const legacy = annotations[LEGACY_REPLICAS_ANNOTATION];
  if (legacy !== undefined) {
    const replicas = Number(legacy);
    ops.push({ op: "remove", path: pointer(LEGACY_REPLICAS_ANNOTATION) });
    if (Number.isInteger(replicas) && replicas >= 0 && zitadel.spec?.replicas === 0)
      ops.push({ op: "replace", path: "/spec/replicas", value: replicas });
  }
  await client.jsonPatch(
    ZITADEL_TYPES.zitadel,
    zitadel.metadata?.namespace,
    zitadel.metadata?.name ?? "",
    ops,
  );
}

/** Whether the Zitadel serves again: Ready=True for its current generation. */
export function zitadelReady(zitadel: ZitadelObject): boolean {
  const ready = zitadel.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "True" && ready.observedGeneration === zitadel.metadata?.generation;
}
