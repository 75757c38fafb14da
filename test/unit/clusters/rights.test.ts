import { describe, expect, it } from "vitest";
import { describeRights, missingRights, remoteRights } from "../../../src/clusters/rights.ts";
import { REMOTE_RULES } from "../../../src/install/rbac.ts";

describe("the rights the operator needs in a remote namespace", () => {
  it("are the namespaced objects of a region, without our kinds, Events or Namespaces", () => {
    const resources = new Set(REMOTE_RULES.flatMap((r) => r.resources));
    for (const needed of ["statefulsets", "services", "secrets", "jobs", "deployments", "pods"])
      expect(resources).toContain(needed);
    for (const homeOnly of ["namespaces", "events", "customresourcedefinitions", "cockroachclusters"])
      expect(resources).not.toContain(homeOnly);
  });

  it("are all granted by the remote Role's own rules, and by a wildcard", () => {
    const asReviewed = REMOTE_RULES.map((r) => ({
      verbs: r.verbs,
      apiGroups: r.apiGroups,
      resources: r.resources,
    }));
    expect(missingRights(asReviewed)).toEqual([]);
    expect(missingRights([{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }])).toEqual([]);
  });

  it("names what a partial grant lacks, and does not count rules limited to names", () => {
    const rules = REMOTE_RULES.filter((r) => !r.resources.includes("statefulsets")).map((r) => ({
      verbs: r.verbs.filter((v) => !(r.resources.includes("secrets") && v === "delete")),
      apiGroups: r.apiGroups,
      resources: r.resources,
    }));
    rules.push({
      verbs: ["*"],
      apiGroups: ["apps"],
      resources: ["statefulsets"],
      resourceNames: ["db"],
    } as never);
    const missing = missingRights(rules);
    expect(describeRights(missing)).toBe(
      "get, list, watch, create, patch, delete statefulsets.apps; delete secrets",
    );
    expect(missing).toHaveLength(remoteRights().filter((r) => r.resource === "statefulsets").length + 1);
  });
});
