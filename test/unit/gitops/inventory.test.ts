import { describe, expect, it } from "vitest";
import {
  type InventoryEntry,
  inventoryEntry,
  inventoryId,
  PRUNE_ANNOTATION,
  parseInventoryEntry,
  planPrune,
} from "../../../src/gitops/inventory.ts";

const API = "zitadel-operator.dev/v1alpha1";
const zitadel = (name: string) =>
  inventoryEntry({ apiVersion: API, kind: "Zitadel", name, namespace: "iam" });
const secret = (name: string) => inventoryEntry({ apiVersion: "v1", kind: "Secret", name, namespace: "iam" });
const cluster = inventoryEntry({ apiVersion: API, kind: "CockroachCluster", name: "crdb", namespace: "iam" });
const backup = inventoryEntry({ apiVersion: API, kind: "Backup", name: "nightly-1", namespace: "iam" });
const namespace = inventoryEntry({ apiVersion: "v1", kind: "Namespace", name: "iam" });
const ids = (entries: readonly InventoryEntry[]) => entries.map((e) => e.id);

const ON = { prune: true, maxPruneFraction: 0.5, allowLargePrune: false };

describe("inventory ids", () => {
  it("are namespace_name_group_kind as in Flux, with empty parts for core and cluster scope", () => {
    expect(inventoryId({ apiVersion: API, kind: "Zitadel", name: "z", namespace: "iam" })).toBe(
      "iam_z_zitadel-operator.dev_Zitadel",
    );
    expect(namespace.id).toBe("_iam__Namespace");
    expect(parseInventoryEntry(secret("db"))).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      name: "db",
      namespace: "iam",
      group: "",
    });
  });
});

describe("planPrune", () => {
  it("deletes what the new revision no longer has, dependents first", () => {
    const old = [namespace, secret("a"), secret("b"), zitadel("z"), zitadel("y"), cluster];
    const plan = planPrune(old, [namespace, secret("a"), zitadel("z"), cluster], ON);
    expect(ids(plan.delete)).toEqual([zitadel("y").id, secret("b").id]);
    expect(plan.blocked).toBeUndefined();
    expect(ids(plan.nextInventory)).toEqual(
      ids([namespace, secret("a"), cluster, zitadel("z")].sort((a, b) => (a.id < b.id ? -1 : 1))),
    );
  });

  it("prunes nothing when spec.prune is false, and stops tracking the objects", () => {
    const plan = planPrune([secret("a"), secret("b")], [secret("a")], { ...ON, prune: false });
    expect(plan.delete).toEqual([]);
    expect(plan.blocked?.reason).toBe("PruneDisabled");
    expect(ids(plan.nextInventory)).toEqual([secret("a").id]);
  });

  it("never prunes everything because a revision parsed to nothing", () => {
    const plan = planPrune([secret("a"), zitadel("z")], [], {
      ...ON,
      maxPruneFraction: 1,
      allowLargePrune: true,
    });
    expect(plan.delete).toEqual([]);
    expect(plan.blocked?.reason).toBe("EmptyRevision");
    expect(ids(plan.nextInventory)).toHaveLength(2);
  });

  it("refuses a prune larger than maxPruneFraction unless allowed", () => {
    const old = [secret("a"), secret("b"), secret("c"), secret("d")];
    const blocked = planPrune(old, [secret("a")], ON);
    expect(blocked.delete).toEqual([]);
    expect(blocked.blocked).toMatchObject({
      reason: "PruneTooLarge",
      message: expect.stringContaining("3 of 4"),
    });
    expect(ids(blocked.nextInventory)).toHaveLength(4);
    expect(ids(planPrune(old, [secret("a")], { ...ON, allowLargePrune: true }).delete)).toHaveLength(3);
    expect(ids(planPrune(old, [secret("a"), secret("b")], ON).delete)).toHaveLength(2);
  });

  it("never prunes a CockroachCluster, Backup or Namespace without the opt-in annotation on the object", () => {
    const old = [
      namespace,
      cluster,
      backup,
      secret("a"),
      secret("b"),
      secret("c"),
      secret("d"),
      zitadel("z"),
    ];
    const next = [secret("a"), secret("b"), secret("c"), secret("d"), zitadel("z")];
    const plan = planPrune(old, next, ON);
    expect(plan.delete).toEqual([]);
    expect(plan.refused.map((r) => [r.entry.id, r.reason])).toEqual([
      [namespace.id, "DataBearing"],
      [cluster.id, "DataBearing"],
      [backup.id, "DataBearing"],
    ]);
    expect(plan.refused[1]?.message).toContain(`${PRUNE_ANNOTATION}: allowed`);
    expect(ids(plan.nextInventory)).toContain(cluster.id);

    const allowed = planPrune(old, next, ON, new Map([[cluster.id, { [PRUNE_ANNOTATION]: "allowed" }]]));
    expect(ids(allowed.delete)).toEqual([cluster.id]);
    expect(ids(allowed.nextInventory)).not.toContain(cluster.id);
  });

  it("keeps any object annotated prune: disabled", () => {
    const plan = planPrune(
      [secret("a"), secret("b"), secret("c")],
      [secret("a"), secret("b")],
      ON,
      new Map([[secret("c").id, { [PRUNE_ANNOTATION]: "disabled" }]]),
    );
    expect(plan.delete).toEqual([]);
    expect(plan.refused[0]?.reason).toBe("PruneDisabledOnObject");
  });
});
