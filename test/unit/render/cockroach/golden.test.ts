// Golden files: every testdata/<scenario>.yaml is rendered exactly as `zitadel-operator render -f` renders it and
// compared with testdata/<scenario>.golden.yaml. After an intended change, rewrite them with
//   UPDATE_GOLDEN=1 npm test -- --project unit test/unit/render
// and review the diff of the golden files like any other change.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadResources, renderLoaded } from "../../../../src/cli/render.ts";

const TESTDATA = join(import.meta.dirname, "testdata");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const scenarios = (await readdir(TESTDATA))
  .filter((name) => name.endsWith(".yaml") && !name.endsWith(".golden.yaml"))
  .map((name) => name.slice(0, -".yaml".length))
  .sort();

function header(scenario: string): string {
  return (
    `# Rendered from ${scenario}.yaml by test/unit/render/cockroach/golden.test.ts. Do not edit; rewrite with\n` +
    "#   UPDATE_GOLDEN=1 npm test -- --project unit test/unit/render\n"
  );
}

describe("CockroachCluster golden files", () => {
  it("covers the documented scenarios", () => {
    expect(scenarios).toEqual([
      "byo-ca",
      "custom-resources",
      "network-policy",
      "one-region",
      "three-regions",
    ]);
  });

  for (const scenario of scenarios) {
    it(`renders ${scenario}.yaml as in ${scenario}.golden.yaml`, async () => {
      const { resources, problems } = await loadResources([join(TESTDATA, `${scenario}.yaml`)], "default");
      expect(problems).toEqual([]);
      const rendered = header(scenario) + renderLoaded(resources, "yaml");
      const goldenPath = join(TESTDATA, `${scenario}.golden.yaml`);
      if (UPDATE) await writeFile(goldenPath, rendered);
      const golden = await readFile(goldenPath, "utf8").catch(() => "(missing: run with UPDATE_GOLDEN=1)");
      expect(rendered).toBe(golden);
    });
  }
});
