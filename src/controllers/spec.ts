// The second layer of validation, shared by every controller: the API server rejects what the CRD schema can
// say; parseResource also checks what it cannot (rules that need code). A spec that fails is reported as
// Ready=False with reason InvalidSpec and a message naming the field, and as a Warning Event; the object is
// then left alone until it changes (a new generation brings a new reconcile).

import type { Condition } from "../api/conditions.ts";
import { describeIssues, parseResource, type Resource } from "../api/index.ts";
import type { EventRecorder } from "../runtime/events.ts";
import type { KubeClient, KubeObject } from "../runtime/kube.ts";
import { applyStatus, setCondition } from "../runtime/status.ts";

export interface WithStatus extends KubeObject {
  status?: { observedGeneration?: number; conditions?: Condition[]; [field: string]: unknown };
}

export const INVALID_SPEC = "InvalidSpec";

/** The parsed, defaulted resource, or undefined after reporting why the spec is invalid. */
export async function validSpecOrReport(
  client: KubeClient,
  events: EventRecorder,
  obj: WithStatus,
  now = new Date(),
): Promise<Resource | undefined> {
  const parsed = parseResource(obj);
  if (parsed.ok) return parsed.resource;
  const message = `the spec is invalid: ${describeIssues(parsed.issues)}`;
  const conditions = setCondition(
    obj.status?.conditions,
    { type: "Ready", status: "False", reason: INVALID_SPEC, message },
    obj.metadata?.generation,
    now,
  );
  const wrote = await applyStatus(client, obj, {
    ...obj.status,
    observedGeneration: obj.metadata?.generation,
    conditions,
  });
  if (wrote)
    await events.record(obj, { type: "Warning", reason: INVALID_SPEC, action: "Validate", note: message });
  return undefined;
}
