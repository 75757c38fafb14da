import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderCrds } from "../../../src/api/crds.ts";
import { KINDS } from "../../../src/api/kinds.ts";
import { parseResource } from "../../../src/api/validate.ts";
import { validateValue } from "./openapi-check.ts";

const EXAMPLES_DIR = join(import.meta.dirname, "../../../examples");

async function loadExamples(): Promise<{ file: string; doc: unknown }[]> {
  const files = (await readdir(EXAMPLES_DIR)).filter((f) => f.endsWith(".yaml")).sort();
  const out: { file: string; doc: unknown }[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(EXAMPLES_DIR, file), "utf8"))) {
      expect(doc.errors, file).toEqual([]);
      out.push({ file, doc: doc.toJS() });
    }
  }
  return out;
}

describe("examples/", () => {
  it("contains the documented stack", async () => {
    const files = await readdir(EXAMPLES_DIR);
    for (const name of [
      "cockroachcluster.yaml",
      "zitadel.yaml",
      "zitadel-postgres.yaml",
      "backupschedule.yaml",
      "backup.yaml",
      "restore.yaml",
      "gitsource.yaml",
      "remotecluster.yaml",
    ]) {
      expect(files).toContain(name);
    }
  });

  it("validates every example with parseResource", async () => {
    for (const { file, doc } of await loadExamples()) {
      const result = parseResource(doc);
      expect(result.ok ? [] : result.issues, file).toEqual([]);
    }
  });

  it("validates every example against the generated CRD schema too", async () => {
    const schemas = new Map(
      renderCrds().map((crd) => [crd.spec.names.kind, crd.spec.versions[0]?.schema.openAPIV3Schema]),
    );
    for (const { file, doc } of await loadExamples()) {
      const schema = schemas.get((doc as { kind: string }).kind);
      expect(schema, file).toBeDefined();
      if (schema) expect(validateValue(doc, schema), file).toEqual([]);
    }
  });

  it("covers every kind, without namespaces (the tooling applies them into one)", async () => {
    const examples = await loadExamples();
    const kinds = new Set(examples.map(({ doc }) => (doc as { kind: string }).kind));
    expect([...kinds].sort()).toEqual([...KINDS].sort());
    for (const { file, doc } of examples) {
      expect((doc as { metadata: { namespace?: string } }).metadata.namespace, file).toBeUndefined();
    }
  });

  it("refer to each other consistently", async () => {
    const examples = (await loadExamples()).map(
      ({ doc }) => doc as { kind: string; metadata: { name: string } },
    );
    const names = (kind: string) => examples.filter((e) => e.kind === kind).map((e) => e.metadata.name);
    const text = JSON.stringify(examples);
    // The stack hangs together: Zitadel uses the CockroachCluster, the schedule backs it up, the Restore reads
    // the Backup.
    expect(text).toContain(`"clusterRef":{"name":"${names("CockroachCluster")[0]}"}`);
    expect(text).toContain(`"backupRef":{"name":"${names("Backup")[0]}"}`);
  });
});
