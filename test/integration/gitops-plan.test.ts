// `zitadel-operator plan` and `secret` as users run them: real Git repositories, real SOPS files, and for
// --kubeconfig the shared control plane, where nothing may be written.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { API_VERSION } from "../../src/api/group.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { markAsApplied } from "../../src/gitops/manifests.ts";
import { KubeClient } from "../../src/runtime/kube.ts";
import { TestRepo } from "../fixtures/gitops/git-repo.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/zitadel-operator.js");
const exec = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], input?: string): Promise<Outcome> {
  const child = exec(process.execPath, [BIN, ...args], { cwd: ROOT });
  if (input !== undefined) child.child.stdin?.end(input);
  else child.child.stdin?.end();
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const PLAIN_SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: zitadel-masterkey
stringData:
  masterkey: abcdefghijklmnopqrstuvwxyz012345
`;
const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: "${value}"\n`;

describe("zitadel-operator secret and plan", () => {
  let dir = "";
  let keyFile = "";
  let repo: TestRepo;
  let v1 = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-plan-"));
    const identity = await generateX25519Identity();
    keyFile = join(dir, "age.agekey");
    await writeFile(keyFile, `# public key: ${await identityToRecipient(identity)}\n${identity}\n`, {
      mode: 0o600,
    });
    repo = await TestRepo.create(dir);
    const encrypted = await cli(["secret", "encrypt", "--age-key-file", keyFile], PLAIN_SECRET);
    expect(encrypted.code, encrypted.stderr).toBe(0);
    v1 = await repo.commit("first", {
      "prod/secret.yaml": encrypted.stdout,
      "prod/db.yaml": await readFile(join(ROOT, "examples/cockroachcluster.yaml"), "utf8"),
      "prod/zitadel.yaml": await readFile(join(ROOT, "examples/zitadel.yaml"), "utf8"),
    });
    await repo.tag("v1.0.0");
    await repo.commit("second", { "prod/settings.yaml": configMap("settings", "1") });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("secret encrypt | secret decrypt gives the plaintext back, and the file never holds it", async () => {
    const encrypted = await cli(["secret", "encrypt", "--age-key-file", keyFile], PLAIN_SECRET);
    expect(encrypted.stdout).not.toContain("abcdefghijklmnopqrstuvwxyz012345");
    expect(encrypted.stdout).toContain("name: zitadel-masterkey");
    const decrypted = await cli(["secret", "decrypt", "--age-key-file", keyFile], encrypted.stdout);
    expect(decrypted).toMatchObject({ code: 0, stdout: PLAIN_SECRET });
  });

  it("plan prints the apply order of the files on disk, without a cluster", async () => {
    const out = await cli(["plan", repo.dir, "--path", "prod", "--age-key-file", keyFile, "-n", "identity"]);
    expect(out.code, out.stderr).toBe(0);
    const kinds = out.stdout
      .split("\n")
      .filter((l) => /^\s+\d+\. /.test(l))
      .map((l) => l.trim().split(/\s+/)[1]);
    // Secrets and ConfigMaps share a stage; within it, files in name order (secret.yaml, settings.yaml).
    expect(kinds).toEqual(["Secret", "ConfigMap", "CockroachCluster", "Zitadel"]);
    expect(out.stdout).toContain("Secret identity/zitadel-masterkey (SOPS)");
    expect(out.stdout).not.toContain("abcdefghijklmnopqrstuvwxyz012345");
  });

  it("plan --ref checks out the revision as a sync would", async () => {
    const out = await cli([
      "plan",
      repo.dir,
      "--path",
      "prod",
      "--ref",
      "tag:v1.0.0",
      "--age-key-file",
      keyFile,
    ]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain(`revision ${v1} (refs/tags/v1.0.0)`);
    expect(out.stdout).not.toContain("ConfigMap");
  });

  it("plan lists every problem with file, document and field, and fails", async () => {
    const broken = await TestRepo.create(dir);
    await broken.commit("broken", {
      "a.yaml": `${configMap("ok", "1")}---\n${(await readFile(join(ROOT, "examples/zitadel.yaml"), "utf8")).replace("spec:", "spec:\n  replica: 2")}`,
      "b.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
    });
    const out = await cli(["plan", broken.dir]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain("a.yaml document 2: spec.replica: unknown field");
    expect(out.stdout).toContain("b.yaml document 1: kind: apps/v1 Deployment is not allowed");
    expect(out.stderr).toContain("a sync would apply nothing");
  });

  describe("with --kubeconfig", () => {
    let client: KubeClient;
    let namespace = "";
    const source = () => ({ namespace, name: "platform" });

    beforeAll(async () => {
      const kc = sharedKubeConfig();
      client = new KubeClient(kc);
      await installCrds(client, () => {});
      // An established CRD's storage may still answer "storage is (re)initializing" for a moment.
      await eventually(async () => {
        for (const kind of ["CockroachCluster", "GitSource", "Zitadel"]) {
          await client.list(await client.resourceType(API_VERSION, kind), { namespace: "default" });
        }
      });
      namespace = await testNamespace(kc, "plan");
      const applied = (yaml: string) => ({
        ...parseConfigMap(yaml),
        metadata: { ...parseConfigMap(yaml).metadata, namespace },
      });
      const from = { source: source(), revision: "0".repeat(40) };
      // The GitSource being previewed: its prune settings apply (it has no inventory in status yet).
      await client.apply({
        apiVersion: API_VERSION,
        kind: "GitSource",
        metadata: { name: "platform", namespace },
        spec: { url: "https://git.example.com/platform.git", prune: true, maxPruneFraction: 1 },
      });
      // What an earlier sync left: "settings" with another value, "unchanged" as in Git, and stale objects.
      await client.apply(markAsApplied(applied(configMap("settings", "0")), from));
      await client.apply(markAsApplied(applied(configMap("stale", "x")), from));
      await client.apply(
        markAsApplied(
          {
            apiVersion: API_VERSION,
            kind: "CockroachCluster",
            metadata: { name: "old-db", namespace },
            spec: { version: "v25.2.4", nodes: 3 },
          },
          from,
        ),
      );
    });

    it("shows create, change (with field paths) and prune by server-side dry run, writing nothing", async () => {
      const out = await cli([
        "plan",
        repo.dir,
        "--path",
        "prod",
        "--age-key-file",
        keyFile,
        "-n",
        namespace,
        "--source",
        `${namespace}/platform`,
        "--kubeconfig",
        inject("controlPlane").kubeconfigPath,
        "-o",
        "json",
      ]);
      expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
      const plan = JSON.parse(out.stdout) as {
        objects: { kind: string; name: string; action: string; fields?: string[] }[];
        prune: { delete: string[]; refused: { id: string; reason: string }[] };
      };
      expect(plan.objects.map((o) => [o.kind, o.name, o.action])).toEqual([
        ["Secret", "zitadel-masterkey", "create"],
        ["ConfigMap", "settings", "change"],
        ["CockroachCluster", "identity-db", "create"],
        ["Zitadel", "zitadel", "create"],
      ]);
      expect(plan.objects[1]?.fields).toEqual(["data.a"]);
      expect(plan.prune.delete).toEqual([`${namespace}_stale__ConfigMap`]);
      expect(plan.prune.refused).toEqual([
        expect.objectContaining({
          id: `${namespace}_old-db_zitadel-operator.dev_CockroachCluster`,
          reason: "DataBearing",
        }),
      ]);
      // Dry run only: nothing was created or changed.
      const secretType = await client.resourceType("v1", "Secret");
      expect(await client.get(secretType, namespace, "zitadel-masterkey")).toBeUndefined();
      const cmType = await client.resourceType("v1", "ConfigMap");
      expect((await client.get<{ data: { a: string } }>(cmType, namespace, "settings"))?.data.a).toBe("0");
    });

    it("shows an object applied from the same files as unchanged, whatever the commit", async () => {
      const from = { source: source(), revision: "1".repeat(40) };
      await client.apply(
        markAsApplied(
          { ...parseConfigMap(configMap("settings", "1")), metadata: { name: "settings", namespace } },
          from,
        ),
      );
      const out = await cli([
        "plan",
        repo.dir,
        "--path",
        "prod",
        "--age-key-file",
        keyFile,
        "-n",
        namespace,
        "--source",
        `${namespace}/platform`,
        "--kubeconfig",
        inject("controlPlane").kubeconfigPath,
      ]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(new RegExp(`ConfigMap ${namespace}/settings\\s+unchanged`));
      expect(out.stdout).toMatch(/delete\s+ConfigMap .*\/stale/);
    });
  });
});

function parseConfigMap(yaml: string): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data: Record<string, string>;
} {
  const name = /name: (\S+)/.exec(yaml)?.[1] ?? "";
  const value = /a: "([^"]*)"/.exec(yaml)?.[1] ?? "";
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: value } };
}
