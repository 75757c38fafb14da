import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderCrdFiles } from "../../../src/api/crds.ts";
import { writeCrdFiles } from "../../../src/cli/crds.ts";

describe("zitadel-operator crds --out", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes one file per kind, removes CRDs of vanished kinds, and leaves other files alone", async () => {
    dir = await mkdtemp(join(tmpdir(), "crds-"));
    await writeFile(join(dir, "oldkinds.zitadel-operator.dev.yaml"), "stale");
    await writeFile(join(dir, "kustomization.yaml"), "resources: []\n");

    const first = await writeCrdFiles(dir);
    const expected = renderCrdFiles();
    expect(first.written).toHaveLength(expected.size);
    expect(first.removed).toEqual([join(dir, "oldkinds.zitadel-operator.dev.yaml")]);
    expect((await readdir(dir)).sort()).toEqual([...expected.keys(), "kustomization.yaml"].sort());
    for (const [name, content] of expected) expect(await readFile(join(dir, name), "utf8")).toBe(content);

    // A second run finds nothing to do.
    expect(await writeCrdFiles(dir)).toEqual({ written: [], removed: [] });
  });
});
