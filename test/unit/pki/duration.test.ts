import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../src/pki/duration.ts";

describe("parseDuration", () => {
  it.each([
    ["43800h", 43_800 * 3_600_000],
    ["90d", 90 * 86_400_000],
    ["30m", 30 * 60_000],
    ["10s", 10_000],
    ["1h30m", 90 * 60_000],
    ["500ms", 500],
    ["1.5h", 90 * 60_000],
    ["0s", 0],
  ])("reads %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1y", "10", "h", "-5m", "5 m", "1h-30m", "1e3s"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it("uses the largest whole unit", () => {
    expect(formatDuration(8760 * 3_600_000)).toBe("365d");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(3_600_000 * 25)).toBe("25h");
    expect(formatDuration(1500)).toBe("1500ms");
    expect(formatDuration(0)).toBe("0s");
  });
});
