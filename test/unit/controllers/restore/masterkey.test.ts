import { describe, expect, it } from "vitest";
import { type MasterkeyFacts, planMasterkey } from "../../../../src/controllers/restore/masterkey.ts";
import { heldBy, withoutPods } from "../../../../src/controllers/zitadel/hold.ts";

const facts = (over: Partial<MasterkeyFacts> = {}): MasterkeyFacts => ({
  backupKeyId: "hmac-sha256:backup",
  currentKeyId: "hmac-sha256:current",
  hold: true,
  inPlace: true,
  userSecret: undefined,
  identityGiven: true,
  where: "s3://backups/zitadel/ns/zt/b1/",
  ...over,
});

describe("planMasterkey", () => {
  it("proceeds when the backup has no masterkey or the same one", () => {
    expect(planMasterkey(facts({ backupKeyId: undefined }))).toEqual({ action: "proceed" });
    expect(planMasterkey(facts({ currentKeyId: "hmac-sha256:backup", identityGiven: false }))).toEqual({
      action: "proceed",
    });
  });

  it("recovers and swaps the key of an operator-generated Secret for an in-place restore with overwrite", () => {
    expect(planMasterkey(facts())).toEqual({ action: "recover", swap: true });
    // A Zitadel whose masterkey Secret is gone counts as another key.
    expect(planMasterkey(facts({ currentKeyId: undefined }))).toEqual({ action: "recover", swap: true });
  });

  it("never plans to rewrite a user's Secret, and says how to recover the key by hand", () => {
    const plan = planMasterkey(facts({ userSecret: { name: "my-key", key: "mk" } }));
    expect(plan).toMatchObject({ action: "fail", reason: "MasterkeyMismatch" });
    const message = plan.action === "fail" ? plan.message : "";
    expect(message).toContain("age -d -i key.txt s3://backups/zitadel/ns/zt/b1/masterkey.age");
    expect(message).toContain('key "mk" of that Secret');
    expect(message).toContain("hmac-sha256:backup");
  });

  it("leaves the key alone for a copy under a new name, which still needs the identity", () => {
    const copy = { hold: false, inPlace: false };
    expect(planMasterkey(facts(copy))).toEqual({ action: "recover", swap: false });
    expect(planMasterkey(facts({ ...copy, userSecret: { name: "my-key", key: "mk" } }))).toEqual({
      action: "recover",
      swap: false,
    });
    const without = planMasterkey(facts({ ...copy, identityGiven: false }));
    expect(without).toMatchObject({ action: "fail", reason: "MasterkeyMismatch" });
    expect(without.action === "fail" && without.message).toContain("spec.ageIdentitySecretRef");
  });

  it("refuses to switch keys in place without overwrite", () => {
    const plan = planMasterkey(facts({ hold: false, inPlace: true }));
    expect(plan).toMatchObject({ action: "fail", reason: "MasterkeyMismatch" });
    expect(plan.action === "fail" && plan.message).toContain("overwrite");
  });
});

describe("the restore hold (zitadel controller)", () => {
  it("is the annotation's Restore; an empty value holds nothing", () => {
    expect(heldBy({ metadata: { annotations: { "zitadel-operator.dev/restore-in-progress": "r1" } } })).toBe(
      "r1",
    );
    expect(heldBy({ metadata: { annotations: { "zitadel-operator.dev/restore-in-progress": "" } } })).toBe(
      undefined,
    );
    expect(heldBy({ metadata: {} })).toBe(undefined);
  });

  it("renders every Deployment at 0 replicas and leaves everything else as it is", () => {
    const objects = [
      { kind: "Deployment", metadata: { name: "zt" }, spec: { replicas: 3, selector: {} } },
      { kind: "Deployment", metadata: { name: "zt-login" }, spec: { replicas: 2 } },
      { kind: "Job", metadata: { name: "setup" }, spec: { parallelism: 1 } },
    ];
    const held = withoutPods(objects);
    expect(held.map((o) => (o.spec as { replicas?: number }).replicas)).toEqual([0, 0, undefined]);
    expect(held[0]?.spec).toEqual({ replicas: 0, selector: {} });
    expect(held[2]).toBe(objects[2]);
    // Pure: the rendered objects are not changed.
    expect(objects[0]?.spec.replicas).toBe(3);
  });
});
