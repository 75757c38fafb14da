import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const ROOT = join(import.meta.dirname, "../../..");
const BIN = join(ROOT, "bin/zitadel-operator.js");
const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

// process.execPath is the Node 24 that npm put first on PATH for the test run.
async function render(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, "render", ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const CLUSTER = `apiVersion: zitadel-operator.dev/v1alpha1
kind: CockroachCluster
metadata:
  name: crdb
spec:
  version: v25.2.4
  nodes: 3
`;

describe("zitadel-operator render", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "render-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("renders the examples without a cluster, the same way every time", async () => {
    const first = await render("-f", "examples");
    expect(first).toMatchObject({ code: 0, stderr: "" });
    const kinds = parseAllDocuments(first.stdout).map((doc) => {
      const obj = doc.toJS() as { kind: string; metadata: { name: string } };
      return `${obj.kind}/${obj.metadata.name}`;
    });
    expect(kinds).toContain("StatefulSet/identity-db");
    expect(kinds).toContain("Job/identity-db-init");
    expect((await render("-f", "examples")).stdout).toBe(first.stdout);
  });

  it("names the file, document and field of every invalid resource, exits 1 and prints nothing else", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      `${CLUSTER}---\napiVersion: zitadel-operator.dev/v1alpha1\nkind: CockroachCluster\nmetadata:\n  name: two\nspec:\n  version: latest\n  nodes: 1\n`,
    );
    const outcome = await render("-f", file);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe("");
    expect(outcome.stderr).toBe(
      [
        `${file}:2: spec.version: must be a version like "v25.2.4"`,
        `${file}:2: spec.nodes: fewer than 3 nodes cannot survive a node failure; set allowUnsafeNodeCount: true to run it anyway`,
        "error: 2 problems in the input; nothing rendered",
        "",
      ].join("\n"),
    );
  });

  it("reports broken YAML and missing files the same way, without a stack trace", async () => {
    const file = join(dir, "broken.yaml");
    await writeFile(file, `${CLUSTER}---\nkind: [unclosed\n`);
    const outcome = await render("-f", file, "-f", join(dir, "missing.yaml"));
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(new RegExp(`^${file}:2: invalid YAML: `, "m"));
    expect(outcome.stderr).toContain(`${join(dir, "missing.yaml")}: no such file or directory`);
    expect(outcome.stderr).not.toMatch(/^\s+at /m);
  });

  it("puts resources without a namespace into --namespace, and prints a JSON List with -o json", async () => {
    const file = join(dir, "cluster.yaml");
    await writeFile(file, CLUSTER);
    const outcome = await render("-f", file, "-o", "json", "-n", "identity");
    expect(outcome.code).toBe(0);
    const list = JSON.parse(outcome.stdout) as { kind: string; items: { metadata: { namespace: string } }[] };
    expect(list.kind).toBe("List");
    expect(new Set(list.items.map((item) => item.metadata.namespace))).toEqual(new Set(["identity"]));
  });

  it("refuses an unknown output format", async () => {
    const outcome = await render("-f", "examples", "-o", "xml");
    expect(outcome).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "error: --output must be yaml or json, not xml\n",
    });
  });
});
