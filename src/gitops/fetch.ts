// Fetching one revision of a Git repository into a cache that survives between fetches.
//
// Each URL gets a bare repository under `cacheDir` (named by a hash of the URL without credentials) that later
// fetches update incrementally; the checked-out tree of the resolved commit is a `git worktree` beside it. Only
// the refs a source needs are fetched, always with `+` refspecs, so a force-push (even back to an older commit)
// or a moved tag simply moves our copy of the ref.
//
// Credentials never touch argv, the URL stored in .git/config, or error messages: the SSH key and known_hosts
// go to 0600 files in a private temporary directory removed afterwards, HTTP headers and the CA bundle are
// passed as GIT_CONFIG_* environment variables, and git's own and the user's global config are ignored, so no
// credential helper or insteadOf rewrites can interfere.

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleGit } from "simple-git";
import { type GitAuth, hasCredentialsInUrl, redact, schemeOf, scrubUrl } from "./auth.ts";
import { highestMatchingTag } from "./semver.ts";

export type GitRef = { branch: string } | { tag: string } | { semver: string } | { commit: string };

export interface FetchRequest {
  url: string;
  ref: GitRef;
  /** Directory holding one cached repository per URL; created when missing. */
  cacheDir: string;
  auth?: GitAuth;
  /** Kill git when it prints nothing for this long (default 60 s). */
  inactivityTimeoutMs?: number;
}

export interface FetchedRevision {
  /** Full commit hash of the checked-out tree. */
  revision: string;
  /** The ref it was resolved from: refs/heads/main, refs/tags/v1.2.3, or the commit hash itself. */
  ref: string;
  /** "Name <email>" of the commit's author. */
  author: string;
  message: string;
  /** The checked-out files; valid until the next fetch of the same URL. */
  worktreeDir: string;
  /** True when this fetch created the cache; false for an incremental fetch into an existing one. */
  cloned: boolean;
}

export type FetchFailureReason = "InvalidSource" | "FetchFailed" | "RefNotFound";

/** A fetch that failed for a reason worth reporting; the message never holds a credential. */
export class FetchError extends Error {
  override name = "FetchError";
  readonly reason: FetchFailureReason;
  constructor(reason: FetchFailureReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

const DEFAULT_INACTIVITY_TIMEOUT_MS = 60_000;
// Environment variables we set for git; simple-git strips any GIT_* variable not listed.
const GIT_ENVIRONMENT = [
  "GIT_TERMINAL_PROMPT",
  "GIT_CONFIG_NOSYSTEM",
  "GIT_CONFIG_GLOBAL",
  "GIT_ALLOW_PROTOCOL",
  "GIT_SSH_COMMAND",
  "GIT_CONFIG_COUNT",
  ...[0, 1, 2, 3].flatMap((i) => [`GIT_CONFIG_KEY_${i}`, `GIT_CONFIG_VALUE_${i}`]),
];

// One git process per cache directory at a time: git's own locks would fail, not wait.
const locks = new Map<string, Promise<unknown>>();

/** The cache directory of a URL: stable across credentials, different for different repositories. */
export function cacheKey(url: string): string {
  return createHash("sha256").update(scrubUrl(url)).digest("hex").slice(0, 16);
}

export async function fetchRevision(request: FetchRequest): Promise<FetchedRevision> {
  const repoDir = join(request.cacheDir, cacheKey(request.url));
  const previous = locks.get(repoDir) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => fetchLocked(request, repoDir));
  locks.set(repoDir, run);
  try {
    return await run;
  } finally {
    if (locks.get(repoDir) === run) locks.delete(repoDir);
  }
}

async function fetchLocked(request: FetchRequest, repoDir: string): Promise<FetchedRevision> {
  const { url, ref, auth } = request;
  checkSource(url, auth);
  const secrets = secretsOf(auth);
  const credentials = await writeCredentials(url, auth);
  try {
    const gitDir = join(repoDir, "git");
    await mkdir(request.cacheDir, { recursive: true });
    const git = simpleGit({
      baseDir: request.cacheDir,
      timeout: { block: request.inactivityTimeoutMs ?? DEFAULT_INACTIVITY_TIMEOUT_MS },
      allowEnvironment: GIT_ENVIRONMENT,
      // simple-git guards against untrusted argv and environment; ours are constants and files we just wrote.
      unsafe: {
        allowUnsafeConfigPaths: true,
        allowUnsafeConfigEnvCount: true,
        allowUnsafeSshCommand: true,
        allowUnsafeCredentialHelper: true,
      },
    }).env(credentials.env);
    const run = async (args: string[], what: string): Promise<string> => {
      try {
        return await git.raw(args[0] === "init" ? args : ["--git-dir", gitDir, ...args]);
      } catch (err) {
        const message = redact(gitMessage(err), secrets);
        const reason = /couldn't find remote ref/i.test(message) ? "RefNotFound" : "FetchFailed";
        throw new FetchError(reason, `${what}: ${message}`);
      }
    };

    let cloned = false;
    // A cache broken by a crash mid-write or a full disk is rebuilt rather than failing every fetch from now on.
    const usable =
      (await exists(join(gitDir, "HEAD"))) &&
      (await git.raw(["--git-dir", gitDir, "rev-parse", "--is-bare-repository"]).then(
        (out) => out.trim() === "true",
        () => false,
      ));
    if (!usable) {
      await rm(repoDir, { recursive: true, force: true });
      await mkdir(repoDir, { recursive: true });
      await run(["init", "--bare", "--quiet", gitDir], "cannot create the cache repository");
      await run(["remote", "add", "origin", scrubUrl(url)], "cannot create the cache repository");
      cloned = true;
    }

    const from = `fetching ${scrubUrl(url)}`;
    const fetch = (refspecs: string[]) =>
      run(["fetch", "--quiet", "--no-tags", "--prune", "--no-write-fetch-head", "origin", ...refspecs], from);
    const resolve = async (name: string): Promise<string | undefined> => {
      try {
        // simple-git does not throw for a failure that prints nothing, which is what --quiet does.
        const sha = (
          await git.raw(["--git-dir", gitDir, "rev-parse", "--verify", "--quiet", `${name}^{commit}`])
        ).trim();
        return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) ? sha : undefined;
      } catch {
        return undefined;
      }
    };

    let resolvedRef: string;
    let revision: string | undefined;
    if ("branch" in ref) {
      await fetch([`+refs/heads/${ref.branch}:refs/remotes/origin/${ref.branch}`]);
      resolvedRef = `refs/heads/${ref.branch}`;
      revision = await resolve(`refs/remotes/origin/${ref.branch}`);
    } else if ("tag" in ref) {
      await fetch([`+refs/tags/${ref.tag}:refs/tags/${ref.tag}`]);
      resolvedRef = `refs/tags/${ref.tag}`;
      revision = await resolve(resolvedRef);
    } else if ("semver" in ref) {
      await fetch(["+refs/tags/*:refs/tags/*"]);
      const tags = (await run(["for-each-ref", "--format=%(refname:strip=2)", "refs/tags"], "listing tags"))
        .split("\n")
        .filter((t) => t !== "");
      let tag: string | undefined;
      try {
        tag = highestMatchingTag(tags, ref.semver);
      } catch (err) {
        throw new FetchError("InvalidSource", err instanceof Error ? err.message : String(err));
      }
      if (tag === undefined) {
        throw new FetchError(
          "RefNotFound",
          `no tag of ${scrubUrl(url)} matches the semver range ${ref.semver}`,
        );
      }
      resolvedRef = `refs/tags/${tag}`;
      revision = await resolve(resolvedRef);
    } else {
      resolvedRef = ref.commit;
      // A commit never changes, so one already in the cache needs no fetch at all.
      revision = await resolve(ref.commit);
      if (revision === undefined) {
        await fetch(["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]);
        revision = await resolve(ref.commit);
      }
      if (revision === undefined) {
        // Not reachable from a branch or tag; servers that allow fetching any commit by hash still serve it.
        await fetch([ref.commit]).catch(() => undefined);
        revision = await resolve(ref.commit);
      }
    }
    if (revision === undefined) {
      throw new FetchError("RefNotFound", `${resolvedRef} not found in ${scrubUrl(url)}`);
    }

    const [author = "", message = ""] = (
      await run(["log", "-1", "--format=%an <%ae>%x00%B", revision], "reading the commit")
    ).split("\0");
    const worktreeDir = await checkOut(join(repoDir, "trees"), revision, run);
    return { revision, ref: resolvedRef, author, message: message.trim(), worktreeDir, cloned };
  } finally {
    await credentials.cleanup();
  }
}

function checkSource(url: string, auth: GitAuth | undefined): void {
  const scheme = schemeOf(url);
  if (!["https", "http", "ssh", "file"].includes(scheme)) {
    throw new FetchError(
      "InvalidSource",
      `unsupported URL scheme in ${scrubUrl(url)}: use https, ssh or file`,
    );
  }
  if (hasCredentialsInUrl(url)) {
    throw new FetchError(
      "InvalidSource",
      `the URL ${scrubUrl(url)} carries credentials; put them in the Secret named by secretRef instead`,
    );
  }
  if (scheme === "ssh" && auth?.kind !== "ssh") {
    throw new FetchError(
      "InvalidSource",
      "ssh:// needs a Secret with identity and known_hosts; host keys are never trusted on first use",
    );
  }
  if (auth?.kind === "ssh" && scheme !== "ssh") {
    throw new FetchError("InvalidSource", "the Secret holds an SSH key, but the URL is not ssh://");
  }
  if (auth?.kind === "ssh" && !auth.knownHosts.trim()) {
    throw new FetchError(
      "InvalidSource",
      "SSH authentication needs known_hosts; refusing to trust any host key",
    );
  }
  if (auth?.kind === "https" && scheme === "http" && !isLoopback(url)) {
    const carriesSecret = auth.bearerToken !== undefined || auth.password !== undefined;
    if (carriesSecret) {
      throw new FetchError("InvalidSource", "refusing to send credentials over plain http://; use https://");
    }
  }
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === "localhost" || host === "[::1]" || /^127\./.test(host);
  } catch {
    return false;
  }
}

function secretsOf(auth: GitAuth | undefined): string[] {
  if (auth?.kind === "https") {
    const basic =
      auth.username !== undefined && auth.password !== undefined
        ? Buffer.from(`${auth.username}:${auth.password}`).toString("base64")
        : undefined;
    return [auth.bearerToken, auth.password, basic].filter((s): s is string => s !== undefined);
  }
  return [];
}

interface Credentials {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function writeCredentials(url: string, auth: GitAuth | undefined): Promise<Credentials> {
  const config: [string, string][] = [["credential.helper", ""]];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? tmpdir(),
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    // Only the transport of this URL: no ext:: or other helpers a crafted remote could ask for.
    GIT_ALLOW_PROTOCOL: schemeOf(url),
  };
  let dir: string | undefined;
  const privateDir = async () => {
    dir ??= await mkdtemp(join(tmpdir(), "zitadel-operator-git-"));
    return dir;
  };

  if (auth?.kind === "ssh") {
    const d = await privateDir();
    const keyFile = join(d, "identity");
    const knownHostsFile = join(d, "known_hosts");
    // ssh refuses a key without its final newline.
    await writeFile(keyFile, auth.identity.endsWith("\n") ? auth.identity : `${auth.identity}\n`, {
      mode: 0o600,
    });
    await writeFile(knownHostsFile, auth.knownHosts, { mode: 0o600 });
    env.GIT_SSH_COMMAND = [
      "ssh",
      "-F /dev/null",
      `-i ${shellQuote(keyFile)}`,
      "-o IdentitiesOnly=yes",
      "-o IdentityAgent=none",
      "-o BatchMode=yes",
      "-o StrictHostKeyChecking=yes",
      `-o UserKnownHostsFile=${shellQuote(knownHostsFile)}`,
      "-o GlobalKnownHostsFile=/dev/null",
    ].join(" ");
  } else if (auth?.kind === "https") {
    if (auth.bearerToken !== undefined) {
      config.push(["http.extraHeader", `Authorization: Bearer ${auth.bearerToken}`]);
    } else if (auth.username !== undefined && auth.password !== undefined) {
      const basic = Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
      config.push(["http.extraHeader", `Authorization: Basic ${basic}`]);
    }
    if (auth.caBundle !== undefined) {
      const caFile = join(await privateDir(), "ca.crt");
      await writeFile(caFile, auth.caBundle, { mode: 0o600 });
      config.push(["http.sslCAInfo", caFile]);
    }
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return {
    env,
    cleanup: async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

// The tree of `revision` as a worktree of the bare cache; older trees are removed, as nothing reads them now.
async function checkOut(
  treesDir: string,
  revision: string,
  run: (args: string[], what: string) => Promise<string>,
): Promise<string> {
  await mkdir(treesDir, { recursive: true });
  const worktreeDir = join(treesDir, revision);
  for (const name of await readdir(treesDir)) {
    if (name !== revision) await rm(join(treesDir, name), { recursive: true, force: true });
  }
  await run(["worktree", "prune"], "cleaning old checkouts");
  if (!(await exists(join(worktreeDir, ".git")))) {
    await rm(worktreeDir, { recursive: true, force: true });
    await run(["worktree", "add", "--quiet", "--detach", "--force", worktreeDir, revision], "checking out");
  }
  return worktreeDir;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function gitMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // Every line counts: ssh says why ("Host key verification failed.") before git's generic "fatal:" line.
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("@@@"));
  const message = lines.join("; ");
  return message.length > 800 ? `${message.slice(0, 800)}...` : message;
}
