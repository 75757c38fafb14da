// Commit and tag signature verification against the keys of a Secret, as Flux's `spec.verify`: SSH public keys
// in `*.sshpub` keys, armored PGP public keys in `*.asc`. An unverified revision is never applied.
//
// git checks the signatures itself (`git verify-commit` / `verify-tag`), with nothing trusted but the Secret's
// keys: SSH keys go into a throwaway allowed-signers file, PGP keys into a throwaway GnuPG home, and the user's
// and system's git config are ignored.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type VerifyMode = "HEAD" | "Tag" | "TagAndHEAD";

export interface TrustedKeys {
  /** OpenSSH public key lines: "ssh-ed25519 AAAA... comment". */
  ssh: string[];
  /** ASCII-armored PGP public keys. */
  pgp: string[];
}

export type VerifyResult = { ok: true; message: string } | { ok: false; message: string };

/** The trusted keys in a Secret's data: every `*.sshpub` (one key a line) and every `*.asc`. */
export function trustedKeysFromSecret(data: Readonly<Record<string, string>>): TrustedKeys {
  const keys: TrustedKeys = { ssh: [], pgp: [] };
  for (const [name, value] of Object.entries(data)) {
    if (name.endsWith(".sshpub")) {
      keys.ssh.push(
        ...value
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line !== "" && !line.startsWith("#")),
      );
    } else if (name.endsWith(".asc")) {
      keys.pgp.push(value);
    }
  }
  return keys;
}

export interface VerifyRequest {
  /** A checkout of the revision (a worktree of the fetch cache). */
  worktreeDir: string;
  revision: string;
  /** The tag the revision was resolved from, for modes Tag and TagAndHEAD. */
  tag?: string;
  mode: VerifyMode;
  keys: TrustedKeys;
}

export async function verifyRevision(request: VerifyRequest): Promise<VerifyResult> {
  const { keys, mode } = request;
  if (keys.ssh.length === 0 && keys.pgp.length === 0) {
    return { ok: false, message: "the verification Secret holds no *.sshpub or *.asc keys" };
  }
  if (mode !== "HEAD" && request.tag === undefined) {
    return {
      ok: false,
      message: `verify.mode ${mode} needs a tag, but the revision was not resolved from one`,
    };
  }
  const home = await mkdtemp(join(tmpdir(), "zitadel-operator-verify-"));
  try {
    const signers = join(home, "allowed_signers");
    // Each key is its own principal; the namespace limits it to Git signatures.
    await writeFile(signers, keys.ssh.map((key, i) => `signer-${i + 1} namespaces="git" ${key}\n`).join(""));
    const gnupgHome = join(home, "gnupg");
    await mkdir(gnupgHome, { mode: 0o700 });
    for (const [i, key] of keys.pgp.entries()) {
      const file = join(home, `key-${i}.asc`);
      await writeFile(file, key);
      try {
        await run("gpg", ["--batch", "--quiet", "--homedir", gnupgHome, "--import", file]);
      } catch {
        return { ok: false, message: `PGP key ${i + 1} of the verification Secret cannot be imported` };
      }
    }
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      LC_ALL: "C",
      GNUPGHOME: gnupgHome,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "gpg.ssh.allowedSignersFile",
      GIT_CONFIG_VALUE_0: signers,
    };
    const git = async (args: string[]) => run("git", args, { cwd: request.worktreeDir, env });
    const checks: { what: string; args: string[] }[] = [];
    if (mode !== "Tag")
      checks.push({ what: `commit ${request.revision}`, args: ["verify-commit", "--raw", request.revision] });
    if (mode !== "HEAD")
      checks.push({ what: `tag ${request.tag}`, args: ["verify-tag", "--raw", `refs/tags/${request.tag}`] });
    const verified: string[] = [];
    for (const check of checks) {
      try {
        const { stderr } = await git(check.args);
        verified.push(`${check.what} signed by ${signerOf(stderr)}`);
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? "";
        return { ok: false, message: `${check.what} is not signed by a trusted key${reasonOf(stderr)}` };
      }
    }
    return { ok: true, message: verified.join("; ") };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

// git --raw prints GnuPG status lines, or ssh-keygen's "Good "git" signature for signer-1 with ED25519 key SHA256:...".
function signerOf(output: string): string {
  const ssh = /Good "git" signature for (\S+) with (\S+) key (\S+)/.exec(output);
  if (ssh) return `${ssh[2]} key ${ssh[3]}`;
  const pgp = /\[GNUPG:\] VALIDSIG (\S+)/.exec(output) ?? /\[GNUPG:\] GOODSIG (\S+)/.exec(output);
  if (pgp) return `PGP key ${pgp[1]}`;
  return "a trusted key";
}

function reasonOf(output: string): string {
  if (output.trim() === "") return " (no signature)";
  if (/no signature found|error: no signature/i.test(output)) return " (no signature)";
  if (/\[GNUPG:\] (ERRSIG|NO_PUBKEY)/.test(output) || /No principal matched/i.test(output)) {
    return " (signed by an unknown key)";
  }
  if (/BADSIG|Signature verification failed|incorrect signature/i.test(output)) return " (bad signature)";
  return "";
}
