import { describe, expect, it } from "vitest";
import { TERMINATION_MESSAGE_LIMIT, terminationMessage } from "../../../src/backup/job-result.ts";

describe("terminationMessage", () => {
  it("is one JSON line with the outcome", () => {
    const line = terminationMessage({ ok: true, command: "backup", sizeBytes: 12 });
    expect(JSON.parse(line)).toEqual({ ok: true, command: "backup", sizeBytes: 12 });
    expect(line).not.toContain("\n");
  });

  it("removes the given secrets and credentials it recognizes from every string", () => {
    const line = terminationMessage(
      {
        ok: false,
        command: "restore",
        reason: "PgRestoreFailed",
        message: "password hunter2 rejected for postgres://u:hunter2@db; key AGE-SECRET-KEY-1ABC",
        nested: { detail: ["s3://AKIA:topsecret@minio/bucket"] },
      },
      ["hunter2"],
    );
    expect(line).not.toMatch(/hunter2|topsecret|AGE-SECRET-KEY/);
    expect(JSON.parse(line)).toMatchObject({ ok: false, reason: "PgRestoreFailed" });
  });

  it("fits in 4 KiB: drops long lists first, then shortens the message", () => {
    const differences = Array.from({ length: 500 }, (_, i) => ({ table: `public.t${i}`, problem: "rows" }));
    const line = terminationMessage({
      ok: false,
      command: "verify",
      reason: "DataDiffers",
      message: "x".repeat(10_000),
      verification: { result: "Failed", differences },
    });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(TERMINATION_MESSAGE_LIMIT);
    expect(JSON.parse(line)).toMatchObject({
      ok: false,
      reason: "DataDiffers",
      verification: { result: "Failed", differences: { omitted: 500 } },
    });
  });
});
