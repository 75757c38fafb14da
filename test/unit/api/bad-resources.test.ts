import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseResource } from "../../../src/api/validate.ts";

// Each file in test/fixtures/bad-resources is one resource with one defect, and a header:
//   # expect: <dotted path parseResource reports>
//   # why: <the defect>
//   # apiserver: rejected | strict | operator
// The integration tests submit the same files to a real kube-apiserver (see the folder's README).

const DIR = join(import.meta.dirname, "../../fixtures/bad-resources");

interface Fixture {
  file: string;
  expect: string;
  why: string;
  apiserver: string;
  body: unknown;
}

function header(text: string, key: string): string | undefined {
  return new RegExp(`^# ${key}: (.*)$`, "m").exec(text)?.[1]?.trim();
}

const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(join(DIR, file), "utf8");
    return {
      file,
      expect: header(text, "expect") ?? "<missing header>",
      why: header(text, "why") ?? "",
      apiserver: header(text, "apiserver") ?? "",
      body: parse(text),
    };
  });

describe("the bad-resource corpus", () => {
  it("is large and well-formed", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    for (const f of fixtures) {
      expect(f.expect, f.file).not.toBe("<missing header>");
      expect(f.why, f.file).not.toBe("");
      expect(["rejected", "strict", "operator"], f.file).toContain(f.apiserver);
    }
  });

  it.each(fixtures)("rejects $file at $expect ($why)", (fixture) => {
    const result = parseResource(fixture.body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(
      result.issues.map((i) => i.path),
      JSON.stringify(result.issues),
    ).toContain(fixture.expect);
    for (const issue of result.issues) expect(issue.message.length).toBeGreaterThan(0);
  });
});
