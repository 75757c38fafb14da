import { describe, expect, it } from "vitest";
import {
  findIssuer,
  joinPemCertificates,
  splitPemCertificates,
  verifyLeaf,
} from "../../../src/pki/bundle.ts";
import { generateCA, issueClientCertificate } from "../../../src/pki/issue.ts";
import type { RenewalPolicy } from "../../../src/pki/policy.ts";
import { opensslVerify } from "./openssl.ts";

const now = new Date("2030-01-01T00:00:00Z");
const hour = 3_600_000;
const policy: RenewalPolicy = { lifetimeMs: 24 * hour, renewBeforeMs: undefined, clockSkewMs: 0 };

async function twoCAs() {
  const oldCA = await generateCA({ commonName: "CA old", now, policy, keyAlgorithm: "ecdsa-p256" });
  const newCA = await generateCA({
    commonName: "CA new",
    now,
    policy: { ...policy, lifetimeMs: 48 * hour },
    keyAlgorithm: "ecdsa-p256",
  });
  const oldLeaf = await issueClientCertificate({
    ca: oldCA,
    user: "root",
    now,
    policy,
    keyAlgorithm: "ecdsa-p256",
  });
  const newLeaf = await issueClientCertificate({
    ca: newCA,
    user: "root",
    now,
    policy,
    keyAlgorithm: "ecdsa-p256",
  });
  return { oldCA, newCA, oldLeaf, newLeaf };
}

describe("trust bundles", () => {
  it("join certificates newest first, each once, and split back into the same list", async () => {
    const { oldCA, newCA } = await twoCAs();
    const bundle = joinPemCertificates([
      newCA.certificatePem,
      oldCA.certificatePem,
      `\r\n${newCA.certificatePem}`,
    ]);
    expect(splitPemCertificates(bundle)).toEqual([newCA.certificatePem, oldCA.certificatePem]);
    expect(bundle).toBe(`${newCA.certificatePem}${oldCA.certificatePem}`);
  });

  it("never carry anything but certificates", async () => {
    const { oldCA } = await twoCAs();
    const bundle = joinPemCertificates([`${oldCA.key.toPem()}${oldCA.certificatePem}`]);
    expect(bundle).not.toContain("PRIVATE KEY");
    expect(splitPemCertificates(bundle)).toHaveLength(1);
  });

  it("verify leaves of either CA while both are in ca.crt, as openssl does", async () => {
    const { oldCA, newCA, oldLeaf, newLeaf } = await twoCAs();
    const both = joinPemCertificates([newCA.certificatePem, oldCA.certificatePem]);
    for (const leaf of [oldLeaf, newLeaf]) {
      const check = verifyLeaf(leaf.certificatePem, both, now);
      expect(check.ok).toBe(true);
      expect(opensslVerify(leaf.certificatePem, both, { at: now, purpose: "sslclient" }).ok).toBe(true);
    }
    const onlyNew = verifyLeaf(oldLeaf.certificatePem, newCA.certificatePem, now);
    expect(onlyNew).toMatchObject({ ok: false, reason: "UntrustedCertificate" });
    expect(opensslVerify(oldLeaf.certificatePem, newCA.certificatePem, { at: now }).ok).toBe(false);
    expect(findIssuer(newLeaf.certificatePem, splitPemCertificates(both))).toBe(newCA.certificatePem);
  });

  it("report leaves or CAs outside their validity", async () => {
    const { oldCA, newLeaf, newCA } = await twoCAs();
    const later = new Date(now.getTime() + 30 * hour);
    expect(verifyLeaf(newLeaf.certificatePem, newCA.certificatePem, later)).toMatchObject({
      ok: false,
      reason: "CertificateNotValidNow",
    });
    const longLeaf = await issueClientCertificate({
      ca: oldCA,
      user: "root",
      now,
      policy,
      keyAlgorithm: "ecdsa-p256",
    });
    const result = verifyLeaf(
      longLeaf.certificatePem,
      oldCA.certificatePem,
      new Date(now.getTime() + 24 * hour + 1000),
    );
    expect(result.ok).toBe(false);
  });
});
