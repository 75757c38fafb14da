// Finalizers on our primary objects, added and removed with a JSON patch that first tests the resourceVersion
// we read: the list we write is derived from exactly that version, so nobody else's finalizer is ever dropped,
// and a concurrent change makes the patch fail (409/422) and the next reconcile try again.
// Not server-side apply: applying to an object that was deleted meanwhile would create it again.
import type { KubeClient, KubeObject } from "./kube.ts";

export const FINALIZER = "zitadel-operator.dev/cleanup";

export function hasFinalizer(obj: KubeObject, name = FINALIZER): boolean {
  return obj.metadata?.finalizers?.includes(name) ?? false;
}

export async function addFinalizer(client: KubeClient, obj: KubeObject, name = FINALIZER): Promise<void> {
  if (hasFinalizer(obj, name)) return;
  await patchFinalizers(client, obj, [...(obj.metadata?.finalizers ?? []), name]);
}

export async function removeFinalizer(client: KubeClient, obj: KubeObject, name = FINALIZER): Promise<void> {
  if (!hasFinalizer(obj, name)) return;
  await patchFinalizers(
    client,
    obj,
    (obj.metadata?.finalizers ?? []).filter((f) => f !== name),
  );
}

async function patchFinalizers(client: KubeClient, obj: KubeObject, finalizers: string[]): Promise<void> {
  const type = await client.resourceType(obj.apiVersion ?? "", obj.kind ?? "");
  await client.jsonPatch(type, obj.metadata?.namespace, obj.metadata?.name ?? "", [
    { op: "test", path: "/metadata/resourceVersion", value: obj.metadata?.resourceVersion },
    { op: "add", path: "/metadata/finalizers", value: finalizers },
  ]);
}
