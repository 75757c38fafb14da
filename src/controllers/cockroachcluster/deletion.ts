// Deleting a CockroachCluster. Its children in this Kubernetes cluster have owner references and go with it
// (garbage collection); what holds data does not: the CA Secret has no owner reference, and the volumes follow
// spec.storage.retainPolicy (the StatefulSet's persistentVolumeClaimRetentionPolicy: Retain keeps them). The
// finalizer is there so the operator can say, in Events, what stayed and what goes, before the object is gone.
import type { CockroachCluster } from "../../api/index.ts";
import { caSecretName } from "../../pki/index.ts";
import { LABEL } from "../../render/cockroach/meta.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import { removeFinalizer } from "../../runtime/finalizers.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { PVC } from "./kinds.ts";

export async function reconcileDeletion(opts: {
  object: KubeObject;
  /** The parsed spec; undefined when the spec no longer validates (then the safe defaults apply: keep). */
  cluster: CockroachCluster | undefined;
  client: KubeClient;
  events: EventRecorder;
}): Promise<void> {
  const { object, client, events } = opts;
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace;
  // Claims are not in the controller's cache (they are the StatefulSet's, not ours): one list, once.
  const claims = await client.list(PVC, { namespace, labelSelector: `${LABEL.cluster}=${name}` });
  const names = claims.items.map((c) => c.metadata?.name).filter((n) => n !== undefined);
  const retain = (opts.cluster?.spec.storage.retainPolicy ?? "Retain") === "Retain";
  if (names.length > 0)
    await events.record(object, {
      type: "Normal",
      reason: retain ? "VolumesKept" : "VolumesDeleted",
      action: "Delete",
      note: retain
        ? `PersistentVolumeClaims ${names.join(", ")} are kept with their data (storage.retainPolicy: Retain); delete them yourself when no longer needed`
        : `PersistentVolumeClaims ${names.join(", ")} are deleted with the StatefulSet (storage.retainPolicy: Delete)`,
    });
  if (opts.cluster?.spec.tls.caSecretRef === undefined)
    await events.record(object, {
      type: "Normal",
      reason: "CAKept",
      action: "Delete",
      note: `the CA Secret ${caSecretName(name)} is kept: clients and backups made under it still trust it; delete it yourself when no longer needed`,
    });
  await removeFinalizer(client, object);
}
