import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { KINDS, pluralOf } from "../../../src/api/kinds.ts";
import { renderInstallManifests, renderInstallYaml } from "../../../src/install/manifests.ts";
import { CLUSTER_RULES, NAMESPACE_RULES, type PermissionRule } from "../../../src/install/rbac.ts";

const ALL_RULES: readonly PermissionRule[] = [...CLUSTER_RULES, ...NAMESPACE_RULES];
const objects = renderInstallManifests({ image: "x:1" });

// Everything RBAC-shaped in the install manifests, wherever it is.
const renderedRules = objects
  .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
  .flatMap((o) => (o.rules as Record<string, string[]>[]).map((rule) => ({ kind: o.kind, rule })));

function grants(rules: readonly PermissionRule[], group: string, resource: string, verb: string) {
  return rules.some(
    (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb as never),
  );
}

describe("the operator's RBAC", () => {
  it("says why for every rule", () => {
    for (const rule of ALL_RULES) {
      expect(rule.why.length, JSON.stringify(rule)).toBeGreaterThan(20);
      expect(rule.why, JSON.stringify(rule)).toMatch(/[.)]$/);
    }
  });

  it("carries each why as a comment above its rule in the YAML", () => {
    const yaml = renderInstallYaml({ image: "x:1" });
    for (const rule of ALL_RULES) expect(yaml).toContain(`# ${rule.why.split(" ").slice(0, 6).join(" ")}`);
  });

  it("renders the ClusterRole and Role from the tables, without the whys", () => {
    const role = (kind: string) => objects.find((o) => o.kind === kind)?.rules;
    const strip = (rules: readonly PermissionRule[]) => rules.map(({ why: _why, ...rule }) => rule);
    expect(role("ClusterRole")).toEqual(strip(CLUSTER_RULES));
    expect(role("Role")).toEqual(strip(NAMESPACE_RULES));
  });

  it("has no wildcard anywhere", () => {
    expect(renderedRules.length).toBe(ALL_RULES.length);
    for (const { rule } of renderedRules) {
      for (const values of Object.values(rule)) {
        for (const value of values) expect(value, JSON.stringify(rule)).not.toContain("*");
      }
    }
    // Nor in the parsed YAML, in case a comment-free rendering differs.
    const docs = parseAllDocuments(renderInstallYaml({ image: "x:1" })).map((d) => d.toJS());
    for (const doc of docs.filter((d) => d.kind === "ClusterRole" || d.kind === "Role")) {
      expect(JSON.stringify(doc.rules)).not.toContain("*");
    }
  });

  it("cannot grant itself more: no RBAC objects, no escalate, bind or impersonate", () => {
    for (const rule of ALL_RULES) {
      expect(rule.apiGroups, rule.why).not.toContain("rbac.authorization.k8s.io");
      expect(rule.apiGroups, rule.why).not.toContain("authentication.k8s.io");
      expect(rule.apiGroups, rule.why).not.toContain("certificates.k8s.io");
      for (const verb of ["escalate", "bind", "impersonate", "deletecollection", "approve", "sign"])
        expect(rule.verbs, rule.why).not.toContain(verb);
    }
  });

  it("never writes pods, execs into them or touches nodes", () => {
    for (const verb of ["create", "update", "patch", "delete"])
      expect(grants(ALL_RULES, "", "pods", verb)).toBe(false);
    for (const verb of ["get", "create"]) expect(grants(ALL_RULES, "", "pods/exec", verb)).toBe(false);
    expect(ALL_RULES.some((r) => r.resources.some((res) => res.startsWith("nodes")))).toBe(false);
    expect(
      ALL_RULES.some((r) => r.resources.includes("pods/attach") || r.resources.includes("pods/portforward")),
    ).toBe(false);
  });

  it("grants what the reconcilers need: watch and apply our kinds, their status, and the children", () => {
    for (const kind of KINDS) {
      for (const verb of ["get", "list", "watch", "create", "patch"])
        expect(grants(CLUSTER_RULES, "zitadel-operator.dev", pluralOf(kind), verb), `${kind} ${verb}`).toBe(
          true,
        );
      expect(grants(CLUSTER_RULES, "zitadel-operator.dev", `${pluralOf(kind)}/status`, "patch")).toBe(true);
      expect(grants(CLUSTER_RULES, "zitadel-operator.dev", `${pluralOf(kind)}/finalizers`, "update")).toBe(
        true,
      );
    }
    const children: [string, string][] = [
      ["apps", "statefulsets"],
      ["apps", "deployments"],
      ["", "services"],
      ["", "configmaps"],
      ["", "secrets"],
      ["", "serviceaccounts"],
      ["policy", "poddisruptionbudgets"],
      ["batch", "jobs"],
      ["networking.k8s.io", "networkpolicies"],
      ["networking.k8s.io", "ingresses"],
      ["autoscaling", "horizontalpodautoscalers"],
    ];
    for (const [group, resource] of children) {
      for (const verb of ["get", "list", "watch", "create", "patch", "delete"])
        expect(grants(CLUSTER_RULES, group, resource, verb), `${resource} ${verb}`).toBe(true);
      // Server-side apply is a patch: update is never used.
      expect(grants(CLUSTER_RULES, group, resource, "update"), `${resource} update`).toBe(false);
    }
    expect(grants(CLUSTER_RULES, "", "pods/log", "get")).toBe(true);
    expect(grants(CLUSTER_RULES, "events.k8s.io", "events", "create")).toBe(true);
    expect(grants(CLUSTER_RULES, "", "events", "create")).toBe(false);
    expect(grants(CLUSTER_RULES, "", "persistentvolumeclaims", "create")).toBe(false);
  });

  it("holds Leases only in its own namespace, through the Role", () => {
    expect(CLUSTER_RULES.some((r) => r.resources.includes("leases"))).toBe(false);
    expect(NAMESPACE_RULES.every((r) => r.apiGroups.join() === "coordination.k8s.io")).toBe(true);
    expect(NAMESPACE_RULES.every((r) => r.resources.join() === "leases")).toBe(true);
  });

  it("limits by name only verbs that honour resourceNames", () => {
    // RBAC never matches create, list, watch or deletecollection against resourceNames: such a rule would
    // silently grant nothing (create) or be misread as narrower than it is.
    for (const rule of ALL_RULES.filter((r) => r.resourceNames)) {
      for (const verb of rule.verbs) expect(["get", "update", "patch", "delete"], rule.why).toContain(verb);
    }
  });
});
