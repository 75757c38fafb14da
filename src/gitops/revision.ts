// Everything a GitSource does before it applies: fetch the ref, verify signatures, read, decrypt and validate
// the manifests, and label them. The GitSource controller calls this once per reconcile and applies `objects`
// only when `ok`; every failure is a condition-ready reason and message, and none of them may lead to a prune.

import type { GitSourceSpec } from "../api/gitsource.ts";
import { gitAuthFromSecret } from "./auth.ts";
import { FetchError, type FetchFailureReason, fetchRevision, type GitRef } from "./fetch.ts";
import {
  describeProblem,
  loadManifests,
  type ManifestObject,
  type ManifestProblem,
  markAsApplied,
} from "./manifests.ts";
import { parseAgeIdentities } from "./sops.ts";
import { trustedKeysFromSecret, verifyRevision } from "./verify.ts";

export interface RevisionRequest {
  /** The GitSource, for labels and the default namespace. */
  source: { namespace: string; name: string };
  spec: Pick<GitSourceSpec, "url" | "ref" | "path" | "verify" | "decryption" | "targetNamespace">;
  /** Decoded data of the Secrets the spec names; undefined when the spec names none. */
  secrets: {
    auth?: Readonly<Record<string, string>> | undefined;
    verify?: Readonly<Record<string, string>> | undefined;
    decryption?: Readonly<Record<string, string>> | undefined;
  };
  cacheDir: string;
}

export interface PreparedRevision {
  ok: true;
  revision: string;
  ref: string;
  author: string;
  message: string;
  /** What the signature check found, when spec.verify is set. */
  verified?: string;
  /** Labelled and annotated, in apply order. */
  objects: ManifestObject[];
}

export type RevisionFailureReason =
  | FetchFailureReason
  | "VerificationFailed"
  | "DecryptionFailed"
  | "ValidationFailed";

export interface RevisionFailure {
  ok: false;
  reason: RevisionFailureReason;
  message: string;
  /** Known once the fetch succeeded: status.lastAttemptedRevision. */
  revision?: string;
  problems?: ManifestProblem[];
}

const MAX_PROBLEMS_IN_MESSAGE = 5;

export async function prepareRevision(request: RevisionRequest): Promise<PreparedRevision | RevisionFailure> {
  const { spec, source, secrets } = request;
  const auth = gitAuthFromSecret(spec.url, secrets.auth);
  if (!auth.ok) return { ok: false, reason: "InvalidSource", message: auth.message };

  let fetched: Awaited<ReturnType<typeof fetchRevision>>;
  try {
    fetched = await fetchRevision({
      url: spec.url,
      ref: toGitRef(spec.ref),
      cacheDir: request.cacheDir,
      ...(auth.auth ? { auth: auth.auth } : {}),
    });
  } catch (err) {
    if (err instanceof FetchError) return { ok: false, reason: err.reason, message: err.message };
    throw err;
  }
  const revision = fetched.revision;

  let verified: string | undefined;
  if (spec.verify !== undefined) {
    const tag = fetched.ref.startsWith("refs/tags/") ? fetched.ref.slice("refs/tags/".length) : undefined;
    const result = await verifyRevision({
      worktreeDir: fetched.worktreeDir,
      revision,
      mode: spec.verify.mode,
      keys: trustedKeysFromSecret(secrets.verify ?? {}),
      ...(tag ? { tag } : {}),
    });
    if (!result.ok) return { ok: false, reason: "VerificationFailed", message: result.message, revision };
    verified = result.message;
  }

  const identities =
    spec.decryption === undefined
      ? undefined
      : Object.entries(secrets.decryption ?? {})
          .filter(([key]) => key.endsWith(".agekey"))
          .flatMap(([, value]) => parseAgeIdentities(value));
  const built = await loadManifests(fetched.worktreeDir, spec.path, {
    identities,
    defaultNamespace: spec.targetNamespace ?? source.namespace,
  });
  if (!built.ok) {
    const decryption = built.problems.some((p) => p.path === "sops");
    const shown = built.problems.slice(0, MAX_PROBLEMS_IN_MESSAGE).map(describeProblem);
    if (built.problems.length > MAX_PROBLEMS_IN_MESSAGE) {
      shown.push(`and ${built.problems.length - MAX_PROBLEMS_IN_MESSAGE} more`);
    }
    return {
      ok: false,
      reason: decryption ? "DecryptionFailed" : "ValidationFailed",
      message: `revision ${revision.slice(0, 12)} is not applied: ${shown.join("; ")}`,
      revision,
      problems: built.problems,
    };
  }

  const from = { source, revision, author: fetched.author };
  return {
    ok: true,
    revision,
    ref: fetched.ref,
    author: fetched.author,
    message: fetched.message,
    ...(verified === undefined ? {} : { verified }),
    objects: built.objects.map((o) => ({ ...o, object: markAsApplied(o.object, from) })),
  };
}

function toGitRef(ref: GitSourceSpec["ref"]): GitRef {
  if (ref.commit !== undefined) return { commit: ref.commit };
  if (ref.semver !== undefined) return { semver: ref.semver };
  if (ref.tag !== undefined) return { tag: ref.tag };
  return { branch: ref.branch ?? "main" };
}
