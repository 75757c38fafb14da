// Conditions, status writes and the "does this need applying" test that keeps the steady state free of writes.
import type { Condition } from "../api/conditions.ts";
import type { KubeClient, KubeObject } from "./kube.ts";

export type ConditionInput = Pick<Condition, "type" | "status" | "reason" | "message">;

/**
 * Sets a condition in a list of conditions (a new list; the input is not changed). lastTransitionTime moves
 * only when the status changes, as kstatus and `kubectl wait` expect; reason, message and observedGeneration
 * follow the latest reconcile.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const previous = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...input,
    message: input.message.slice(0, 32768),
    lastTransitionTime:
      previous && previous.status === input.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, "Z"),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Applies `status` to the status subresource of `obj` with server-side apply, unless the live status is
 * already exactly that. Returns whether it wrote. We own the whole status of our kinds, so equality is exact.
 */
export async function applyStatus(
  client: KubeClient,
  obj: KubeObject,
  status: Record<string, unknown>,
): Promise<boolean> {
  if (semanticallyEqual(obj.status, status)) return false;
  await client.apply(
    {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata?.name, namespace: obj.metadata?.namespace },
      status,
    },
    { subresource: "status" },
  );
  return true;
}

/**
 * Whether `desired` (what we render) is not yet what the cluster has: true when the object is missing or any
 * field we set differs. Fields the API server or other managers added are ignored, so an object we applied
 * before compares as up to date (zero writes at steady state) while a field someone changed by hand does not
 * (drift is set back on the next reconcile).
 */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  if (!live) return true;
  const { metadata: dm, ...dRest } = desired;
  const { metadata: lm, ...lRest } = live;
  const metaSubset = {
    labels: dm?.labels ?? {},
    annotations: dm?.annotations ?? {},
    ownerReferences: dm?.ownerReferences,
  };
  const liveMeta = {
    labels: lm?.labels ?? {},
    annotations: lm?.annotations ?? {},
    ownerReferences: lm?.ownerReferences,
  };
  return !isSubset(metaSubset, liveMeta) || !isSubset(dRest, lRest);
}

/** Every field of `want` is in `have` with the same value; lists must have the same length. */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === undefined) return true;
  if (want === null || typeof want !== "object") {
    // The API server returns numbers where we may have written numeric strings and vice versa (ports, quantities).
    return want === have || (have !== undefined && have !== null && String(want) === String(have));
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) return false;
    return want.every((w, i) => isSubset(w, have[i]));
  }
  if (have === null || typeof have !== "object" || Array.isArray(have)) return false;
  const h = have as Record<string, unknown>;
  return Object.entries(want as Record<string, unknown>).every(([k, v]) => isSubset(v, h[k]));
}

/** Deep equality of JSON values, independent of key order; undefined fields count as absent. */
export function semanticallyEqual(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)))
      : v,
  );
}
