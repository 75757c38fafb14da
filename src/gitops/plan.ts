// What a sync of a revision would do, without doing it: for `zitadel-operator plan`.
//
// Without a cluster: the objects in apply order. With one: each object is server-side applied as a DRY RUN (the
// API server validates, defaults and merges exactly as a real apply would, nothing is stored) and compared with
// the live object; stale objects of the source's inventory are run through the same prune guards as a sync.

import { API_VERSION } from "../api/group.ts";
import { ApiError, isNotFound, type KubeClient, type KubeObject } from "../runtime/kube.ts";
import { changedFields } from "./diff.ts";
import {
  describeEntry,
  type InventoryEntry,
  inventoryEntry,
  type PrunePlan,
  type PrunePolicy,
  parseInventoryEntry,
  planPrune,
} from "./inventory.ts";
import {
  describeProblem,
  GITSOURCE_LABEL,
  type ManifestObject,
  type ManifestProblem,
  markAsApplied,
  type SourceRevision,
  sourceLabelValue,
} from "./manifests.ts";

export type PlannedAction = "create" | "change" | "unchanged" | "error";

export interface PlannedObject {
  manifest: ManifestObject;
  action?: PlannedAction;
  /** For "change": the fields that would change (paths only, never values). */
  fields?: string[];
  /** For "error": what the API server said. */
  error?: string;
}

export interface SyncPlan {
  objects: PlannedObject[];
  problems: ManifestProblem[];
  prune?: PrunePlan;
  /** Where the old inventory came from, for the reader. */
  inventorySource?: string;
}

// Kinds a GitSource may apply, for finding what it applied when it has no inventory in status.
const APPLIED_KINDS: { apiVersion: string; kind: string }[] = [
  { apiVersion: "v1", kind: "Namespace" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "v1", kind: "ConfigMap" },
  ...["RemoteCluster", "CockroachCluster", "Zitadel", "BackupSchedule", "Backup", "Restore", "GitSource"].map(
    (kind) => ({ apiVersion: API_VERSION, kind }),
  ),
];

/** Dry-run applies every object and diffs it with the live one; then plans the prune. Writes nothing. */
export async function planAgainstCluster(
  client: KubeClient,
  objects: readonly ManifestObject[],
  from: SourceRevision,
): Promise<SyncPlan> {
  const planned: PlannedObject[] = [];
  const newNamespaces = new Set<string>();
  for (const manifest of objects) {
    const desired = markAsApplied(manifest.object, from);
    const { apiVersion = "", kind = "", metadata = {} } = desired;
    try {
      const type = await client.resourceType(apiVersion, kind);
      const live = await client.get<KubeObject>(
        type,
        type.namespaced ? metadata.namespace : undefined,
        metadata.name ?? "",
      );
      if (live === undefined && kind === "Namespace" && apiVersion === "v1")
        newNamespaces.add(metadata.name ?? "");
      if (live === undefined && metadata.namespace !== undefined && newNamespaces.has(metadata.namespace)) {
        // Its namespace is created by this same sync, so the API server cannot dry-run it yet.
        planned.push({ manifest, action: "create" });
        continue;
      }
      const result = await client.apply<KubeObject>(desired, { dryRun: true });
      if (live === undefined) {
        planned.push({ manifest, action: "create" });
      } else {
        const fields = changedFields(live, result);
        planned.push(
          fields.length === 0 ? { manifest, action: "unchanged" } : { manifest, action: "change", fields },
        );
      }
    } catch (err) {
      planned.push({ manifest, action: "error", error: err instanceof Error ? err.message : String(err) });
    }
  }

  const { inventory, policy, source } = await previousInventory(client, from.source);
  const stale = inventory.filter((e) => !objects.some((o) => o.entry.id === e.id));
  const annotations = new Map<string, Record<string, string> | undefined>();
  for (const entry of stale) {
    const ref = parseInventoryEntry(entry);
    try {
      const type = await client.resourceType(ref.apiVersion, ref.kind);
      const live = await client.get<KubeObject>(type, ref.namespace, ref.name);
      annotations.set(entry.id, live?.metadata?.annotations ?? {});
    } catch {
      annotations.set(entry.id, undefined);
    }
  }
  const prune = planPrune(
    inventory,
    objects.map((o) => o.entry),
    policy,
    annotations,
  );
  return { objects: planned, problems: [], prune, inventorySource: source };
}

async function previousInventory(
  client: KubeClient,
  source: { namespace: string; name: string },
): Promise<{ inventory: InventoryEntry[]; policy: PrunePolicy; source: string }> {
  const type = await client.resourceType(API_VERSION, "GitSource").catch(() => undefined);
  const gitSource =
    type === undefined
      ? undefined
      : await client.get<KubeObject>(type, source.namespace, source.name).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
  const spec = gitSource?.spec as { prune?: boolean; maxPruneFraction?: number } | undefined;
  const status = gitSource?.status as { inventory?: { entries?: InventoryEntry[] } } | undefined;
  const policy: PrunePolicy = {
    // Without a GitSource in the cluster, show what a source with prune enabled would do.
    prune: spec?.prune ?? true,
    maxPruneFraction: spec?.maxPruneFraction ?? 0.5,
    allowLargePrune: false,
  };
  const name = `GitSource ${source.namespace}/${source.name}`;
  if (status?.inventory?.entries !== undefined) {
    return { inventory: status.inventory.entries, policy, source: `status.inventory of ${name}` };
  }
  // No inventory yet: whatever carries the source's label.
  const inventory: InventoryEntry[] = [];
  const selector = `${GITSOURCE_LABEL}=${sourceLabelValue(source)}`;
  for (const { apiVersion, kind } of APPLIED_KINDS) {
    const kindType = await client.resourceType(apiVersion, kind).catch(() => undefined);
    if (kindType === undefined) continue;
    const list = await retryWhileBusy(() => client.list<KubeObject>(kindType, { labelSelector: selector }));
    for (const item of list.items) {
      inventory.push(
        inventoryEntry({
          apiVersion,
          kind,
          name: item.metadata?.name ?? "",
          namespace: item.metadata?.namespace,
        }),
      );
    }
  }
  return { inventory, policy, source: `objects labelled ${selector}` };
}

// A fresh CRD's watch cache answers 429 "storage is (re)initializing" to cluster-wide lists for a few seconds.
async function retryWhileBusy<T>(call: () => Promise<T>, attempts = 30): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const busy = err instanceof ApiError && (err.status === 429 || err.status === 503);
      if (!busy || attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function describeManifest(m: ManifestObject): string {
  const { kind, metadata } = m.object;
  const name = metadata?.namespace === undefined ? metadata?.name : `${metadata.namespace}/${metadata.name}`;
  return `${kind} ${name}${m.encrypted ? " (SOPS)" : ""}`;
}

/** The plan as text for a terminal: apply order with actions, prune decisions, and problems. */
export function formatPlan(plan: SyncPlan): string {
  const lines: string[] = [];
  if (plan.problems.length > 0) {
    lines.push(`${plan.problems.length} problem(s); this revision would not be applied at all:`);
    for (const problem of plan.problems) lines.push(`  ${describeProblem(problem)}`);
    return `${lines.join("\n")}\n`;
  }
  lines.push(`apply, in this order (${plan.objects.length} object(s)):`);
  const width = Math.max(0, ...plan.objects.map((p) => describeManifest(p.manifest).length));
  plan.objects.forEach((p, i) => {
    const what = describeManifest(p.manifest).padEnd(width);
    const from = `${p.manifest.file}:${p.manifest.index}`;
    let action = "";
    if (p.action === "change") action = `change: ${(p.fields ?? []).join(", ")}`;
    else if (p.action === "error") action = `error: ${p.error}`;
    else if (p.action !== undefined) action = p.action;
    lines.push(`  ${String(i + 1).padStart(3)}. ${what}  ${action ? `${action}  ` : ""}(${from})`.trimEnd());
  });
  if (plan.prune !== undefined) {
    lines.push("", `prune (old inventory: ${plan.inventorySource ?? "unknown"}):`);
    const prune = plan.prune;
    if (prune.blocked) lines.push(`  nothing is pruned: ${prune.blocked.reason}: ${prune.blocked.message}`);
    for (const entry of prune.delete) lines.push(`  delete  ${describeEntry(entry)}`);
    for (const refusal of prune.refused)
      lines.push(`  keep    ${describeEntry(refusal.entry)}: ${refusal.message}`);
    if (!prune.blocked && prune.delete.length === 0 && prune.refused.length === 0)
      lines.push("  nothing to prune");
  }
  return `${lines.join("\n")}\n`;
}
