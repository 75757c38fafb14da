import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AUTHOR_ANNOTATION,
  buildManifests,
  describeProblem,
  GITSOURCE_LABEL,
  type ManifestFile,
  markAsApplied,
  REVISION_ANNOTATION,
  sourceLabelValue,
} from "../../../src/gitops/manifests.ts";
import { encryptSopsFile, KUBERNETES_ENCRYPTED_REGEX } from "../../../src/gitops/sops.ts";

const EXAMPLES = join(import.meta.dirname, "../../../examples");
const example = async (name: string): Promise<string> => readFile(join(EXAMPLES, name), "utf8");

const NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: identity\n";
const CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";
const SECRET =
  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: zitadel-masterkey\nstringData:\n  masterkey: x8Hq3pLw9ZkT2vB6nR4mJ7cY1sD5fG0a\n";

describe("buildManifests", () => {
  let identity = "";
  let recipient = "";
  beforeAll(async () => {
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
  });

  it("orders objects for apply: Namespaces, Secrets and ConfigMaps, then our kinds by dependency", async () => {
    const files: ManifestFile[] = [
      { path: "a-gitsource.yaml", text: await example("gitsource.yaml") },
      { path: "b-zitadel.yaml", text: await example("zitadel.yaml") },
      { path: "c-backup.yaml", text: await example("backupschedule.yaml") },
      { path: "d-db.yaml", text: `${await example("cockroachcluster.yaml")}---\n${CONFIGMAP}` },
      { path: "e-remote.yaml", text: await example("remotecluster.yaml") },
      { path: "f-ns.yaml", text: NAMESPACE },
      {
        path: "g-secret.yaml",
        text: await encryptSopsFile(SECRET, {
          recipients: [recipient],
          encryptedRegex: KUBERNETES_ENCRYPTED_REGEX,
        }),
      },
    ];
    const result = await buildManifests(files, { identities: [identity], defaultNamespace: "identity" });
    if (!result.ok) throw new Error(result.problems.map(describeProblem).join("\n"));
    expect(result.objects.map((o) => o.object.kind)).toEqual([
      "Namespace",
      "ConfigMap",
      "Secret",
      "RemoteCluster",
      "CockroachCluster",
      "Zitadel",
      "BackupSchedule",
      "GitSource",
    ]);
    const secret = result.objects.find((o) => o.object.kind === "Secret");
    expect(secret).toMatchObject({ encrypted: true, file: "g-secret.yaml", index: 1 });
    expect(secret?.object.stringData).toEqual({ masterkey: "x8Hq3pLw9ZkT2vB6nR4mJ7cY1sD5fG0a" });
    expect(secret?.object.metadata?.namespace).toBe("identity");
    expect(result.objects[0]?.object.metadata?.namespace).toBeUndefined();
    expect(result.objects.find((o) => o.object.kind === "ConfigMap")).toMatchObject({
      file: "d-db.yaml",
      index: 2,
    });
    expect(result.objects[0]?.entry).toEqual({ id: "_identity__Namespace", v: "v1" });
  });

  it("refuses the whole revision when one document is invalid, naming file, document and field", async () => {
    const bad = (await example("cockroachcluster.yaml")).replace("nodes: 3", "nodes: -1\n  replicas: 3");
    const result = await buildManifests(
      [
        { path: "ok.yaml", text: CONFIGMAP },
        { path: "db.yaml", text: `${NAMESPACE}---\n${bad}` },
      ],
      { defaultNamespace: "identity" },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toContainEqual({
      file: "db.yaml",
      index: 2,
      path: "spec.nodes",
      message: expect.any(String),
    });
    expect(result.problems).toContainEqual({
      file: "db.yaml",
      index: 2,
      path: "spec.replicas",
      message: "unknown field",
    });
    expect(result.problems.every((p) => p.file === "db.yaml" && p.index === 2)).toBe(true);
    expect(
      describeProblem({ file: "db.yaml", index: 2, path: "spec.replicas", message: "unknown field" }),
    ).toBe("db.yaml document 2: spec.replicas: unknown field");
  });

  it("accepts only Namespaces, Secrets and ConfigMaps among plain Kubernetes kinds", async () => {
    const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n";
    const result = await buildManifests([{ path: "d.yaml", text: deployment }], { defaultNamespace: "n" });
    expect(result).toMatchObject({ ok: false, problems: [{ file: "d.yaml", index: 1, path: "kind" }] });
  });

  it("checks plain kinds' fields too", async () => {
    const text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  uid: abc\ndata:\n  a: 1\n";
    const result = await buildManifests([{ path: "c.yaml", text }], { defaultNamespace: "n" });
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual([
      "metadata.name",
      "metadata.uid",
      "data.a",
    ]);
  });

  it("refuses a Secret whose values are not SOPS-encrypted", async () => {
    const result = await buildManifests([{ path: "s.yaml", text: SECRET }], { defaultNamespace: "n" });
    expect(result).toMatchObject({
      ok: false,
      problems: [{ path: "stringData", message: expect.stringMatching(/SOPS/) }],
    });
  });

  it("refuses SOPS files when decryption is not configured, or the key is wrong, without any value", async () => {
    const text = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const unset = await buildManifests([{ path: "s.yaml", text }], { defaultNamespace: "n" });
    expect(unset).toMatchObject({
      ok: false,
      problems: [
        { file: "s.yaml", path: "sops", message: expect.stringMatching(/no decryption key is configured/) },
      ],
    });
    const wrong = await buildManifests([{ path: "s.yaml", text }], {
      identities: [await generateX25519Identity()],
      defaultNamespace: "n",
    });
    expect(wrong).toMatchObject({
      ok: false,
      problems: [
        { file: "s.yaml", path: "sops", message: expect.stringMatching(/none of the given age identities/) },
      ],
    });
    expect(JSON.stringify(wrong)).not.toContain("x8Hq3pLw9");
  });

  it("refuses invalid YAML, duplicates, and documents that are not objects", async () => {
    const result = await buildManifests(
      [
        { path: "a.yaml", text: CONFIGMAP },
        { path: "b.yaml", text: `${CONFIGMAP}---\n- a list\n` },
        { path: "c.yaml", text: "a: [\n" },
      ],
      { defaultNamespace: "n" },
    );
    expect(result.ok ? [] : result.problems.map((p) => `${p.file}:${p.index}:${p.path}`)).toEqual([
      "b.yaml:2:",
      "c.yaml:1:",
      "b.yaml:1:metadata.name",
    ]);
  });

  it("builds nothing from nothing: an empty revision is ok and has no objects", async () => {
    expect(
      await buildManifests([{ path: "empty.yaml", text: "# nothing yet\n" }], { defaultNamespace: "n" }),
    ).toEqual({ ok: true, objects: [] });
  });
});

describe("markAsApplied", () => {
  it("labels the object with its GitSource and annotates the commit and author, leaving the input alone", () => {
    const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", labels: { app: "a" } } };
    const marked = markAsApplied(object, {
      source: { namespace: "flux", name: "platform" },
      revision: "0123456789abcdef0123456789abcdef01234567",
      author: "Ada Lovelace <ada@example.com>",
    });
    expect(marked.metadata?.labels).toEqual({ app: "a", [GITSOURCE_LABEL]: "flux.platform" });
    expect(marked.metadata?.annotations).toMatchObject({
      [REVISION_ANNOTATION]: "0123456789abcdef0123456789abcdef01234567",
      [AUTHOR_ANNOTATION]: "Ada Lovelace <ada@example.com>",
    });
    expect(object.metadata.labels).toEqual({ app: "a" });
  });

  it("keeps the label value within 63 characters for long names", () => {
    const value = sourceLabelValue({ namespace: "n".repeat(63), name: "g".repeat(63) });
    expect(value.length).toBeLessThanOrEqual(63);
    expect(value).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    expect(value).not.toBe(sourceLabelValue({ namespace: "n".repeat(63), name: `${"g".repeat(62)}h` }));
  });
});
