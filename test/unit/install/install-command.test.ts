import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { writeChart, writeInstallManifest } from "../../../src/cli/install.ts";
import { renderChartFiles } from "../../../src/install/chart.ts";
import { DEFAULT_IMAGE, renderInstallYaml } from "../../../src/install/manifests.ts";

const BIN = join(import.meta.dirname, "../../../bin/zitadel-operator.js");
const run = promisify(execFile);

describe("zitadel-operator install", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("--print prints the manifests for the given namespace and image", async () => {
    // process.execPath is the Node 24 npm put first on PATH for the test run.
    const { stdout } = await run(process.execPath, [
      BIN,
      "install",
      "--print",
      "--namespace",
      "ops",
      "--image",
      "registry.example/op:1",
    ]);
    expect(stdout).toBe(renderInstallYaml({ namespace: "ops", image: "registry.example/op:1" }));
  });

  it("refuses several replicas without leader election before writing anything", async () => {
    const err = await run(process.execPath, [BIN, "install", "--print", "--no-leader-elect"]).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => e,
    );
    expect(err).toMatchObject({ code: 1, stdout: "" });
    expect((err as { stderr: string }).stderr).toMatch(/^error: more than one replica needs leader election/);
  });

  it("--out writes the manifests only when they changed", async () => {
    dir = await mkdtemp(join(tmpdir(), "install-"));
    const path = join(dir, "manifests", "install.yaml");
    expect(await writeInstallManifest(path, { image: DEFAULT_IMAGE })).toBe(true);
    expect(await readFile(path, "utf8")).toBe(renderInstallYaml({ image: DEFAULT_IMAGE }));
    expect(await writeInstallManifest(path, { image: DEFAULT_IMAGE })).toBe(false);
  });

  it("--chart writes the chart, removes generated files that vanished, and leaves other files alone", async () => {
    dir = await mkdtemp(join(tmpdir(), "chart-"));
    const first = await writeChart(dir);
    const expected = renderChartFiles();
    expect(first.written).toHaveLength(expected.size);
    await writeFile(join(dir, "templates", "oldkind.yaml"), "stale");
    await writeFile(join(dir, "README.md"), "kept");
    const second = await writeChart(dir);
    expect(second).toEqual({ written: [], removed: [join(dir, "templates", "oldkind.yaml")] });
    expect((await readdir(dir)).sort()).toEqual([
      "Chart.yaml",
      "README.md",
      "crds",
      "templates",
      "values.yaml",
    ]);
  });
});
