// prepareRevision: the whole way from a GitSource spec to labelled objects, or a reason not to apply anything.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitSourceSpecSchema } from "../../src/api/gitsource.ts";
import { AUTHOR_ANNOTATION, GITSOURCE_LABEL, REVISION_ANNOTATION } from "../../src/gitops/manifests.ts";
import { prepareRevision, type RevisionRequest } from "../../src/gitops/revision.ts";
import { encryptSopsFile, KUBERNETES_ENCRYPTED_REGEX } from "../../src/gitops/sops.ts";
import { git, TestRepo } from "../fixtures/gitops/git-repo.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");
const SECRET =
  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: masterkey\nstringData:\n  key: x8Hq3pLw9ZkT2vB6nR4mJ7cY1sD5fG0a\n";

describe("prepareRevision", () => {
  let dir = "";
  let repo: TestRepo;
  let head = "";
  let identity = "";
  let signerPublicKey = "";

  const request = (
    spec: Record<string, unknown>,
    secrets: RevisionRequest["secrets"] = {},
  ): RevisionRequest => ({
    source: { namespace: "platform", name: "identity" },
    spec: GitSourceSpecSchema.parse({ url: repo.url, path: "prod", ...spec }),
    secrets,
    cacheDir: join(dir, "cache"),
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-revision-"));
    identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "signer")]);
    signerPublicKey = await readFile(join(dir, "signer.pub"), "utf8");
    repo = await TestRepo.create(dir);
    head = await repo.commit("prod", {
      "prod/db.yaml": await readFile(join(ROOT, "examples/cockroachcluster.yaml"), "utf8"),
      "prod/secret.yaml": await encryptSopsFile(SECRET, {
        recipients: [recipient],
        encryptedRegex: KUBERNETES_ENCRYPTED_REGEX,
      }),
      "broken/db.yaml": (await readFile(join(ROOT, "examples/cockroachcluster.yaml"), "utf8")).replace(
        "nodes: 3",
        "nodes: many",
      ),
    });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives labelled objects in apply order for a good revision", async () => {
    const prepared = await prepareRevision(
      request(
        { decryption: { secretRef: { name: "sops-age" } } },
        { decryption: { "identity.agekey": `${identity}\n` } },
      ),
    );
    if (!prepared.ok) throw new Error(prepared.message);
    expect(prepared).toMatchObject({
      revision: head,
      ref: "refs/heads/main",
      author: "Ada Lovelace <ada@example.com>",
    });
    expect(prepared.objects.map((o) => o.object.kind)).toEqual(["Secret", "CockroachCluster"]);
    const secret = prepared.objects[0]?.object;
    expect(secret?.metadata?.namespace).toBe("platform");
    expect(secret?.metadata?.labels?.[GITSOURCE_LABEL]).toBe("platform.identity");
    expect(secret?.metadata?.annotations).toMatchObject({
      [REVISION_ANNOTATION]: head,
      [AUTHOR_ANNOTATION]: "Ada Lovelace <ada@example.com>",
    });
  });

  it("refuses SOPS files when spec.decryption is unset: DecryptionFailed, and no objects", async () => {
    const prepared = await prepareRevision(request({}));
    expect(prepared).toMatchObject({ ok: false, reason: "DecryptionFailed", revision: head });
    expect("objects" in prepared).toBe(false);
  });

  it("refuses an invalid revision naming the file, document and field", async () => {
    const prepared = await prepareRevision(request({ path: "broken" }));
    expect(prepared).toMatchObject({
      ok: false,
      reason: "ValidationFailed",
      message: expect.stringContaining("broken/db.yaml document 1: spec.nodes: expected integer, got string"),
    });
  });

  it("never hands out an unverified revision", async () => {
    const prepared = await prepareRevision(
      request(
        { verify: { secretRef: { name: "signers" } }, decryption: { secretRef: { name: "sops-age" } } },
        { verify: { "ops.sshpub": signerPublicKey }, decryption: { "identity.agekey": identity } },
      ),
    );
    expect(prepared).toMatchObject({ ok: false, reason: "VerificationFailed", revision: head });
    await git(
      repo.dir,
      "-c",
      "gpg.format=ssh",
      "-c",
      `user.signingkey=${join(dir, "signer")}`,
      "commit",
      "-q",
      "-S",
      "--allow-empty",
      "-m",
      "signed",
    );
    const signed = await prepareRevision(
      request(
        { verify: { secretRef: { name: "signers" } }, decryption: { secretRef: { name: "sops-age" } } },
        { verify: { "ops.sshpub": signerPublicKey }, decryption: { "identity.agekey": identity } },
      ),
    );
    expect(signed).toMatchObject({ ok: true, verified: expect.stringContaining("signed by ED25519 key") });
  });

  it("reports fetch failures and bad credentials as reasons", async () => {
    expect(
      await prepareRevision({
        ...request({}),
        spec: { ...request({}).spec, url: `file://${join(dir, "missing")}` },
      }),
    ).toMatchObject({
      ok: false,
      reason: "FetchFailed",
    });
    const ssh = request({});
    ssh.spec = { ...ssh.spec, url: "ssh://git@127.0.0.1/repo.git" };
    ssh.secrets = { auth: { identity: "KEY" } };
    expect(await prepareRevision(ssh)).toMatchObject({
      ok: false,
      reason: "InvalidSource",
      message: expect.stringMatching(/known_hosts/),
    });
  });
});
