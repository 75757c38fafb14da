import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheKey, FetchError, fetchRevision } from "../../src/gitops/fetch.ts";
import { TestRepo } from "../fixtures/gitops/git-repo.ts";

describe("fetchRevision against real repositories (file://)", () => {
  let root = "";
  let cacheDir = "";
  let repo: TestRepo;
  let first = "";
  let second = "";

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "gitops-fetch-"));
    cacheDir = join(root, "cache");
    repo = await TestRepo.create(root);
    first = await repo.commit("first", { "deploy/a.yaml": "a: 1\n" });
    await repo.tag("v1.0.0");
    second = await repo.commit("second\n\nwith a body", { "deploy/a.yaml": "a: 2\n" });
    await repo.tag("v1.2.0");
    await repo.commit("release candidate", { "deploy/a.yaml": "a: 3\n" });
    await repo.tag("v1.3.0-rc.1");
    await repo.tag("v2.0.0");
    await repo.tag("not-a-version");
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("checks out the head of a branch, with its author and message", async () => {
    const head = await repo.commit("on main", { "deploy/b.yaml": "b: 1\n" });
    const fetched = await fetchRevision({ url: repo.url, ref: { branch: "main" }, cacheDir });
    expect(fetched.revision).toBe(head);
    expect(fetched.ref).toBe("refs/heads/main");
    expect(fetched.author).toBe("Ada Lovelace <ada@example.com>");
    expect(fetched.message).toBe("on main");
    expect(await readFile(join(fetched.worktreeDir, "deploy/b.yaml"), "utf8")).toBe("b: 1\n");
  });

  it("checks out a tag", async () => {
    const fetched = await fetchRevision({ url: repo.url, ref: { tag: "v1.0.0" }, cacheDir });
    expect(fetched).toMatchObject({ revision: first, ref: "refs/tags/v1.0.0" });
    expect(await readFile(join(fetched.worktreeDir, "deploy/a.yaml"), "utf8")).toBe("a: 1\n");
  });

  it("checks out the highest tag in a semver range, skipping pre-releases and other tags", async () => {
    const fetched = await fetchRevision({ url: repo.url, ref: { semver: "^1.0" }, cacheDir });
    expect(fetched).toMatchObject({
      revision: second,
      ref: "refs/tags/v1.2.0",
      message: "second\n\nwith a body",
    });
    const none = fetchRevision({ url: repo.url, ref: { semver: ">=3.0.0" }, cacheDir });
    await expect(none).rejects.toMatchObject({ reason: "RefNotFound" });
  });

  it("checks out an exact commit", async () => {
    const fetched = await fetchRevision({ url: repo.url, ref: { commit: first }, cacheDir });
    expect(fetched.revision).toBe(first);
    expect(await readFile(join(fetched.worktreeDir, "deploy/a.yaml"), "utf8")).toBe("a: 1\n");
  });

  it("fetches incrementally into the existing cache instead of cloning again", async () => {
    const own = join(root, "incremental");
    const one = await fetchRevision({ url: repo.url, ref: { branch: "main" }, cacheDir: own });
    expect(one.cloned).toBe(true);
    // A marker inside the cached repository survives only if the second fetch reuses it.
    const gitDir = join(own, cacheKey(repo.url), "git");
    await writeFile(join(gitDir, "marker"), "still here");
    const inode = (await stat(join(gitDir, "objects"))).ino;
    const next = await repo.commit("later", { "deploy/c.yaml": "c: 1\n" });
    const two = await fetchRevision({ url: repo.url, ref: { branch: "main" }, cacheDir: own });
    expect(two).toMatchObject({ cloned: false, revision: next });
    expect(await readFile(join(gitDir, "marker"), "utf8")).toBe("still here");
    expect((await stat(join(gitDir, "objects"))).ino).toBe(inode);
    // The previous checkout is gone; only the current one is kept.
    await expect(stat(one.worktreeDir)).rejects.toThrow();
  });

  it("rebuilds a broken cache instead of failing from then on", async () => {
    const own = join(root, "broken");
    await fetchRevision({ url: repo.url, ref: { branch: "main" }, cacheDir: own });
    await writeFile(join(own, cacheKey(repo.url), "git", "HEAD"), "garbage");
    const again = await fetchRevision({ url: repo.url, ref: { branch: "main" }, cacheDir: own });
    expect(again.cloned).toBe(true);
  });

  it("follows a force-push that moves the branch back to an older commit", async () => {
    const other = await TestRepo.create(root);
    const old = await other.commit("old", { "x.yaml": "x: old\n" });
    const newer = await other.commit("new", { "x.yaml": "x: new\n" });
    const own = join(root, "force");
    expect((await fetchRevision({ url: other.url, ref: { branch: "main" }, cacheDir: own })).revision).toBe(
      newer,
    );
    await other.resetBranch("main", old);
    const after = await fetchRevision({ url: other.url, ref: { branch: "main" }, cacheDir: own });
    expect(after.revision).toBe(old);
    expect(await readFile(join(after.worktreeDir, "x.yaml"), "utf8")).toBe("x: old\n");
  });

  it("follows a tag that was moved", async () => {
    const other = await TestRepo.create(root);
    const a = await other.commit("a", { "x.yaml": "x: a\n" });
    await other.tag("stable");
    const b = await other.commit("b", { "x.yaml": "x: b\n" });
    const own = join(root, "moved-tag");
    expect((await fetchRevision({ url: other.url, ref: { tag: "stable" }, cacheDir: own })).revision).toBe(a);
    await other.tag("stable", b);
    expect((await fetchRevision({ url: other.url, ref: { tag: "stable" }, cacheDir: own })).revision).toBe(b);
  });

  it("reports a missing branch as RefNotFound", async () => {
    const missing = fetchRevision({ url: repo.url, ref: { branch: "nope" }, cacheDir });
    await expect(missing).rejects.toBeInstanceOf(FetchError);
    await expect(missing).rejects.toMatchObject({ reason: "RefNotFound" });
    await expect(missing).rejects.toThrow(/nope/);
  });

  it("reports an unreachable remote with the cause", async () => {
    const url = `file://${join(root, "does-not-exist")}`;
    const failed = fetchRevision({ url, ref: { branch: "main" }, cacheDir });
    await expect(failed).rejects.toMatchObject({ reason: "FetchFailed" });
    await expect(failed).rejects.toThrow(
      /fetching file:\/\/.*does-not-exist.*does not appear to be a git repository/,
    );
  });

  it("refuses credentials in the URL without echoing them", async () => {
    const failed = fetchRevision({
      url: "https://user:s3cr3t-token@git.example.com/org/repo.git",
      ref: { branch: "main" },
      cacheDir,
    });
    await expect(failed).rejects.toMatchObject({ reason: "InvalidSource" });
    const message = await failed.catch((err: Error) => err.message);
    expect(message).not.toContain("s3cr3t-token");
    expect(message).toContain("https://git.example.com/org/repo.git");
  });

  it("refuses SSH without known_hosts", async () => {
    const noAuth = fetchRevision({ url: "ssh://git@127.0.0.1/repo.git", ref: { branch: "main" }, cacheDir });
    await expect(noAuth).rejects.toThrow(/known_hosts/);
    const emptyHosts = fetchRevision({
      url: "ssh://git@127.0.0.1/repo.git",
      ref: { branch: "main" },
      cacheDir,
      auth: { kind: "ssh", identity: "PRIVATE KEY", knownHosts: " " },
    });
    await expect(emptyHosts).rejects.toThrow(/known_hosts/);
  });

  it("never sends a token over an HTTP error message", async () => {
    // Nothing listens on this port: the connection fails, and the message must not carry the token.
    const failed = fetchRevision({
      url: "http://127.0.0.1:9/repo.git",
      ref: { branch: "main" },
      cacheDir,
      auth: { kind: "https", bearerToken: "tok-very-secret-123" },
      inactivityTimeoutMs: 10_000,
    });
    const message = await failed.catch((err: Error) => err.message);
    expect(message).toMatch(/127\.0\.0\.1/);
    expect(message).not.toContain("tok-very-secret-123");
  });
});
