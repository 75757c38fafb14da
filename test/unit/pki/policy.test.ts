import { describe, expect, it } from "vitest";
import { resolveTLSPolicy } from "../../../src/pki/policy.ts";

const day = 86_400_000;

describe("resolveTLSPolicy", () => {
  it("fills in defaults: ECDSA P-256, CA 5 years, leaves 90 days, renewal at two thirds, a week of CA overlap", () => {
    const result = resolveTLSPolicy();
    expect(result).toEqual({
      ok: true,
      policy: {
        keyAlgorithm: "ecdsa-p256",
        ca: { lifetimeMs: 43_800 * 3_600_000, renewBeforeMs: undefined, clockSkewMs: 300_000 },
        node: { lifetimeMs: 90 * day, renewBeforeMs: undefined, clockSkewMs: 300_000 },
        client: { lifetimeMs: 90 * day, renewBeforeMs: undefined, clockSkewMs: 300_000 },
        caOverlapMs: 7 * day,
        clockSkewMs: 300_000,
      },
    });
  });

  it("accepts seconds-long lifetimes and explicit renew-before windows", () => {
    const result = resolveTLSPolicy({
      keyAlgorithm: "rsa-3072",
      caLifetime: "60s",
      nodeLifetime: "12s",
      nodeRenewBefore: "3s",
      clientLifetime: "10s",
      caOverlap: "5s",
      clockSkew: "0s",
    });
    expect(result.ok && result.policy).toMatchObject({
      keyAlgorithm: "rsa-3072",
      node: { lifetimeMs: 12_000, renewBeforeMs: 3_000, clockSkewMs: 0 },
      client: { lifetimeMs: 10_000, renewBeforeMs: undefined },
      caOverlapMs: 5_000,
    });
  });

  it("names every offending field", () => {
    const result = resolveTLSPolicy({
      keyAlgorithm: "dsa",
      nodeLifetime: "1y",
      clientLifetime: "10d",
      clientRenewBefore: "10d",
      caLifetime: "30d",
      caOverlap: "20d",
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("InvalidTLSPolicy");
    expect(result.message).toContain('keyAlgorithm "dsa"');
    expect(result.message).toContain('nodeLifetime "1y" is not a duration');
    expect(result.message).toContain("clientRenewBefore must be shorter than clientLifetime");
    expect(result.message).toContain("caOverlap must be shorter than the CA's renew-before window (10d)");
  });

  it("refuses leaves that would outlive the CA", () => {
    const result = resolveTLSPolicy({ caLifetime: "30d", nodeLifetime: "60d", caOverlap: "1d" });
    expect(result).toMatchObject({
      ok: false,
      message: expect.stringContaining("nodeLifetime must not exceed caLifetime"),
    });
  });
});
