import { describe, expect, it } from "vitest";
import { generateCA, issueNodeCertificate } from "../../../src/pki/issue.ts";
import type { RenewalPolicy } from "../../../src/pki/policy.ts";
import {
  type DesiredCertificate,
  renewalTime,
  shouldRenew,
  shouldRotateCA,
} from "../../../src/pki/renewal.ts";

const t0 = new Date("2030-01-01T00:00:00Z");
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const leafPolicy: RenewalPolicy = { lifetimeMs: 90_000, renewBeforeMs: undefined, clockSkewMs: 0 };
const caPolicy: RenewalPolicy = { lifetimeMs: 900_000, renewBeforeMs: undefined, clockSkewMs: 0 };
const names = { dnsNames: ["localhost", "*.crdb"], ipAddresses: ["127.0.0.1"] };

async function fixture() {
  const ca = await generateCA({ commonName: "CA", now: t0, policy: caPolicy, keyAlgorithm: "ecdsa-p256" });
  const node = await issueNodeCertificate({
    ca,
    names,
    now: t0,
    policy: leafPolicy,
    keyAlgorithm: "ecdsa-p256",
  });
  const desired: DesiredCertificate = {
    commonName: "node",
    ...names,
    extendedKeyUsage: ["serverAuth", "clientAuth"],
    keyAlgorithm: "ecdsa-p256",
    acceptedIssuers: [ca.info],
    notAfterLimit: ca.info.notAfter,
  };
  return { ca, node: node.info, desired };
}

describe("shouldRenew", () => {
  it("keeps a fresh certificate until two thirds of its lifetime and says when to look again", async () => {
    const { node, desired } = await fixture();
    expect(shouldRenew(node, at(59), leafPolicy, desired)).toEqual({ renew: false, recheckAt: at(60) });
    expect(shouldRenew(node, at(60), leafPolicy, desired)).toMatchObject({ renew: true, reason: "expiring" });
  });

  it("honours an explicit renew-before window", async () => {
    const { node } = await fixture();
    const policy = { ...leafPolicy, renewBeforeMs: 10_000 };
    expect(shouldRenew(node, at(79), policy)).toEqual({ renew: false, recheckAt: at(80) });
    expect(shouldRenew(node, at(80), policy)).toMatchObject({ renew: true, reason: "expiring" });
  });

  it("measures the lifetime from issue, not from the backdated notBefore", async () => {
    const { ca } = await fixture();
    const skewed = { ...leafPolicy, clockSkewMs: 300_000 };
    const leaf = await issueNodeCertificate({
      ca,
      names,
      now: t0,
      policy: skewed,
      keyAlgorithm: "ecdsa-p256",
    });
    expect(leaf.info.notBefore).toEqual(at(-300));
    expect(renewalTime(leaf.info, skewed)).toEqual(at(60));
  });

  it("renews an expired certificate", async () => {
    const { node, desired } = await fixture();
    expect(shouldRenew(node, at(90), leafPolicy, desired)).toMatchObject({ renew: true, reason: "expired" });
  });

  it("renews when the desired names, subject, usages or key algorithm changed", async () => {
    const { node, desired } = await fixture();
    const cases: [Partial<DesiredCertificate>, string][] = [
      [{ dnsNames: [...names.dnsNames, "new.example"] }, "names-changed"],
      [{ ipAddresses: [] }, "names-changed"],
      [{ commonName: "root" }, "subject-changed"],
      [{ extendedKeyUsage: ["clientAuth"] }, "usage-changed"],
      [{ keyAlgorithm: "rsa-2048" }, "key-algorithm-changed"],
    ];
    for (const [change, reason] of cases) {
      expect(shouldRenew(node, at(1), leafPolicy, { ...desired, ...change })).toMatchObject({
        renew: true,
        reason,
      });
    }
    expect(
      shouldRenew(node, at(1), leafPolicy, { ...desired, dnsNames: ["*.CRDB", "LOCALHOST"] }).renew,
    ).toBe(false);
  });

  it("renews a certificate issued by a CA that no longer signs", async () => {
    const { node, desired } = await fixture();
    const other = await generateCA({
      commonName: "CA",
      now: t0,
      policy: caPolicy,
      keyAlgorithm: "ecdsa-p256",
    });
    expect(shouldRenew(node, at(1), leafPolicy, { ...desired, acceptedIssuers: [other.info] })).toMatchObject(
      {
        renew: true,
        reason: "issuer-not-active",
      },
    );
  });

  it("renews a certificate that outlives a shortened lifetime", async () => {
    const { node, desired } = await fixture();
    expect(shouldRenew(node, at(1), { ...leafPolicy, lifetimeMs: 30_000 }, desired)).toMatchObject({
      renew: true,
      reason: "lifetime-shortened",
    });
  });

  it("does not renew for age when a new certificate could not outlive the current one", async () => {
    const { node, desired } = await fixture();
    const capped = { ...desired, notAfterLimit: node.notAfter };
    expect(shouldRenew(node, at(70), leafPolicy, capped)).toEqual({ renew: false, recheckAt: node.notAfter });
  });
});

describe("shouldRotateCA", () => {
  it("rotates in the last third of the CA's life or after an explicit window", async () => {
    const { ca } = await fixture();
    expect(shouldRotateCA(ca.info, at(599), caPolicy)).toEqual({ renew: false, recheckAt: at(600) });
    expect(shouldRotateCA(ca.info, at(600), caPolicy)).toMatchObject({ renew: true, reason: "expiring" });
    expect(shouldRotateCA(ca.info, at(900), caPolicy)).toMatchObject({ renew: true, reason: "expired" });
    expect(shouldRotateCA(ca.info, at(700), { ...caPolicy, renewBeforeMs: 100_000 })).toMatchObject({
      renew: false,
    });
  });
});
