import { describe, expect, it } from "vitest";
import type { Condition } from "../../../../src/api/conditions.ts";
import {
  commitOf,
  formatRevision,
  jittered,
  retryDelay,
  syncConditions,
  withSourceVerified,
} from "../../../../src/controllers/gitsource/status.ts";

const SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const NOW = new Date("2026-11-28T20:00:00Z");
const LATER = new Date("2026-11-28T21:00:00Z");

describe("GitSource status", () => {
  it("writes revisions as Flux does: branch or tag, algorithm, commit", () => {
    expect(formatRevision("refs/heads/main", SHA)).toBe(`main@sha1:${SHA}`);
    expect(formatRevision("refs/tags/v1.2.0", SHA)).toBe(`v1.2.0@sha1:${SHA}`);
    expect(formatRevision(SHA, SHA)).toBe(`sha1:${SHA}`);
    expect(formatRevision("refs/heads/main", "a".repeat(64))).toBe(`main@sha256:${"a".repeat(64)}`);
    expect(commitOf(`main@sha1:${SHA}`)).toBe(SHA);
  });

  it("is Ready after a successful sync, with neither Reconciling nor Stalled", () => {
    const before = syncConditions(
      undefined,
      { kind: "retrying", reason: "FetchFailed", message: "down" },
      1,
      NOW,
    );
    const after = syncConditions(before, { kind: "applied", message: "Applied revision x" }, 1, LATER);
    expect(after.map((c) => c.type)).toEqual(["Ready"]);
    expect(after[0]).toMatchObject({
      status: "True",
      reason: "ReconciliationSucceeded",
      observedGeneration: 1,
    });
    expect(after[0]?.lastTransitionTime).toBe("2026-11-28T21:00:00Z");
  });

  it("says Reconciling while a retry may cure the failure, and Stalled when only a person can", () => {
    const retrying = syncConditions(
      undefined,
      { kind: "retrying", reason: "FetchFailed", message: "m" },
      2,
      NOW,
    );
    expect(retrying.find((c) => c.type === "Reconciling")).toMatchObject({
      status: "True",
      reason: "ProgressingWithRetry",
    });
    expect(retrying.find((c) => c.type === "Stalled")).toBeUndefined();
    const stalled = syncConditions(
      retrying,
      { kind: "stalled", reason: "ValidationFailed", message: "m" },
      2,
      NOW,
    );
    expect(stalled.find((c) => c.type === "Stalled")).toMatchObject({
      status: "True",
      reason: "ValidationFailed",
    });
    expect(stalled.find((c) => c.type === "Reconciling")).toBeUndefined();
    expect(stalled.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ValidationFailed",
    });
  });

  it("keeps SourceVerified only while spec.verify is set, and leaves it alone when nothing was verified", () => {
    const verify = { mode: "HEAD" as const, secretRef: { name: "signers" } };
    const verified = withSourceVerified([], verify, { ok: true, message: "signed by key" }, 1, NOW);
    expect(verified).toMatchObject([{ type: "SourceVerified", status: "True" }]);
    expect(withSourceVerified(verified, verify, undefined, 1, NOW)).toEqual(verified);
    const refused = withSourceVerified(verified, verify, { ok: false, message: "unsigned" }, 1, NOW);
    expect(refused).toMatchObject([
      { type: "SourceVerified", status: "False", reason: "VerificationFailed" },
    ]);
    expect(withSourceVerified(refused as Condition[], undefined, undefined, 1, NOW)).toEqual([]);
  });

  it("schedules the next sync within ±10 % of the interval", () => {
    expect(jittered(60_000, () => 0)).toBe(54_000);
    expect(jittered(60_000, () => 0.5)).toBe(60_000);
    expect(jittered(60_000, () => 0.999_999)).toBeLessThanOrEqual(66_000);
  });

  it("retries failures after 5 s, 10 s, 20 s …, never later than the interval", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 60_000))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(retryDelay(10, 60_000)).toBe(60_000);
  });
});
