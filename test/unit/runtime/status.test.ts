import { describe, expect, it } from "vitest";
import type { Condition } from "../../../src/api/conditions.ts";
import { primaryChanged } from "../../../src/runtime/controller.ts";
import { isSubset, needsApply, semanticallyEqual, setCondition } from "../../../src/runtime/status.ts";

const t0 = new Date("2026-01-01T00:00:00.123Z");
const t1 = new Date("2026-01-01T01:00:00.000Z");

describe("setCondition", () => {
  it("adds a condition with the transition time in whole seconds and the generation", () => {
    const list = setCondition(
      undefined,
      { type: "Ready", status: "False", reason: "Waiting", message: "m" },
      3,
      t0,
    );
    expect(list).toEqual([
      {
        type: "Ready",
        status: "False",
        reason: "Waiting",
        message: "m",
        lastTransitionTime: "2026-01-01T00:00:00Z",
        observedGeneration: 3,
      },
    ]);
  });

  it("keeps lastTransitionTime while the status stays, and moves it when the status changes", () => {
    const first = setCondition(
      undefined,
      { type: "Ready", status: "False", reason: "A", message: "a" },
      1,
      t0,
    );
    const same = setCondition(first, { type: "Ready", status: "False", reason: "B", message: "b" }, 2, t1);
    expect(same[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(same[0]?.reason).toBe("B");
    expect(same[0]?.observedGeneration).toBe(2);
    const flipped = setCondition(same, { type: "Ready", status: "True", reason: "Ok", message: "ok" }, 2, t1);
    expect(flipped[0]?.lastTransitionTime).toBe("2026-01-01T01:00:00Z");
  });

  it("leaves other conditions and the input list alone", () => {
    const input: Condition[] = [
      {
        type: "Initialized",
        status: "True",
        reason: "Done",
        message: "",
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ];
    const out = setCondition(input, { type: "Ready", status: "True", reason: "Ok", message: "" }, 1, t1);
    expect(out.map((c) => c.type)).toEqual(["Initialized", "Ready"]);
    expect(input).toHaveLength(1);
  });

  it("is idempotent: setting the same condition twice gives an equal list", () => {
    const c = { type: "Ready", status: "True" as const, reason: "Ok", message: "fine" };
    const once = setCondition(undefined, c, 4, t0);
    expect(semanticallyEqual(setCondition(once, c, 4, t1), once)).toBe(true);
  });
});

describe("needsApply", () => {
  const desired = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x", namespace: "n", labels: { a: "1" } },
    data: { k: "v" },
  };

  it("is true for a missing object", () => {
    expect(needsApply(desired, undefined)).toBe(true);
  });

  it("ignores what the API server and other managers added", () => {
    const live = {
      ...desired,
      metadata: { ...desired.metadata, uid: "u", resourceVersion: "9", labels: { a: "1", other: "2" } },
      data: { k: "v" },
      extra: { defaulted: true },
    };
    expect(needsApply(desired, live)).toBe(false);
  });

  it("sees a field we set that someone changed, and a label we set that is gone", () => {
    expect(needsApply(desired, { ...desired, data: { k: "changed" } })).toBe(true);
    expect(needsApply(desired, { ...desired, metadata: { ...desired.metadata, labels: {} } })).toBe(true);
  });

  it("compares lists element by element and by length", () => {
    expect(isSubset([{ a: 1 }], [{ a: 1, b: 2 }])).toBe(true);
    expect(isSubset([{ a: 1 }], [{ a: 1 }, { a: 2 }])).toBe(false);
    expect(isSubset([{ a: 1 }], [{ a: 2 }])).toBe(false);
  });

  it("treats numbers and their string forms as equal, as the API server returns them", () => {
    expect(isSubset({ port: "8080" }, { port: 8080 })).toBe(true);
    expect(isSubset({ port: 8080 }, { port: 8081 })).toBe(false);
  });
});

describe("primaryChanged", () => {
  const base = { metadata: { name: "x", generation: 1, labels: { a: "1" } }, status: { x: 1 } };
  it("ignores status-only updates (our own writes)", () => {
    expect(primaryChanged({ type: "updated", old: base, object: { ...base, status: { x: 2 } } })).toBe(false);
  });
  it("reacts to a new generation, labels, annotations, finalizers and deletion", () => {
    const m = base.metadata;
    for (const metadata of [
      { ...m, generation: 2 },
      { ...m, labels: { a: "2" } },
      { ...m, annotations: { b: "1" } },
      { ...m, finalizers: ["f"] },
      { ...m, deletionTimestamp: "2026-01-01T00:00:00Z" },
    ]) {
      expect(primaryChanged({ type: "updated", old: base, object: { ...base, metadata } })).toBe(true);
    }
    expect(primaryChanged({ type: "added", object: base })).toBe(true);
    expect(primaryChanged({ type: "deleted", object: base })).toBe(true);
  });
});
