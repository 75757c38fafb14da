// The GitSource controller on the real control plane, with real Git repositories: commits that add, change and
// remove objects are applied and pruned; a force-push is followed; every kind of bad revision keeps the last good
// state and prunes nothing; drift is set back; the webhook receiver triggers a sync.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Condition } from "../../src/api/conditions.ts";
import type { GitSourceStatus } from "../../src/api/gitsource.ts";
import { API_VERSION } from "../../src/api/group.ts";
import {
  ALLOW_LARGE_PRUNE_ANNOTATION,
  GITSOURCE_TYPE,
  REQUESTED_AT_ANNOTATION,
} from "../../src/controllers/gitsource/controller.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { PRUNE_ALLOWED, PRUNE_ANNOTATION } from "../../src/gitops/inventory.ts";
import { AUTHOR_ANNOTATION, GITSOURCE_LABEL, REVISION_ANNOTATION } from "../../src/gitops/manifests.ts";
import { sign, startReceiver } from "../../src/gitops/receiver.ts";
import { encryptSopsFile, KUBERNETES_ENCRYPTED_REGEX } from "../../src/gitops/sops.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { git, TestRepo } from "../fixtures/gitops/git-repo.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const run = promisify(execFile);
const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
const TRIGGER_MANAGER = "test-trigger";

type Source = KubeObject & { status?: GitSourceStatus & { conditions?: Condition[] } };
type ConfigMap = KubeObject & { data?: Record<string, string> };

const configMap = (name: string, data: Record<string, string>) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"\n`)
    .join("")}`;

const condition = (source: Source | undefined, type: string) =>
  source?.status?.conditions?.find((c) => c.type === type);

describe("GitSource", () => {
  const kc = sharedKubeConfig();
  const client = new KubeClient(kc);
  let operator: Manager;
  let ns = "";
  let dir = "";
  let repo: TestRepo;
  let identity = "";
  let recipient = "";
  let triggers = 0;

  const applySource = async (name: string, spec: Record<string, unknown>) => {
    await client.apply({
      apiVersion: API_VERSION,
      kind: "GitSource",
      metadata: { name, namespace: ns },
      spec: { url: repo.url, path: "prod", interval: "1h", prune: true, ...spec },
    });
  };
  const getSource = (name: string) => client.get<Source>(GITSOURCE_TYPE, ns, name);
  /** Asks for a sync through the annotation and waits until the controller has handled it. */
  const sync = async (name: string): Promise<Source> => {
    const value = `t-${++triggers}-${Date.now()}`;
    await client.apply(
      {
        apiVersion: API_VERSION,
        kind: "GitSource",
        metadata: { name, namespace: ns, annotations: { [REQUESTED_AT_ANNOTATION]: value } },
      },
      { fieldManager: TRIGGER_MANAGER },
    );
    return eventually(
      async () => {
        const source = await getSource(name);
        expect(source?.status?.lastHandledReconcileAt).toBe(value);
        return source as Source;
      },
      { timeoutMs: 60_000 },
    );
  };
  const configMaps = async (): Promise<Record<string, Record<string, string>>> => {
    const { items } = await client.list<ConfigMap>(CONFIGMAP, {
      namespace: ns,
      labelSelector: GITSOURCE_LABEL,
    });
    return Object.fromEntries(items.map((c) => [c.metadata?.name ?? "", c.data ?? {}]));
  };
  const eventNotes = async (name: string): Promise<string[]> => {
    const type = await client.resourceType("events.k8s.io/v1", "Event");
    const { items } = await client.list<KubeObject & { note?: string; regarding?: { name?: string } }>(type, {
      namespace: ns,
    });
    return items.filter((e) => e.regarding?.name === name).map((e) => `${e.reason}: ${e.note}`);
  };

  beforeAll(async () => {
    await installCrds(client, () => {});
    ns = await testNamespace(kc, "gs");
    dir = await mkdtemp(join(tmpdir(), "gitsource-"));
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [ns] });
    await operator.start();
  });
  afterAll(async () => {
    await operator?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    repo = await TestRepo.create(dir);
  });

  it("applies a commit's objects into its namespace, labelled with the source and annotated with commit and author", async () => {
    const head = await repo.commit("first", {
      "prod/a.yaml": configMap("a", { x: "1" }),
      "prod/b.yaml": configMap("b", { y: "1" }),
    });
    await applySource("first", {});
    const source = await sync("first");
    expect(condition(source, "Ready")).toMatchObject({ status: "True", reason: "ReconciliationSucceeded" });
    expect(source.status).toMatchObject({
      lastAppliedRevision: `main@sha1:${head}`,
      lastAttemptedRevision: `main@sha1:${head}`,
      lastFetchedRevision: `main@sha1:${head}`,
      observedGeneration: source.metadata?.generation,
      inventory: {
        entries: [
          { id: `${ns}_a__ConfigMap`, v: "v1" },
          { id: `${ns}_b__ConfigMap`, v: "v1" },
        ],
      },
    });
    const a = await client.get<ConfigMap>(CONFIGMAP, ns, "a");
    expect(a?.metadata?.labels?.[GITSOURCE_LABEL]).toBe(`${ns}.first`);
    expect(a?.metadata?.annotations).toMatchObject({
      [REVISION_ANNOTATION]: head,
      [AUTHOR_ANNOTATION]: "Ada Lovelace <ada@example.com>",
    });
    const managers = (a?.metadata?.managedFields as { manager?: string }[] | undefined)?.map(
      (m) => m.manager,
    );
    expect(managers).toContain(`gitsource/${ns}/first`);
  });

  it("applies a commit that adds, changes and removes objects, prunes the removed one, and says which fields changed", async () => {
    await repo.commit("first", {
      "prod/a.yaml": configMap("a2", { x: "1" }),
      "prod/b.yaml": configMap("b2", { y: "1" }),
      "prod/c.yaml": configMap("c2", { z: "1" }),
    });
    await applySource("second", {});
    await sync("second");
    await rm(join(repo.dir, "prod/c.yaml"));
    const head = await repo.commit("second", {
      "prod/a.yaml": configMap("a2", { x: "2" }),
      "prod/d.yaml": configMap("d2", { w: "1" }),
    });
    const source = await sync("second");
    expect(source.status?.lastAppliedRevision).toBe(`main@sha1:${head}`);
    expect(await configMaps()).toMatchObject({ a2: { x: "2" }, b2: { y: "1" }, d2: { w: "1" } });
    expect((await configMaps()).c2).toBeUndefined();
    expect(source.status?.inventory?.entries.map((e) => e.id)).toEqual(
      ["a2", "b2", "d2"].map((n) => `${ns}_${n}__ConfigMap`),
    );
    const a2 = await client.get<ConfigMap>(CONFIGMAP, ns, "a2");
    const b2 = await client.get<ConfigMap>(CONFIGMAP, ns, "b2");
    // The revision annotation names the commit that last changed the object.
    expect(a2?.metadata?.annotations?.[REVISION_ANNOTATION]).toBe(head);
    expect(b2?.metadata?.annotations?.[REVISION_ANNOTATION]).not.toBe(head);
    const notes = await eventNotes("second");
    expect(notes).toContainEqual(
      expect.stringMatching(/^Configured: ConfigMap \S+\/a2 changed by .*: data\.x$/),
    );
    expect(notes).toContainEqual(
      expect.stringMatching(/^Created: ConfigMap \S+\/d2 created from main@sha1:/),
    );
    expect(notes).toContainEqual(expect.stringMatching(/^Pruned: ConfigMap \S+\/c2 deleted/));
  });

  it("writes no object, not even a SOPS-decrypted Secret, when the revision and the cluster agree", async () => {
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "steady-age", namespace: ns },
      stringData: { "identity.agekey": identity },
    });
    await repo.commit("first", {
      "prod/a.yaml": configMap("steady", { x: "1" }),
      "prod/secret.yaml": await encryptSopsFile(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: steady\nstringData:\n  token: t0ken\n",
        { recipients: [recipient], encryptedRegex: KUBERNETES_ENCRYPTED_REGEX },
      ),
    });
    await applySource("steady", { decryption: { secretRef: { name: "steady-age" } } });
    await sync("steady");
    const versions = async () => [
      (await client.get(CONFIGMAP, ns, "steady"))?.metadata?.resourceVersion,
      (await client.get(SECRET, ns, "steady"))?.metadata?.resourceVersion,
    ];
    const before = await versions();
    await repo.commit("an unrelated commit", { "README.md": "docs\n" });
    const source = await sync("steady");
    expect(condition(source, "Ready")?.status).toBe("True");
    expect(await versions()).toEqual(before);
  });

  it("sets back a field changed by hand, with an Event naming the field but not its value", async () => {
    await repo.commit("first", { "prod/a.yaml": configMap("drifting", { x: "from-git" }) });
    await applySource("drift", {});
    await sync("drift");
    await client.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "drifting", namespace: ns },
        data: { x: "by-hand" },
      },
      { fieldManager: "kubectl-edit" },
    );
    await sync("drift");
    expect((await configMaps()).drifting).toEqual({ x: "from-git" });
    const notes = await eventNotes("drift");
    const drift = notes.find((n) => n.startsWith("DriftCorrected:"));
    expect(drift).toMatch(/ConfigMap \S+\/drifting was changed outside Git; set back: data\.x$/);
    expect(drift).not.toContain("by-hand");

    await client.delete(CONFIGMAP, ns, "drifting");
    await sync("drift");
    expect((await configMaps()).drifting).toEqual({ x: "from-git" });
    expect(await eventNotes("drift")).toContainEqual(
      expect.stringMatching(
        /^DriftCorrected: ConfigMap \S+\/drifting was deleted outside Git; created again$/,
      ),
    );
  });

  it("follows a force-push back to an older commit: objects return to it and newer ones are pruned", async () => {
    const old = await repo.commit("old", { "prod/a.yaml": configMap("fp-a", { x: "old" }) });
    await applySource("forcepush", {});
    await sync("forcepush");
    await repo.commit("new", {
      "prod/a.yaml": configMap("fp-a", { x: "new" }),
      "prod/b.yaml": configMap("fp-b", { y: "new" }),
    });
    await sync("forcepush");
    expect(await configMaps()).toMatchObject({ "fp-a": { x: "new" }, "fp-b": { y: "new" } });
    await repo.resetBranch("main", old);
    const source = await sync("forcepush");
    expect(source.status?.lastAppliedRevision).toBe(`main@sha1:${old}`);
    const cms = await configMaps();
    expect(cms["fp-a"]).toEqual({ x: "old" });
    expect(cms["fp-b"]).toBeUndefined();
  });

  describe("a bad revision keeps the last good state, says why, and prunes nothing", () => {
    let good = "";
    let goodAt = "";
    const name = "guarded";

    // A revision that would remove `keep` if it were applied, plus whatever breaks it.
    const breakWith = async (files: Record<string, string>): Promise<string> => {
      await rm(join(repo.dir, "prod/keep.yaml"));
      return repo.commit("bad", files);
    };
    const expectLastGoodState = async (source: Source) => {
      expect(source.status?.lastAppliedRevision).toBe(goodAt);
      expect(await configMaps()).toMatchObject({ keep: { k: "1" }, main: { m: "1" } });
      expect(source.status?.inventory?.entries.map((e) => e.id)).toContain(`${ns}_keep__ConfigMap`);
    };

    beforeEach(async () => {
      good = await repo.commit("good", {
        "prod/keep.yaml": configMap("keep", { k: "1" }),
        "prod/main.yaml": configMap("main", { m: "1" }),
        "prod/secret.yaml": await encryptSopsFile(
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: s3cr3t-v4lue\n",
          { recipients: [recipient], encryptedRegex: KUBERNETES_ENCRYPTED_REGEX },
        ),
      });
      goodAt = `main@sha1:${good}`;
      await client.apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "sops-age", namespace: ns },
        stringData: { "identity.agekey": identity },
      });
      await applySource(name, { url: repo.url, decryption: { secretRef: { name: "sops-age" } } });
      const source = await sync(name);
      expect(source.status?.lastAppliedRevision).toBe(goodAt);
      const secret = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, ns, "token");
      expect(Buffer.from(secret?.data?.token ?? "", "base64").toString()).toBe("s3cr3t-v4lue");
    });

    it("a broken YAML file: ValidationFailed naming the file, Stalled", async () => {
      const bad = await breakWith({ "prod/broken.yaml": "apiVersion: v1\nkind: ConfigMap\n  metadata: [\n" });
      const source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "ValidationFailed" });
      expect(condition(source, "Ready")?.message).toContain("prod/broken.yaml");
      expect(condition(source, "Stalled")).toMatchObject({ status: "True", reason: "ValidationFailed" });
      expect(source.status?.lastAttemptedRevision).toBe(`main@sha1:${bad}`);
      await expectLastGoodState(source);
    });

    it("a schema-invalid resource: ValidationFailed naming the field", async () => {
      await breakWith({
        "prod/backup.yaml": `apiVersion: ${API_VERSION}\nkind: Backup\nmetadata:\n  name: b\nspec:\n  verify: "often"\n`,
      });
      const source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "ValidationFailed" });
      expect(condition(source, "Ready")?.message).toContain("prod/backup.yaml document 1");
      await expectLastGoodState(source);
    });

    it("a wrong decryption key: DecryptionFailed", async () => {
      await breakWith({ "prod/main.yaml": configMap("main", { m: "1" }) });
      await client.apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "sops-age", namespace: ns },
        stringData: { "identity.agekey": await generateX25519Identity() },
      });
      const source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "DecryptionFailed" });
      await expectLastGoodState(source);
    });

    it("a tampered SOPS file: DecryptionFailed", async () => {
      const text = await readFile(join(repo.dir, "prod/secret.yaml"), "utf8");
      const tampered = text.replace(
        /ENC\[AES256_GCM,data:(.)/,
        (_m, c: string) => `ENC[AES256_GCM,data:${c === "A" ? "B" : "A"}`,
      );
      expect(tampered).not.toBe(text);
      await breakWith({ "prod/secret.yaml": tampered });
      const source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "DecryptionFailed" });
      expect(condition(source, "Ready")?.message).toContain("prod/secret.yaml");
      await expectLastGoodState(source);
    });

    it("an unreachable remote: FetchFailed, Reconciling with retries", async () => {
      await applySource(name, {
        url: `file://${join(dir, "no-such-repository")}`,
        decryption: { secretRef: { name: "sops-age" } },
      });
      const source = await eventually(async () => {
        const s = await getSource(name);
        expect(s?.status?.observedGeneration).toBe(s?.metadata?.generation);
        expect(condition(s, "Ready")?.reason).toBe("FetchFailed");
        return s as Source;
      });
      expect(condition(source, "Reconciling")).toMatchObject({
        status: "True",
        reason: "ProgressingWithRetry",
      });
      await expectLastGoodState(source);
    });

    it("a revision that parses to nothing: EmptyRevision, nothing pruned", async () => {
      await rm(join(repo.dir, "prod/main.yaml"));
      await rm(join(repo.dir, "prod/secret.yaml"));
      await breakWith({ "prod/README.md": "moved elsewhere\n" });
      const source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "EmptyRevision" });
      expect(condition(source, "Stalled")?.status).toBe("True");
      expect(await configMaps()).toMatchObject({ keep: { k: "1" }, main: { m: "1" } });
      expect(source.status?.inventory?.entries.map((e) => e.id)).toEqual(
        expect.arrayContaining([`${ns}_keep__ConfigMap`, `${ns}_main__ConfigMap`, `${ns}_token__Secret`]),
      );
    });

    it("a prune of more than maxPruneFraction waits for consent given for that commit", async () => {
      await rm(join(repo.dir, "prod/main.yaml"));
      const head = await breakWith({});
      let source = await sync(name);
      expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "PruneTooLarge" });
      expect(source.status?.lastAppliedRevision).toBe(`main@sha1:${head}`);
      expect(Object.keys(await configMaps())).toEqual(expect.arrayContaining(["keep", "main"]));
      await client.apply(
        {
          apiVersion: API_VERSION,
          kind: "GitSource",
          metadata: { name, namespace: ns, annotations: { [ALLOW_LARGE_PRUNE_ANNOTATION]: head } },
        },
        { fieldManager: "test-consent" },
      );
      source = await sync(name);
      expect(condition(source, "Ready")?.status).toBe("True");
      const cms = await configMaps();
      expect(cms.keep).toBeUndefined();
      expect(cms.main).toBeUndefined();
    });
  });

  it("refuses an unsigned commit when verification is on: SourceVerified=False, last signed state kept", async () => {
    const key = join(dir, `signer-${Date.now()}`);
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "signers", namespace: ns },
      stringData: { "ops.sshpub": await readFile(`${key}.pub`, "utf8") },
    });
    await writeFile(join(repo.dir, "signed.yaml"), configMap("signed", { s: "1" }));
    await git(repo.dir, "add", "--all");
    await git(
      repo.dir,
      "-c",
      "gpg.format=ssh",
      "-c",
      `user.signingkey=${key}`,
      "commit",
      "-q",
      "-S",
      "-m",
      "signed",
    );
    const signed = await git(repo.dir, "rev-parse", "HEAD");
    await applySource("verified", { path: ".", verify: { secretRef: { name: "signers" } } });
    let source = await sync("verified");
    expect(condition(source, "SourceVerified")).toMatchObject({ status: "True" });
    await rm(join(repo.dir, "signed.yaml"));
    await repo.commit("unsigned", { "other.yaml": configMap("unsigned", { u: "1" }) });
    source = await sync("verified");
    expect(condition(source, "SourceVerified")).toMatchObject({
      status: "False",
      reason: "VerificationFailed",
    });
    expect(condition(source, "Ready")).toMatchObject({ status: "False", reason: "VerificationFailed" });
    expect(source.status?.lastAppliedRevision).toBe(`main@sha1:${signed}`);
    const cms = await configMaps();
    expect(cms.signed).toEqual({ s: "1" });
    expect(cms.unsigned).toBeUndefined();
  });

  it("never prunes a data-bearing object without its own opt-in", async () => {
    await repo.commit("first", {
      "prod/a.yaml": configMap("db-a", { x: "1" }),
      "prod/b.yaml": configMap("db-b", { x: "1" }),
      "prod/backup.yaml": (
        await readFile(join(import.meta.dirname, "../../examples/backup.yaml"), "utf8")
      ).replace("zitadel-before-v2-72", "kept-backup"),
    });
    await applySource("databearing", {});
    await sync("databearing");
    await rm(join(repo.dir, "prod/backup.yaml"));
    await repo.commit("drop the backup", {});
    const source = await sync("databearing");
    const backupType = await client.resourceType(API_VERSION, "Backup");
    expect(await client.get(backupType, ns, "kept-backup")).toBeDefined();
    expect(source.status?.inventory?.entries.map((e) => e.id)).toContain(
      `${ns}_kept-backup_zitadel-operator.dev_Backup`,
    );
    expect(await eventNotes("databearing")).toContainEqual(
      expect.stringMatching(/^DataBearing: kept: Backup/),
    );

    // The opt-in is read from the live object, since the object is no longer in Git.
    await client.apply(
      {
        apiVersion: API_VERSION,
        kind: "Backup",
        metadata: { name: "kept-backup", namespace: ns, annotations: { [PRUNE_ANNOTATION]: PRUNE_ALLOWED } },
      },
      { fieldManager: "kubectl-annotate" },
    );
    const after = await sync("databearing");
    expect(after.status?.inventory?.entries.map((e) => e.id)).not.toContain(
      `${ns}_kept-backup_zitadel-operator.dev_Backup`,
    );
    const backup = await client.get(backupType, ns, "kept-backup");
    expect(backup === undefined || backup.metadata?.deletionTimestamp !== undefined).toBe(true);
  });

  it("applies into spec.targetNamespace when set", async () => {
    const target = await testNamespace(kc, "gs-target");
    await repo.commit("first", { "prod/a.yaml": configMap("elsewhere", { x: "1" }) });
    await applySource("targeted", { targetNamespace: target });
    const source = await sync("targeted");
    expect(condition(source, "Ready")?.status).toBe("True");
    expect((await client.get<ConfigMap>(CONFIGMAP, target, "elsewhere"))?.data).toEqual({ x: "1" });
    expect(await client.get(CONFIGMAP, ns, "elsewhere")).toBeUndefined();
    expect(source.status?.inventory?.entries).toEqual([{ id: `${target}_elsewhere__ConfigMap`, v: "v1" }]);
  });

  it("refuses to apply as a ServiceAccount it cannot act as, rather than with its own rights", async () => {
    await repo.commit("first", { "prod/a.yaml": configMap("as-sa", { x: "1" }) });
    await applySource("impersonated", { serviceAccountName: "applier" });
    const source = await eventually(async () => {
      const s = await getSource("impersonated");
      expect(condition(s, "Ready")?.reason).toBe("ImpersonationUnavailable");
      return s as Source;
    });
    expect(condition(source, "Stalled")?.status).toBe("True");
    expect(await client.get(CONFIGMAP, ns, "as-sa")).toBeUndefined();
  });

  it("applies nothing while suspended, and catches up when resumed", async () => {
    await repo.commit("first", { "prod/a.yaml": configMap("paused", { x: "1" }) });
    await applySource("paused", {});
    await sync("paused");
    await applySource("paused", { suspend: true });
    await repo.commit("while suspended", { "prod/a.yaml": configMap("paused", { x: "2" }) });
    await client.apply(
      {
        apiVersion: API_VERSION,
        kind: "GitSource",
        metadata: {
          name: "paused",
          namespace: ns,
          annotations: { [REQUESTED_AT_ANNOTATION]: "while-suspended" },
        },
      },
      { fieldManager: TRIGGER_MANAGER },
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect((await configMaps()).paused).toEqual({ x: "1" });
    await applySource("paused", { suspend: false });
    await eventually(async () => expect((await configMaps()).paused).toEqual({ x: "2" }));
  });

  it("syncs when the webhook receiver gets a correctly signed push, and ignores a badly signed one", async () => {
    await repo.commit("first", { "prod/a.yaml": configMap("hooked", { x: "1" }) });
    await applySource("hooked", {});
    await sync("hooked");
    const secret = "webhook-secret";
    const { server, url } = await startReceiver("127.0.0.1:0", {
      client,
      secret,
      log: createLogger({ level: "error" }),
      namespaces: [ns],
    });
    try {
      await repo.commit("pushed", { "prod/a.yaml": configMap("hooked", { x: "2" }) });
      const body = JSON.stringify({ ref: "refs/heads/main" });
      const forged = await fetch(`${url}/hook/${ns}/hooked`, {
        method: "POST",
        body,
        headers: { "x-hub-signature-256": sign(body, "wrong") },
      });
      expect(forged.status).toBe(401);
      const ok = await fetch(`${url}/hook/${ns}/hooked`, {
        method: "POST",
        body,
        headers: { "x-hub-signature-256": sign(body, secret) },
      });
      expect(ok.status).toBe(202);
      await eventually(async () => expect((await configMaps()).hooked).toEqual({ x: "2" }));
    } finally {
      server.close();
    }
  });
});
