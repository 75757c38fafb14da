// The GitSource's status and timing, as pure functions: the revision as users read it, kstatus conditions
// (Ready, Reconciling, Stalled, SourceVerified) for each outcome of a sync, and when to sync next.
import type { Condition } from "../../api/conditions.ts";
import type { GitSource, GitSourceStatus } from "../../api/gitsource.ts";
import { setCondition } from "../../runtime/status.ts";

/** "main@sha1:1a2b…" for a branch, "v1.2.0@sha1:…" for a tag, "sha1:…" for a pinned commit, as Flux writes it. */
export function formatRevision(ref: string, commit: string): string {
  const algorithm = commit.length === 64 ? "sha256" : "sha1";
  const name = ref.replace(/^refs\/(heads|tags)\//, "");
  return name === commit || name === "" ? `${algorithm}:${commit}` : `${name}@${algorithm}:${commit}`;
}

/** The commit of a revision written by formatRevision. */
export function commitOf(revision: string | undefined): string | undefined {
  return revision?.match(/sha(?:1|256):([0-9a-f]+)$/)?.[1];
}

/**
 * How a sync ended:
 * - applied: everything in the revision is applied and the prune did what it should;
 * - retrying: something that may pass by itself (an unreachable remote, an API error, a failed delete);
 * - stalled: nothing changes until a person does (a bad revision, a missing key, a prune that needs consent).
 */
export type SyncOutcome =
  | { kind: "applied"; message: string }
  | { kind: "retrying"; reason: string; message: string }
  | { kind: "stalled"; reason: string; message: string };

export const RECONCILIATION_SUCCEEDED = "ReconciliationSucceeded";
export const PROGRESSING_WITH_RETRY = "ProgressingWithRetry";

/** Conditions after a sync. Reconciling and Stalled are present only while true, as kstatus prefers. */
export function syncConditions(
  previous: readonly Condition[] | undefined,
  outcome: SyncOutcome,
  generation: number | undefined,
  now: Date,
): Condition[] {
  let conditions = (previous ?? []).filter((c) => c.type !== "Reconciling" && c.type !== "Stalled");
  const set = (type: string, status: Condition["status"], reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message }, generation, now);
  };
  if (outcome.kind === "applied") {
    set("Ready", "True", RECONCILIATION_SUCCEEDED, outcome.message);
  } else if (outcome.kind === "retrying") {
    set("Ready", "False", outcome.reason, outcome.message);
    set("Reconciling", "True", PROGRESSING_WITH_RETRY, outcome.message);
  } else {
    set("Ready", "False", outcome.reason, outcome.message);
    set("Stalled", "True", outcome.reason, outcome.message);
  }
  return conditions;
}

/** SourceVerified while spec.verify is set: True with what verified it, False with why not; gone without it. */
export function withSourceVerified(
  conditions: Condition[],
  verify: GitSource["spec"]["verify"],
  result: { ok: true; message: string } | { ok: false; message: string } | undefined,
  generation: number | undefined,
  now: Date,
): Condition[] {
  if (verify === undefined) return conditions.filter((c) => c.type !== "SourceVerified");
  if (result === undefined) return conditions;
  return setCondition(
    conditions,
    result.ok
      ? { type: "SourceVerified", status: "True", reason: "Succeeded", message: result.message }
      : { type: "SourceVerified", status: "False", reason: "VerificationFailed", message: result.message },
    generation,
    now,
  );
}

/** The status to write: the previous one with `changes`, and the generation this sync acted on. */
export function nextStatus(
  previous: GitSourceStatus | undefined,
  changes: Partial<GitSourceStatus>,
  generation: number | undefined,
): GitSourceStatus {
  const status: GitSourceStatus = { ...previous, ...changes };
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

/** The interval ± 10 %, so sources created together do not fetch together forever. */
export function jittered(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + random() * 0.2));
}

/** Retry delay after a failure: 5 s, 10 s, 20 s … never longer than the interval. */
export function retryDelay(failures: number, intervalMs: number): number {
  return Math.min(intervalMs, 5_000 * 2 ** Math.max(0, failures - 1));
}
