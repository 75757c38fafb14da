// Signature verification with real keys: SSH keys from ssh-keygen and a PGP key from gpg sign real commits.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchRevision } from "../../src/gitops/fetch.ts";
import { type TrustedKeys, trustedKeysFromSecret, verifyRevision } from "../../src/gitops/verify.ts";
import { git, TestRepo } from "../fixtures/gitops/git-repo.ts";

const run = promisify(execFile);

describe("verifyRevision", () => {
  let dir = "";
  let repo: TestRepo;
  let trustedSsh = "";
  let untrustedSsh = "";
  let pgpPublic = "";
  let signedBySsh = "";
  let signedByOther = "";
  let signedByPgp = "";
  let unsigned = "";
  let gnupgHome = "";

  const sshKey = async (name: string): Promise<{ privateKey: string; publicKey: string }> => {
    const privateKey = join(dir, name);
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", privateKey]);
    return { privateKey, publicKey: (await readFile(`${privateKey}.pub`, "utf8")).trim() };
  };
  const sshSign = (key: string) => ["-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-verify-"));
    repo = await TestRepo.create(dir);
    const trusted = await sshKey("trusted");
    const untrusted = await sshKey("untrusted");
    trustedSsh = trusted.publicKey;
    untrustedSsh = untrusted.publicKey;

    gnupgHome = join(dir, "gnupg");
    await mkdir(gnupgHome, { mode: 0o700 });
    const gpg = (...args: string[]) => run("gpg", ["--batch", "--homedir", gnupgHome, ...args]);
    await gpg(
      "--passphrase",
      "",
      "--quick-gen-key",
      "Release Bot <release@example.com>",
      "ed25519",
      "sign",
      "never",
    );
    pgpPublic = (await gpg("--armor", "--export", "release@example.com")).stdout;

    await repo.commit("unsigned", { "a.yaml": "a: 0\n" });
    unsigned = await git(repo.dir, "rev-parse", "HEAD");
    await git(
      repo.dir,
      ...sshSign(trusted.privateKey),
      "commit",
      "-q",
      "-S",
      "--allow-empty",
      "-m",
      "ssh signed",
    );
    signedBySsh = await git(repo.dir, "rev-parse", "HEAD");
    await git(repo.dir, ...sshSign(trusted.privateKey), "tag", "-s", "-m", "v1", "v1.0.0");
    await git(repo.dir, "tag", "-a", "-m", "unsigned", "v1.0.1");
    await git(
      repo.dir,
      ...sshSign(untrusted.privateKey),
      "commit",
      "-q",
      "-S",
      "--allow-empty",
      "-m",
      "other",
    );
    signedByOther = await git(repo.dir, "rev-parse", "HEAD");
    const { stdout } = await run(
      "git",
      [
        "-c",
        "user.signingkey=release@example.com",
        "commit",
        "-q",
        "-S",
        "--allow-empty",
        "-m",
        "pgp signed",
      ],
      {
        cwd: repo.dir,
        env: {
          ...process.env,
          GNUPGHOME: gnupgHome,
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_AUTHOR_NAME: "R",
          GIT_AUTHOR_EMAIL: "release@example.com",
          GIT_COMMITTER_NAME: "R",
          GIT_COMMITTER_EMAIL: "release@example.com",
        },
      },
    );
    expect(stdout).toBe("");
    signedByPgp = await git(repo.dir, "rev-parse", "HEAD");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const checkout = async (ref: { commit: string } | { tag: string }) =>
    fetchRevision({ url: repo.url, ref, cacheDir: join(dir, "cache") });
  const verify = async (
    revision: string,
    keys: TrustedKeys,
    mode: "HEAD" | "Tag" | "TagAndHEAD" = "HEAD",
    tag?: string,
  ) => {
    const fetched = await checkout(tag === undefined ? { commit: revision } : { tag });
    return verifyRevision({
      worktreeDir: fetched.worktreeDir,
      revision: fetched.revision,
      mode,
      keys,
      ...(tag ? { tag } : {}),
    });
  };

  it("reads *.sshpub and *.asc keys from a Secret", () => {
    expect(
      trustedKeysFromSecret({
        "ops.sshpub": `# team\n${trustedSsh}\n${untrustedSsh}\n`,
        "release.asc": "PGP",
        other: "x",
      }),
    ).toEqual({
      ssh: [trustedSsh, untrustedSsh],
      pgp: ["PGP"],
    });
  });

  it("accepts a commit signed by a trusted SSH key", async () => {
    const result = await verify(signedBySsh, { ssh: [trustedSsh], pgp: [] });
    expect(result).toMatchObject({
      ok: true,
      message: expect.stringMatching(/signed by ED25519 key SHA256:/),
    });
  });

  it("refuses an unsigned commit and one signed by a key not in the Secret", async () => {
    expect(await verify(unsigned, { ssh: [trustedSsh], pgp: [] })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/not signed by a trusted key/),
    });
    expect(await verify(signedByOther, { ssh: [trustedSsh], pgp: [] })).toMatchObject({ ok: false });
  });

  it("accepts a commit signed by a trusted PGP key, and refuses it with only SSH keys", async () => {
    expect(await verify(signedByPgp, { ssh: [], pgp: [pgpPublic] })).toMatchObject({
      ok: true,
      message: expect.stringMatching(/PGP key/),
    });
    expect(await verify(signedByPgp, { ssh: [trustedSsh], pgp: [] })).toMatchObject({ ok: false });
  });

  it("verifies signed tags in Tag mode, and the commit too in TagAndHEAD", async () => {
    expect(await verify("", { ssh: [trustedSsh], pgp: [] }, "Tag", "v1.0.0")).toMatchObject({ ok: true });
    expect(await verify("", { ssh: [trustedSsh], pgp: [] }, "TagAndHEAD", "v1.0.0")).toMatchObject({
      ok: true,
    });
    expect(await verify("", { ssh: [trustedSsh], pgp: [] }, "Tag", "v1.0.1")).toMatchObject({ ok: false });
  });
});
