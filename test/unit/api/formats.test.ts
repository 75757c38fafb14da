import { describe, expect, it } from "vitest";
import { CRONTAB_PATTERN, nextRun, parseCron } from "../../../src/api/cron.ts";
import { DURATION_PATTERN, parseDuration } from "../../../src/api/duration.ts";
import { parseQuantity } from "../../../src/api/quantity.ts";

describe("parseDuration", () => {
  it("reads days, hours, minutes and seconds", () => {
    expect(parseDuration("90d")).toBe(90 * 86_400_000);
    expect(parseDuration("8760h")).toBe(8760 * 3_600_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1d2h3m4s")).toBe(((24 + 2) * 3600 + 3 * 60 + 4) * 1000);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses what the CRD pattern refuses", () => {
    for (const bad of ["", "5", "5 minutes", "1m1h", "1.5h", "-1h", "1w", "1ms", "h", "1h1h"]) {
      expect(parseDuration(bad), bad).toBeUndefined();
      expect(new RegExp(DURATION_PATTERN).test(bad) && bad.length >= 2, bad).toBe(false);
    }
  });
});

describe("parseQuantity", () => {
  it("reads decimal and binary suffixes", () => {
    expect(parseQuantity("10Gi")).toBe(10 * 2 ** 30);
    expect(parseQuantity("500m")).toBe(0.5);
    expect(parseQuantity("1.5G")).toBe(1.5e9);
    expect(parseQuantity("2")).toBe(2);
    expect(parseQuantity(3)).toBe(3);
  });

  it("refuses what Kubernetes would not accept or we do not support", () => {
    for (const bad of ["10GB", "ten", "", "-1", "1e3", "1 Gi"])
      expect(parseQuantity(bad), bad).toBeUndefined();
  });
});

describe("parseCron", () => {
  const at = (iso: string) => new Date(iso);
  const next = (expr: string, after: string) => {
    const parsed = parseCron(expr);
    if (!parsed.ok) throw new Error(parsed.error);
    return nextRun(parsed.schedule, at(after))?.toISOString();
  };

  it("accepts five fields, names, ranges, lists, steps and macros", () => {
    for (const good of [
      "0 2 * * *",
      "*/15 * * * *",
      "0 0 1,15 * *",
      "30 4 * JAN-MAR mon-fri",
      "0 0 * * 7",
      "@daily",
      "5/20 * * * *",
    ]) {
      const parsed = parseCron(good);
      expect(parsed.ok, good).toBe(true);
      expect(new RegExp(CRONTAB_PATTERN).test(good), good).toBe(true);
    }
  });

  it("rejects what the CRD pattern rejects", () => {
    for (const bad of [
      "0 0 2 * * *",
      "60 2 * * *",
      "0 24 * * *",
      "* * 0 * *",
      "* * * 13 *",
      "* * * * 8",
      "*/0 * * * *",
      "@often",
      "",
      "0 2 * *",
    ]) {
      expect(parseCron(bad).ok, bad).toBe(false);
      expect(new RegExp(CRONTAB_PATTERN).test(bad), bad).toBe(false);
    }
  });

  it("rejects what only the parser can see", () => {
    expect(parseCron("0 5-2 * * *")).toEqual({ ok: false, error: 'hour range "5-2" runs backwards' });
    expect(parseCron("0 0 30 2 *").ok).toBe(false);
    expect(parseCron("*/90 * * * *").ok).toBe(false);
  });

  it("computes the next run in UTC", () => {
    expect(next("0 2 * * *", "2025-01-01T01:59:59Z")).toBe("2025-01-01T02:00:00.000Z");
    expect(next("0 2 * * *", "2025-01-01T02:00:00Z")).toBe("2025-01-02T02:00:00.000Z");
    expect(next("*/15 * * * *", "2025-01-01T10:07:00Z")).toBe("2025-01-01T10:15:00.000Z");
    expect(next("@monthly", "2025-01-31T12:00:00Z")).toBe("2025-02-01T00:00:00.000Z");
    expect(next("0 0 29 2 *", "2025-03-01T00:00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    expect(next("30 4 * * mon-fri", "2025-01-03T05:00:00Z")).toBe("2025-01-06T04:30:00.000Z"); // Friday -> Monday
  });

  it("treats restricted day-of-month and day-of-week as either-or, like cron", () => {
    // The 13th, or any Friday.
    expect(next("0 0 13 * 5", "2025-01-01T00:00:00Z")).toBe("2025-01-03T00:00:00.000Z");
    expect(next("0 0 13 * 5", "2025-01-11T00:00:00Z")).toBe("2025-01-13T00:00:00.000Z");
  });
});
