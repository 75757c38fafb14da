import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sign, verifySignature } from "../../../../src/gitops/receiver.ts";

describe("webhook signatures", () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');

  it("signs as GitHub does: sha256= and the hex HMAC-SHA256 of the body", () => {
    const hex = createHmac("sha256", "s3cret").update(body).digest("hex");
    expect(sign(body, "s3cret")).toBe(`sha256=${hex}`);
    expect(verifySignature(body, `sha256=${hex}`, "s3cret")).toBe(true);
  });

  it("refuses a missing, malformed, wrongly keyed or body-altered signature", () => {
    expect(verifySignature(body, undefined, "s3cret")).toBe(false);
    expect(verifySignature(body, "sha256=00", "s3cret")).toBe(false);
    expect(verifySignature(body, sign(body, "other"), "s3cret")).toBe(false);
    expect(verifySignature(Buffer.from('{"ref":"x"}'), sign(body, "s3cret"), "s3cret")).toBe(false);
  });

  it("refuses everything when no secret is configured", () => {
    expect(verifySignature(body, sign(body, ""), "")).toBe(false);
  });
});
