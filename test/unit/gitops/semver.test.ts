import { describe, expect, it } from "vitest";
import { highestMatchingTag, parseRange, parseVersion, satisfies } from "../../../src/gitops/semver.ts";

const TAGS = [
  "v0.9.0",
  "v1.0.0",
  "v1.2.0",
  "v1.2.5",
  "v1.3.0-rc.1",
  "v1.3.0",
  "v2.0.0-rc.1",
  "v2.0.0",
  "latest",
  "1.4.0",
];

function matches(range: string, version: string): boolean {
  const v = parseVersion(version);
  if (!v) throw new Error(`bad version ${version}`);
  return satisfies(v, parseRange(range));
}

describe("semver ranges over tags", () => {
  it.each([
    ["^1.2", "v1.4.0".replace("v", "")],
    ["~1.2.0", "v1.2.5"],
    [">=1.0.0 <2.0.0", "1.4.0"],
    [">=1.0.0, <1.3.0", "v1.2.5"],
    ["1.x", "1.4.0"],
    ["1.2.*", "v1.2.5"],
    ["*", "v2.0.0"],
    ["^0.9", "v0.9.0"],
    ["1.0.0 - 1.2.0", "v1.2.0"],
    ["<1.0.0 || >=2.0.0", "v2.0.0"],
    ["=v1.2.0", "v1.2.0"],
    [">= 1.3.0-rc.1 < 1.3.0", "v1.3.0-rc.1"],
  ])("the highest tag in %s is %s", (range, expected) => {
    expect(highestMatchingTag(TAGS, range)).toBe(expected);
  });

  it("never picks a pre-release unless the range names one of the same version", () => {
    expect(matches("^1.2", "1.3.0-rc.1")).toBe(false);
    expect(matches("<2.0.0", "2.0.0-rc.1")).toBe(false);
    expect(matches(">=2.0.0-rc.0", "2.0.0-rc.1")).toBe(true);
  });

  it("treats caret on 0.x as minor-locked", () => {
    expect(matches("^0.2.3", "0.2.9")).toBe(true);
    expect(matches("^0.2.3", "0.3.0")).toBe(false);
    expect(matches("^0.0.3", "0.0.4")).toBe(false);
  });

  it("finds nothing when no tag matches, and rejects what it cannot read", () => {
    expect(highestMatchingTag(TAGS, ">=3.0.0")).toBeUndefined();
    expect(() => parseRange("~>1.2")).toThrow(/not a semver range/);
  });
});
