// Pausing: with the annotation zitadel-operator.dev/paused: "true" the operator leaves the cluster and everything
// it owns alone (for maintenance by hand), and says so in a Paused condition. Deletion still goes through, so a
// paused cluster can be removed. Removing the annotation resumes reconciling where the cluster stands.
import { GROUP } from "../../api/group.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { KubeClient } from "../../runtime/kube.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import type { WithStatus } from "../spec.ts";

export const PAUSED_ANNOTATION = `${GROUP}/paused`;

export function isPaused(object: WithStatus): boolean {
  return object.metadata?.annotations?.[PAUSED_ANNOTATION] === "true";
}

export async function reportPaused(client: KubeClient, events: EventRecorder, object: WithStatus, now: Date) {
  const message = `the operator leaves this cluster alone while the annotation ${PAUSED_ANNOTATION} is "true"`;
  const conditions = setCondition(
    object.status?.conditions,
    { type: "Paused", status: "True", reason: "Paused", message },
    object.metadata?.generation,
    now,
  );
  if (await applyStatus(client, object, { ...object.status, conditions }))
    await events.record(object, { type: "Normal", reason: "Paused", action: "Pause", note: message });
}

export const NOT_PAUSED = {
  type: "Paused",
  status: "False",
  reason: "Reconciling",
  message: `the operator reconciles this cluster; annotate it with ${PAUSED_ANNOTATION}: "true" to pause`,
} as const;
