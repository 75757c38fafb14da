import { describe, expect, it } from "vitest";
import {
  adoptUserCA,
  applyCARotationStep,
  type CARotationInput,
  planCARotation,
  rotationPhase,
  signingCA,
  type TrustedCA,
  type TrustState,
  trustBundle,
} from "../../../src/pki/ca-rotation.ts";
import { generateCA } from "../../../src/pki/issue.ts";
import { resolveTLSPolicy } from "../../../src/pki/policy.ts";

const t0 = new Date("2030-01-01T00:00:00Z");
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const resolved = resolveTLSPolicy({
  caLifetime: "60s",
  caOverlap: "5s",
  nodeLifetime: "12s",
  clientLifetime: "12s",
  clockSkew: "0s",
});
if (!resolved.ok) throw new Error(resolved.message);
const policy = resolved.policy;

async function ca(name: string, from: Date): Promise<TrustedCA> {
  const issued = await generateCA({
    commonName: name,
    now: from,
    policy: policy.ca,
    keyAlgorithm: "ecdsa-p256",
  });
  return { certificatePem: issued.certificatePem, info: issued.info, key: issued.key };
}

function input(state: TrustState, now: Date, leafIssuers: (string | undefined)[] = []): CARotationInput {
  return { state, now, policy, leafIssuers, operatorManaged: true };
}

describe("planCARotation", () => {
  it("starts a rotation when the active CA enters the last third of its life", async () => {
    const state: TrustState = {
      active: await ca("A", t0),
      next: undefined,
      previous: [],
      phaseStartedAt: undefined,
    };
    expect(planCARotation(input(state, at(39)))).toEqual({ step: "none", recheckAt: at(40) });
    expect(planCARotation(input(state, at(40)))).toMatchObject({ step: "start" });
    expect(planCARotation({ ...input(state, at(40)), operatorManaged: false })).toEqual({
      step: "none",
      recheckAt: undefined,
    });
  });

  it("goes through trust-next, re-issue and retire, keeping both CAs in ca.crt until the end", async () => {
    const a = await ca("A", t0);
    const b = await ca("B", at(40));
    let state: TrustState = { active: a, next: undefined, previous: [], phaseStartedAt: undefined };
    state = applyCARotationStep(state, { step: "start", message: "" }, at(40), b);
    expect(rotationPhase(state)).toBe("trusting-next");
    expect(trustBundle(state)).toBe(`${b.certificatePem}${a.certificatePem}`);
    expect(signingCA(state)).toBe(a);

    expect(planCARotation(input(state, at(44)))).toEqual({ step: "none", recheckAt: at(45) });
    const promote = planCARotation(input(state, at(45)));
    expect(promote).toMatchObject({ step: "promote-next" });
    state = applyCARotationStep(state, promote, at(45));
    expect(rotationPhase(state)).toBe("retiring-previous");
    expect(signingCA(state)?.info.fingerprint).toBe(b.info.fingerprint);
    expect(state.previous[0]?.key).toBeUndefined();
    expect(trustBundle(state)).toBe(`${b.certificatePem}${a.certificatePem}`);

    // A leaf still signed by A holds the old CA in place, however long it takes.
    expect(planCARotation(input(state, at(55), [b.info.fingerprint, a.info.fingerprint]))).toMatchObject({
      step: "none",
    });
    expect(planCARotation(input(state, at(49), [b.info.fingerprint]))).toEqual({
      step: "none",
      recheckAt: at(50),
    });
    const retire = planCARotation(input(state, at(50), [b.info.fingerprint]));
    expect(retire).toMatchObject({ step: "retire-previous" });
    state = applyCARotationStep(state, retire, at(50));
    expect(rotationPhase(state)).toBe("steady");
    expect(trustBundle(state)).toBe(b.certificatePem);
  });

  it("promotes halfway through the old CA's remaining life when a rotation starts late", async () => {
    const a = await ca("A", t0);
    const b = await ca("B", at(58));
    const state: TrustState = { active: a, next: b, previous: [], phaseStartedAt: at(58) };
    // Overlap would end at 63s, after A expires at 60s; halfway is 59s.
    expect(planCARotation(input(state, at(58)))).toEqual({ step: "none", recheckAt: at(59) });
    expect(planCARotation(input(state, at(59)))).toMatchObject({ step: "promote-next" });
  });

  it("introduces a successor at once when the active CA's key is missing", async () => {
    const a = await ca("A", t0);
    const state: TrustState = {
      active: { ...a, key: undefined },
      next: undefined,
      previous: [],
      phaseStartedAt: undefined,
    };
    expect(planCARotation(input(state, at(1)))).toMatchObject({ step: "start" });
  });
});

describe("adoptUserCA", () => {
  it("introduces a replaced user CA with an overlap, signing with the new key meanwhile", async () => {
    const a = await ca("A", t0);
    const b = await ca("B", t0);
    const first = adoptUserCA(undefined, a, false, t0).state;
    const swapped = adoptUserCA(first, b, true, at(1));
    expect(swapped.introduced).toBe(true);
    expect(rotationPhase(swapped.state)).toBe("trusting-next");
    expect(swapped.state.active.key).toBeUndefined();
    expect(signingCA(swapped.state)?.info.fingerprint).toBe(b.info.fingerprint);
    // Without leaves there is nothing to overlap.
    expect(rotationPhase(adoptUserCA(first, b, false, at(1)).state)).toBe("steady");
    // Going back to A mid-rotation retires B like any replaced CA.
    const back = adoptUserCA(swapped.state, a, true, at(2)).state;
    expect(rotationPhase(back)).toBe("retiring-previous");
    expect(back.previous.map((c) => c.info.fingerprint)).toEqual([b.info.fingerprint]);
  });
});
