// What a GitSource applied, and what may be pruned when a new revision no longer has it. Pure.
//
// Entries are Flux's `<namespace>_<name>_<group>_<kind>` ids (namespace empty for cluster-scoped objects, group
// empty for the core API) plus the apiVersion, as kept in `status.inventory.entries`. Prune = old inventory minus
// new, with guards: nothing is pruned because a revision parsed to nothing, a prune larger than
// `maxPruneFraction` of the inventory waits for `allowLargePrune`, and data-bearing objects go only with their own
// opt-in annotation. The caller must not call planPrune at all after a failed fetch, verification, decryption or
// validation: those revisions never reach this point.

import { GROUP } from "../api/group.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
}

export interface InventoryEntry {
  id: string;
  /** apiVersion the object was applied with. */
  v: string;
}

/** `zitadel-operator.dev/prune: allowed` on an object lets prune delete it even when it holds data. */
export const PRUNE_ANNOTATION = `${GROUP}/prune`;
export const PRUNE_ALLOWED = "allowed";
/** `zitadel-operator.dev/prune: disabled` keeps any object out of prune. */
export const PRUNE_DISABLED = "disabled";

// Deleting these loses data (the database, backups, or everything in a namespace).
const DATA_BEARING = new Set([`${GROUP}_CockroachCluster`, `${GROUP}_Backup`, "_Namespace"]);

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

export function inventoryId(ref: ObjectRef): string {
  return `${ref.namespace ?? ""}_${ref.name}_${groupOf(ref.apiVersion)}_${ref.kind}`;
}

export function inventoryEntry(ref: ObjectRef): InventoryEntry {
  return { id: inventoryId(ref), v: ref.apiVersion };
}

/** The object an entry names; ids never contain "_" in names, namespaces or kinds (DNS names and CamelCase). */
export function parseInventoryEntry(entry: InventoryEntry): ObjectRef & { group: string } {
  const [namespace = "", name = "", group = "", kind = ""] = entry.id.split("_");
  const ref: ObjectRef & { group: string } = { apiVersion: entry.v, kind, name, group };
  if (namespace !== "") ref.namespace = namespace;
  return ref;
}

export function isDataBearing(entry: InventoryEntry): boolean {
  const { group, kind } = parseInventoryEntry(entry);
  return DATA_BEARING.has(`${group}_${kind}`);
}

export interface PrunePolicy {
  /** spec.prune */
  prune: boolean;
  /** spec.maxPruneFraction: the share of the old inventory one revision may remove. */
  maxPruneFraction: number;
  /** An explicit, one-off permission to exceed maxPruneFraction. */
  allowLargePrune: boolean;
}

export type PruneRefusal = "PruneDisabledOnObject" | "DataBearing";

export interface PrunePlan {
  /** Delete these, in this order (the reverse of the apply order). */
  delete: InventoryEntry[];
  /** Stale objects left in place, and why; they stay in the inventory. */
  refused: { entry: InventoryEntry; reason: PruneRefusal; message: string }[];
  /** Set when nothing at all is pruned this time, with a condition-ready reason. */
  blocked?: { reason: "PruneDisabled" | "EmptyRevision" | "PruneTooLarge"; message: string };
  /** What to record as status.inventory.entries once every deletion succeeded; add back any that failed. */
  nextInventory: InventoryEntry[];
}

/**
 * Decides what to prune. `liveAnnotations` gives each stale object's annotations as they are in the cluster
 * (the object is no longer in Git, so its opt-in can only be read there); missing means not found.
 */
export function planPrune(
  oldInventory: readonly InventoryEntry[],
  newInventory: readonly InventoryEntry[],
  policy: PrunePolicy,
  liveAnnotations: ReadonlyMap<string, Readonly<Record<string, string>> | undefined> = new Map(),
): PrunePlan {
  const current = new Set(newInventory.map((e) => e.id));
  const stale = oldInventory.filter((e) => !current.has(e.id));
  const keepAll = (blocked: NonNullable<PrunePlan["blocked"]>, keep: boolean): PrunePlan => ({
    delete: [],
    refused: [],
    blocked,
    // Objects we still own stay tracked, so that a later allowed prune can remove them.
    nextInventory: sortEntries(keep ? [...newInventory, ...stale] : [...newInventory]),
  });

  if (stale.length === 0) return { delete: [], refused: [], nextInventory: sortEntries([...newInventory]) };
  if (!policy.prune) {
    return keepAll(
      { reason: "PruneDisabled", message: `${stale.length} object(s) left in place: spec.prune is false` },
      false,
    );
  }
  if (newInventory.length === 0) {
    return keepAll(
      {
        reason: "EmptyRevision",
        message:
          `the revision has no objects; refusing to prune all ${stale.length} applied object(s) ` +
          "(check spec.path and spec.ref)",
      },
      true,
    );
  }
  const fraction = stale.length / oldInventory.length;
  if (fraction > policy.maxPruneFraction && !policy.allowLargePrune) {
    return keepAll(
      {
        reason: "PruneTooLarge",
        message:
          `pruning would remove ${stale.length} of ${oldInventory.length} applied objects ` +
          `(${Math.round(fraction * 100)}%), more than maxPruneFraction ${policy.maxPruneFraction}; ` +
          "allow it once if intended",
      },
      true,
    );
  }

  const deletions: InventoryEntry[] = [];
  const refused: PrunePlan["refused"] = [];
  for (const entry of stale) {
    const annotation = liveAnnotations.get(entry.id)?.[PRUNE_ANNOTATION];
    if (annotation === PRUNE_DISABLED) {
      refused.push({
        entry,
        reason: "PruneDisabledOnObject",
        message: `${describeEntry(entry)} has ${PRUNE_ANNOTATION}: ${PRUNE_DISABLED}`,
      });
    } else if (isDataBearing(entry) && annotation !== PRUNE_ALLOWED) {
      refused.push({
        entry,
        reason: "DataBearing",
        message:
          `${describeEntry(entry)} holds data and is never pruned without the annotation ` +
          `${PRUNE_ANNOTATION}: ${PRUNE_ALLOWED} on the object`,
      });
    } else {
      deletions.push(entry);
    }
  }
  return {
    delete: sortForDeletion(deletions),
    refused,
    nextInventory: sortEntries([...newInventory, ...refused.map((r) => r.entry)]),
  };
}

/** "CockroachCluster db/crdb" or "Namespace zitadel", for messages. */
export function describeEntry(entry: InventoryEntry): string {
  const { kind, namespace, name } = parseInventoryEntry(entry);
  return `${kind} ${namespace === undefined ? name : `${namespace}/${name}`}`;
}

/** Stable order for status: by id. */
export function sortEntries(entries: InventoryEntry[]): InventoryEntry[] {
  return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// Apply stages, shared with the apply order: dependents first when deleting.
const STAGES: Record<string, number> = {
  _Namespace: 0,
  _Secret: 1,
  _ConfigMap: 1,
  [`${GROUP}_RemoteCluster`]: 2,
  [`${GROUP}_CockroachCluster`]: 3,
  [`${GROUP}_Zitadel`]: 4,
  [`${GROUP}_BackupSchedule`]: 5,
  [`${GROUP}_Backup`]: 5,
  [`${GROUP}_Restore`]: 5,
  [`${GROUP}_GitSource`]: 6,
};

/**
 * The apply stage of a kind: Namespaces, then Secrets and ConfigMaps, RemoteClusters, CockroachClusters,
 * Zitadels, backups and restores, and GitSources last (so a nested source never runs before what it needs).
 */
export function applyStage(group: string, kind: string): number {
  return STAGES[`${group}_${kind}`] ?? 7;
}

function sortForDeletion(entries: InventoryEntry[]): InventoryEntry[] {
  const stage = (e: InventoryEntry) => {
    const { group, kind } = parseInventoryEntry(e);
    return applyStage(group, kind);
  };
  return [...entries].sort((a, b) => stage(b) - stage(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
