import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { HELM, renderChartFiles } from "../../../src/install/chart.ts";
import {
  DEFAULT_IMAGE,
  DEFAULT_IMAGE_REPOSITORY,
  renderInstallManifests,
} from "../../../src/install/manifests.ts";

const ROOT = join(import.meta.dirname, "../../..");
const CHART = join(ROOT, "charts/zitadel-operator");

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

interface Values {
  image: { repository: string; tag: string };
  replicas: number;
  leaderElect: boolean;
}

/**
 * Helm, for exactly the expressions the generated templates use: an unknown expression fails the test.
 * `{{-` trims the whitespace before it, as in Go templates.
 */
function renderTemplate(text: string, values: Values, namespace: string, appVersion: string): string {
  const substituted = text
    .replaceAll(HELM.image, JSON.stringify(`${values.image.repository}:${values.image.tag || appVersion}`))
    .replaceAll(HELM.namespace, namespace)
    .replaceAll(HELM.replicas, String(values.replicas));
  const conditions = new Map<string, boolean>([
    [HELM.ifLeaderElect, values.leaderElect],
    [HELM.ifReplicated, values.replicas > 1],
  ]);
  let out = "";
  const skipping: boolean[] = [];
  for (const token of substituted.split(/(\s*\{\{-[^}]*\}\}|\{\{[^}]*\}\})/)) {
    const expr = token.trimStart();
    if (!expr.startsWith("{{")) {
      if (!skipping.includes(true)) out += token;
    } else if (conditions.has(expr)) {
      skipping.push(!conditions.get(expr));
    } else if (expr === HELM.end) {
      skipping.pop();
    } else {
      throw new Error(`the test's Helm does not know ${expr}`);
    }
  }
  return out;
}

function renderChart(values: Values, namespace: string): unknown[] {
  const files = renderChartFiles();
  const { appVersion } = parse(files.get("Chart.yaml") ?? "") as { appVersion: string };
  return [...files]
    .filter(([name]) => name.startsWith("templates/") && name.endsWith(".yaml"))
    .flatMap(([, text]) => parseAllDocuments(renderTemplate(text, values, namespace, appVersion)))
    .map((d) => d.toJS())
    .filter((obj) => obj !== null);
}

function byKindAndName(objects: unknown[]): unknown[] {
  const key = (o: unknown) => {
    const obj = o as { kind: string; metadata: { name: string } };
    return `${obj.kind}/${obj.metadata.name}`;
  };
  return [...objects].sort((a, b) => key(a).localeCompare(key(b)));
}

describe("charts/zitadel-operator", () => {
  it("matches `zitadel-operator install --chart charts/zitadel-operator` (run it after changing src/install or src/api)", async () => {
    const expected = renderChartFiles();
    expect(await filesUnder(CHART)).toEqual([...expected.keys()].sort());
    for (const [name, content] of expected)
      expect(await readFile(join(CHART, name), "utf8"), name).toBe(content);
  });

  it("carries the same CRDs as crds/, byte for byte", async () => {
    const ours = (await readdir(join(ROOT, "crds"))).filter((n) => n.endsWith(".yaml")).sort();
    expect((await readdir(join(CHART, "crds"))).sort()).toEqual(ours);
    for (const name of ours) {
      expect(await readFile(join(CHART, "crds", name), "utf8"), name).toBe(
        await readFile(join(ROOT, "crds", name), "utf8"),
      );
    }
  });

  it.each([
    { replicas: 2, leaderElect: true, tag: "" },
    { replicas: 1, leaderElect: true, tag: "v9.9.9" },
    { replicas: 1, leaderElect: false, tag: "" },
    { replicas: 3, leaderElect: true, tag: "" },
  ])(
    "renders the objects of install.yaml for replicas=$replicas leaderElect=$leaderElect tag='$tag'",
    (v) => {
      const defaults = parse(renderChartFiles().get("values.yaml") ?? "") as Values;
      expect(defaults).toEqual({
        image: { repository: DEFAULT_IMAGE_REPOSITORY, tag: "" },
        replicas: 2,
        leaderElect: true,
      });
      const values: Values = {
        image: { repository: defaults.image.repository, tag: v.tag },
        replicas: v.replicas,
        leaderElect: v.leaderElect,
      };
      const chart = renderChart(values, "identity");
      const appVersion = (parse(renderChartFiles().get("Chart.yaml") ?? "") as { appVersion: string })
        .appVersion;
      const expected = renderInstallManifests({
        namespace: "identity",
        image: `${DEFAULT_IMAGE_REPOSITORY}:${v.tag || appVersion}`,
        replicas: v.replicas,
        leaderElect: v.leaderElect,
        // Helm does not create the release namespace's labels, and installs CRDs from crds/.
      }).filter((o) => o.kind !== "Namespace" && o.kind !== "CustomResourceDefinition");
      expect(byKindAndName(chart)).toEqual(byKindAndName(JSON.parse(JSON.stringify(expected))));
    },
  );

  it("has a Chart.yaml whose appVersion is the version of the default image", () => {
    const chart = parse(renderChartFiles().get("Chart.yaml") ?? "") as Record<string, string>;
    expect(chart).toMatchObject({ apiVersion: "v2", name: "zitadel-operator", type: "application" });
    expect(chart.appVersion).toBe(`v${chart.version}`);
    expect(DEFAULT_IMAGE).toBe(`${DEFAULT_IMAGE_REPOSITORY}:${chart.appVersion}`);
  });
});
