// pruneStale against a stand-in API: which deletes are attempted, and what stays in the inventory.
import { describe, expect, it } from "vitest";
import { fieldManagerOf, pruneStale } from "../../../../src/controllers/gitsource/sync.ts";
import { inventoryEntry } from "../../../../src/gitops/inventory.ts";
import { GITSOURCE_LABEL } from "../../../../src/gitops/manifests.ts";
import {
  ApiError,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from "../../../../src/runtime/kube.ts";

const SOURCE = { namespace: "apps", name: "platform" };
const entry = (name: string) =>
  inventoryEntry({ apiVersion: "v1", kind: "ConfigMap", name, namespace: "apps" });

/** Objects by name; `refuse` names deletes that fail, `unreadable` names reads that fail. */
function fakeApi(
  objects: Record<string, KubeObject>,
  opts: { refuse?: string[]; unreadable?: string[] } = {},
) {
  const deleted: string[] = [];
  const client = {
    resourceType: async (apiVersion: string, kind: string): Promise<ResourceType> => ({
      apiVersion,
      kind,
      plural: "configmaps",
      namespaced: true,
    }),
    get: async (_type: ResourceType, _ns: string | undefined, name: string) => {
      if (opts.unreadable?.includes(name)) throw new ApiError(503, "ServiceUnavailable", "etcd is down");
      return objects[name];
    },
    delete: async (_type: ResourceType, _ns: string | undefined, name: string) => {
      if (opts.refuse?.includes(name)) throw new ApiError(403, "Forbidden", `cannot delete ${name}`);
      deleted.push(name);
    },
  };
  return { client: client as unknown as KubeClient, deleted };
}

const ours = (name: string): KubeObject => ({
  metadata: { name, namespace: "apps", uid: `uid-${name}`, labels: { [GITSOURCE_LABEL]: "apps.platform" } },
});
const policy = { prune: true, maxPruneFraction: 1, allowLargePrune: false };

describe("pruneStale", () => {
  it("deletes stale objects and keeps the ones whose delete failed in the inventory", async () => {
    const { client, deleted } = fakeApi({ a: ours("a"), b: ours("b"), c: ours("c") }, { refuse: ["b"] });
    const result = await pruneStale(
      client,
      SOURCE,
      [entry("a"), entry("b"), entry("c")],
      [entry("a")],
      policy,
    );
    expect(deleted).toEqual(["c"]);
    expect(result.failed.map((f) => f.entry.id)).toEqual(["apps_b__ConfigMap"]);
    expect(result.inventory.map((e) => e.id)).toEqual(["apps_a__ConfigMap", "apps_b__ConfigMap"]);
  });

  it("keeps in the inventory, without deleting, a stale object it could not read", async () => {
    const { client, deleted } = fakeApi({ a: ours("a"), b: ours("b") }, { unreadable: ["b"] });
    const result = await pruneStale(client, SOURCE, [entry("a"), entry("b")], [entry("a")], policy);
    expect(deleted).toEqual([]);
    expect(result.inventory.map((e) => e.id)).toEqual(["apps_a__ConfigMap", "apps_b__ConfigMap"]);
  });

  it("does not delete an object that no longer carries this source's label, and stops tracking it", async () => {
    const taken = { metadata: { name: "b", namespace: "apps", labels: { [GITSOURCE_LABEL]: "apps.other" } } };
    const { client, deleted } = fakeApi({ a: ours("a"), b: taken });
    const result = await pruneStale(client, SOURCE, [entry("a"), entry("b")], [entry("a")], policy);
    expect(deleted).toEqual([]);
    expect(result.inventory.map((e) => e.id)).toEqual(["apps_a__ConfigMap"]);
  });

  it("prunes nothing when spec.prune is false", async () => {
    const { client, deleted } = fakeApi({ a: ours("a"), b: ours("b") });
    const result = await pruneStale(client, SOURCE, [entry("a"), entry("b")], [entry("a")], {
      ...policy,
      prune: false,
    });
    expect(deleted).toEqual([]);
    expect(result.plan.blocked?.reason).toBe("PruneDisabled");
  });

  it("names one field manager per GitSource", () => {
    expect(fieldManagerOf(SOURCE)).toBe("gitsource/apps/platform");
  });
});
