// A Zitadel held by a Restore. An in-place restore must keep every ZITADEL pod away from the database it
// replaces, but spec.replicas is not the restore's to write: a GitSource re-applies it from Git, an autoscaler
// sets it through the scale subresource, and either would bring pods back onto a half-restored database. So the
// hold is one annotation naming the Restore; while it is there this controller renders every Deployment of the
// Zitadel with 0 replicas whatever spec.replicas says, generates no Secret (the Restore may be replacing the
// masterkey's), and says so in its status. Removing the annotation releases it: spec.replicas, as whoever wrote it
// last left it, applies again once setup has run (rollout.ts holds Deployments until it has).
import type { KubeObject } from "../../runtime/kube.ts";

/** The annotation whose value is the name of the Restore holding the Zitadel at zero pods. */
export const RESTORE_HOLD_ANNOTATION = "zitadel-operator.dev/restore-in-progress";

/** The Restore holding `zitadel`, or undefined. */
export function heldBy(zitadel: KubeObject): string | undefined {
  const holder = zitadel.metadata?.annotations?.[RESTORE_HOLD_ANNOTATION];
  return holder === undefined || holder === "" ? undefined : holder;
}

/** `objects` as they are applied while held: every Deployment at 0 replicas, everything else unchanged. */
export function withoutPods(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o) =>
    o.kind === "Deployment" ? { ...o, spec: { ...(o.spec as Record<string, unknown>), replicas: 0 } } : o,
  );
}

/** The condition-ready words for a held Zitadel. */
export function heldMessage(restore: string, replicas: number): string {
  return (
    `Restore ${restore} holds this Zitadel at 0 pods while it restores the database in place; ` +
    `spec.replicas (${replicas}) applies again once the restore released it and setup ran (the Restore removes ` +
    `the annotation ${RESTORE_HOLD_ANNOTATION}; remove it by hand only if that Restore is gone)`
  );
}
