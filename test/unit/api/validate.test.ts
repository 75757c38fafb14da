import { describe, expect, it } from "vitest";
import { describeIssues, formatPath, parseResource, parseResourceAs } from "../../../src/api/validate.ts";

const valid = {
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "CockroachCluster",
  metadata: { name: "db" },
  spec: { version: "v25.2.4", nodes: 3 },
};

describe("parseResource", () => {
  it("never throws, whatever it is given", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
      },
    );
    const throwingGetter = {
      ...valid,
      spec: {
        version: "v25.2.4",
        get nodes(): number {
          throw new Error("getter");
        },
      },
    };
    const cyclic: Record<string, unknown> = { ...valid };
    cyclic.spec = { version: "v25.2.4", nodes: 3, self: cyclic };
    const inputs: unknown[] = [
      undefined,
      null,
      42,
      "CockroachCluster",
      [],
      [valid],
      {},
      { ...valid, apiVersion: 1 },
      { ...valid, kind: { toString: () => "x" } },
      { ...valid, metadata: null },
      { ...valid, spec: [] },
      { ...valid, spec: { version: "v25.2.4", nodes: Number.NaN } },
      { ...valid, spec: { version: "v25.2.4", nodes: 1e308 } },
      { ...valid, spec: { version: "v25.2.4", nodes: 3, storage: { size: 10n } } },
      { ...valid, spec: { version: "v25.2.4", nodes: 3, __proto__: { polluted: true } } },
      hostile,
      throwingGetter,
      cyclic,
    ];
    for (const input of inputs) {
      const result = parseResource(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.length).toBeGreaterThan(0);
    }
  });

  it("reports every problem at once, each with a dotted path", () => {
    const result = parseResource({
      ...valid,
      spec: { version: "25", nodes: 0, storage: { size: "big", retainPolicy: "Keep" } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path).sort()).toEqual([
      "spec.nodes",
      "spec.storage.retainPolicy",
      "spec.storage.size",
      "spec.version",
    ]);
  });

  it("names unknown fields one by one", () => {
    const result = parseResource({ ...valid, spec: { ...valid.spec, replicas: 3, storgae: {} } });
    expect(result.ok ? [] : result.issues).toEqual([
      { path: "spec.replicas", message: "unknown field" },
      { path: "spec.storgae", message: "unknown field" },
    ]);
  });

  it("says when a required field is missing and what type was expected", () => {
    const result = parseResource({ ...valid, spec: { nodes: "3" } });
    expect(result.ok ? [] : result.issues).toEqual(
      expect.arrayContaining([
        { path: "spec.version", message: "required field is missing" },
        { path: "spec.nodes", message: "expected integer, got string" },
      ]),
    );
  });

  it("does not change its input", () => {
    const input = structuredClone(valid);
    parseResource(input);
    expect(input).toEqual(valid);
  });
});

describe("parseResourceAs", () => {
  it("returns the resource typed as the expected kind", () => {
    const result = parseResourceAs("CockroachCluster", valid);
    expect(result.ok && result.resource.spec.storage.size).toBe("10Gi");
  });

  it("refuses a valid resource of another kind", () => {
    expect(parseResourceAs("Zitadel", valid)).toEqual({
      ok: false,
      issues: [{ path: "kind", message: "must be Zitadel" }],
    });
  });
});

describe("formatPath and describeIssues", () => {
  it("formats paths the way kubectl users read them", () => {
    expect(formatPath(["spec", "regions", 1, "name"])).toBe("spec.regions[1].name");
    expect(formatPath(["metadata", "labels", "app.kubernetes.io/name"])).toBe(
      'metadata.labels["app.kubernetes.io/name"]',
    );
    expect(formatPath([])).toBe("");
  });

  it("summarizes issues on one line for a condition message", () => {
    const issues = [1, 2, 3, 4, 5, 6, 7].map((n) => ({ path: `spec.f${n}`, message: "bad" }));
    expect(describeIssues(issues.slice(0, 2))).toBe("spec.f1: bad; spec.f2: bad");
    expect(describeIssues(issues)).toMatch(/; and 2 more$/);
  });
});
