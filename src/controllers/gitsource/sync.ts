// The two writing steps of a GitSource sync: apply the objects of a revision, then prune what left Git.
//
// Apply: stage by stage in apply order (objects within a stage in parallel), each object is first server-side
// applied as a DRY RUN with the source's own field manager and compared with the live object; only an object
// that would be created or would change is really applied. So the steady state writes nothing, and a field someone changed by hand shows up as a change and is
// set back. Fields are named, values never (a Secret's diff is `data.password`, nothing more).
//
// The per-commit annotations (revision, author) are left out of that comparison (gitops/diff.ts): they record the
// commit that last CHANGED an object, written with that change, not the latest commit of the branch, which would
// cost one write per object per commit and make every commit look like a change of everything.
//
// Prune: stale = old inventory minus new (gitops/inventory.ts planPrune, with its guards); each stale object is
// deleted only while it still carries this source's label, with its uid as a precondition; a delete that fails
// keeps the object in the inventory, so the next sync tries again instead of forgetting it.

import { changedFields } from "../../gitops/diff.ts";
import {
  describeEntry,
  type InventoryEntry,
  type PrunePlan,
  type PrunePolicy,
  parseInventoryEntry,
  planPrune,
} from "../../gitops/inventory.ts";
import { GITSOURCE_LABEL, type ManifestObject, sourceLabelValue } from "../../gitops/manifests.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";

export interface AppliedObject {
  manifest: ManifestObject;
  action: "created" | "changed" | "unchanged";
  /** For "changed": the field paths that changed. */
  fields: string[];
}

export type ApplyResult =
  | { ok: true; objects: AppliedObject[] }
  | { ok: false; objects: AppliedObject[]; failed: ManifestObject; message: string };

/** The field manager of one GitSource: who set a field is visible in managedFields, per source. */
export function fieldManagerOf(source: { namespace: string; name: string }): string {
  return `gitsource/${source.namespace}/${source.name}`.slice(0, 128);
}

export function describeObject(object: KubeObject): string {
  const { kind, metadata } = object;
  return `${kind} ${metadata?.namespace ? `${metadata.namespace}/` : ""}${metadata?.name}`;
}

/** Objects of one stage applied at the same time; stages (Namespaces, Secrets, ... GitSources) go in order. */
const APPLY_CONCURRENCY = 8;

/**
 * Applies what differs, stage by stage (objects of one stage do not depend on each other, so they go in
 * parallel); stops after the first stage with an object the API server refuses, since later stages may need it.
 */
export async function applyObjects(
  client: KubeClient,
  objects: readonly ManifestObject[],
  fieldManager: string,
): Promise<ApplyResult> {
  const done: AppliedObject[] = [];
  const stages = new Map<number, ManifestObject[]>();
  for (const o of objects) stages.set(o.stage, [...(stages.get(o.stage) ?? []), o]);
  for (const stage of [...stages.keys()].sort((a, b) => a - b)) {
    const members = stages.get(stage) ?? [];
    const labelled = await listLabelled(client, members);
    const results = await mapLimited(members, APPLY_CONCURRENCY, (m) =>
      applyOne(client, m, fieldManager, labelled.get(objectKey(m.object))),
    );
    let failure: { manifest: ManifestObject; message: string } | undefined;
    results.forEach((result, i) => {
      const manifest = members[i] as ManifestObject;
      if ("error" in result) {
        failure ??= {
          manifest,
          message: `${describeObject(manifest.object)} (${manifest.file}) was not applied: ${result.error}`,
        };
      } else {
        done.push(result);
      }
    });
    if (failure !== undefined)
      return { ok: false, objects: done, failed: failure.manifest, message: failure.message };
  }
  return { ok: true, objects: done };
}

async function applyOne(
  client: KubeClient,
  manifest: ManifestObject,
  fieldManager: string,
  listed: KubeObject | undefined,
): Promise<AppliedObject | { error: string }> {
  const desired = manifest.object;
  try {
    const type = await client.resourceType(desired.apiVersion ?? "", desired.kind ?? "");
    const live =
      listed ??
      (await client.get<KubeObject>(
        type,
        type.namespaced ? desired.metadata?.namespace : undefined,
        desired.metadata?.name ?? "",
      ));
    if (live === undefined) {
      await client.apply(desired, { fieldManager });
      return { manifest, action: "created", fields: [] };
    }
    const dryRun = await client.apply<KubeObject>(desired, { fieldManager, dryRun: true });
    const fields = changedFields(live, dryRun);
    if (fields.length === 0) return { manifest, action: "unchanged", fields };
    await client.apply(desired, { fieldManager });
    return { manifest, action: "changed", fields };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function objectKey(o: KubeObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
}

/**
 * The live objects of a stage that already carry this source's label, one list per kind and namespace instead
 * of a get per object. Whatever is not found here (new, or not labelled yet) is read one by one; a list that
 * fails only costs those gets.
 */
async function listLabelled(
  client: KubeClient,
  members: readonly ManifestObject[],
): Promise<Map<string, KubeObject>> {
  const found = new Map<string, KubeObject>();
  const groups = new Map<
    string,
    { apiVersion: string; kind: string; namespace?: string; selector: string }
  >();
  for (const { object } of members) {
    const selector = object.metadata?.labels?.[GITSOURCE_LABEL];
    if (selector === undefined) continue;
    const group = { apiVersion: object.apiVersion ?? "", kind: object.kind ?? "", selector };
    const namespace = object.metadata?.namespace;
    groups.set(
      `${group.apiVersion}/${group.kind}/${namespace ?? ""}`,
      namespace ? { ...group, namespace } : group,
    );
  }
  for (const group of groups.values()) {
    try {
      const type = await client.resourceType(group.apiVersion, group.kind);
      const { items } = await client.list<KubeObject>(type, {
        ...(type.namespaced && group.namespace ? { namespace: group.namespace } : {}),
        labelSelector: `${GITSOURCE_LABEL}=${group.selector}`,
      });
      for (const item of items) found.set(objectKey(item), item);
    } catch {
      // Read one by one instead.
    }
  }
  return found;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface PruneResult {
  plan: PrunePlan;
  deleted: InventoryEntry[];
  /** Deletions the API server refused, with why; they stay in the inventory. */
  failed: { entry: InventoryEntry; message: string }[];
  /** status.inventory.entries after this prune. */
  inventory: InventoryEntry[];
}

/** Plans the prune against the live objects' opt-in annotations, then deletes what the plan allows. */
export async function pruneStale(
  client: KubeClient,
  source: { namespace: string; name: string },
  oldInventory: readonly InventoryEntry[],
  newInventory: readonly InventoryEntry[],
  policy: PrunePolicy,
): Promise<PruneResult> {
  const current = new Set(newInventory.map((e) => e.id));
  const live = new Map<string, KubeObject | undefined>();
  const unreadable = new Map<string, string>();
  for (const entry of oldInventory.filter((e) => !current.has(e.id))) {
    try {
      live.set(entry.id, await getEntry(client, entry));
    } catch (err) {
      unreadable.set(entry.id, err instanceof Error ? err.message : String(err));
    }
  }
  // An object we could not read keeps no opt-in: data-bearing ones are refused, others fail below and stay.
  const annotations = new Map([...live].map(([id, obj]) => [id, obj?.metadata?.annotations ?? {}] as const));
  const plan = planPrune(oldInventory, newInventory, policy, annotations);

  const label = sourceLabelValue(source);
  const deleted: InventoryEntry[] = [];
  const failed: PruneResult["failed"] = [];
  for (const entry of plan.delete) {
    const cannotRead = unreadable.get(entry.id);
    if (cannotRead !== undefined) {
      failed.push({ entry, message: `${describeEntry(entry)}: ${cannotRead}` });
      continue;
    }
    const obj = live.get(entry.id);
    // Gone already, or someone else's now: nothing of ours to delete.
    if (obj === undefined || obj.metadata?.labels?.[GITSOURCE_LABEL] !== label) continue;
    try {
      const ref = parseInventoryEntry(entry);
      const type = await client.resourceType(ref.apiVersion, ref.kind);
      await client.delete(type, ref.namespace, ref.name, {
        propagationPolicy: "Background",
        uid: obj.metadata?.uid,
      });
      deleted.push(entry);
    } catch (err) {
      failed.push({
        entry,
        message: `${describeEntry(entry)}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  return {
    plan,
    deleted,
    failed,
    inventory: [...plan.nextInventory, ...failed.map((f) => f.entry)].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    ),
  };
}

async function getEntry(client: KubeClient, entry: InventoryEntry): Promise<KubeObject | undefined> {
  const ref = parseInventoryEntry(entry);
  const type = await client.resourceType(ref.apiVersion, ref.kind);
  return client.get<KubeObject>(type, type.namespaced ? ref.namespace : undefined, ref.name);
}
