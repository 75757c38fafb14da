// The GitSource reconciler, read top to bottom in the order things happen (Flux's kustomize-controller is the
// model): get → suspend → source (fetch, verify, decrypt, validate: gitops/revision.ts) → apply (dry-run diff
// first; only what changed is written) → prune (old inventory minus new, with guards) → status → requeue after
// the interval ± jitter.
//
// A revision that fails anywhere before apply changes nothing in the cluster and prunes nothing: the last good
// revision stays applied, and the conditions say what is wrong. Deleting a GitSource leaves what it applied in
// place (nothing is lost implicitly); only its Git cache is removed.
// The annotation zitadel-operator.dev/requested-at asks for a sync now (the webhook receiver sets it); its value
// is echoed in status.lastHandledReconcileAt once handled.
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration } from "../../api/duration.ts";
import type { GitSource, GitSourceStatus } from "../../api/gitsource.ts";
import { GROUP } from "../../api/group.ts";
import { describeEntry, type InventoryEntry } from "../../gitops/inventory.ts";
import { REQUESTED_AT } from "../../gitops/receiver.ts";
import { prepareRevision, type RevisionRequest } from "../../gitops/revision.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import type { Logger } from "../../runtime/log.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus } from "../../runtime/status.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import {
  formatRevision,
  jittered,
  nextStatus,
  retryDelay,
  type SyncOutcome,
  syncConditions,
  withSourceVerified,
} from "./status.ts";
import { applyObjects, describeObject, fieldManagerOf, pruneStale } from "./sync.ts";

/** Set to any new value (a timestamp, by convention) to sync now instead of at the next interval. */
export const REQUESTED_AT_ANNOTATION = REQUESTED_AT;
/**
 * Set to the commit hash of a revision to let that one revision prune more than spec.maxPruneFraction; it does
 * nothing for any other commit, so the consent cannot outlive the change it was given for.
 */
export const ALLOW_LARGE_PRUNE_ANNOTATION = `${GROUP}/allow-large-prune`;

export const GITSOURCE_TYPE = ourType("GitSource", "gitsources");
const SECRET_TYPE = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
const DEFAULT_INTERVAL_MS = 5 * 60_000;
// Reasons a retry can cure by itself; every other failure waits for a person (a commit, a key, consent).
const TRANSIENT = new Set(["FetchFailed", "RefNotFound", "SecretNotFound", "ApplyFailed", "PruneFailed"]);

type GitSourceObject = WithStatus & { status?: GitSourceStatus };

export interface GitSourceControllerOptions {
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
  /** Where fetched repositories are kept between syncs; a directory under os.tmpdir() when unset. */
  cacheDir?: string;
  /**
   * A client acting as a ServiceAccount (impersonation), for spec.serviceAccountName. Without it, sources that
   * name one are refused rather than applied with the operator's own rights.
   */
  impersonate?: (namespace: string, serviceAccountName: string) => KubeClient;
  now?: () => Date;
  random?: () => number;
}

export function gitSourceController(opts: GitSourceControllerOptions): Controller<GitSourceObject> {
  const now = opts.now ?? (() => new Date());
  const cacheRoot = opts.cacheDir ?? join(tmpdir(), "zitadel-operator-git");
  const failures = new Map<string, number>();

  return new Controller<GitSourceObject>({
    name: "gitsource",
    client: opts.client,
    log: opts.log,
    for: GITSOURCE_TYPE,
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("gitsource"),
    reconcile: async ({ key, object, log }) => {
      const [namespace = "", name = ""] = key.split("/");
      const cacheDir = join(cacheRoot, namespace, name);

      // Get. A deleted source leaves its objects; its cache goes.
      if (!object) {
        failures.delete(key);
        await rm(cacheDir, { recursive: true, force: true });
        return undefined;
      }
      if (object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "GitSource") return undefined;
      const source = resource as GitSource;
      const spec = source.spec;
      const generation = object.metadata?.generation;
      const intervalMs = parseDuration(spec.interval) ?? DEFAULT_INTERVAL_MS;
      const requestedAt = object.metadata?.annotations?.[REQUESTED_AT_ANNOTATION];
      const previous = object.status;
      const oldInventory: InventoryEntry[] = previous?.inventory?.entries ?? [];
      const ref = { namespace, name };

      // Write the status for this outcome, say it in an Event when it is news, and decide when to run again.
      const finish = async (
        outcome: SyncOutcome,
        changes: Partial<GitSourceStatus>,
        verified?: { ok: boolean; message: string },
      ): Promise<ReconcileResult> => {
        const at = now();
        const conditions = withSourceVerified(
          syncConditions(previous?.conditions, outcome, generation, at),
          spec.verify,
          verified,
          generation,
          at,
        );
        const status = nextStatus(
          previous,
          {
            ...changes,
            conditions,
            ...(requestedAt === undefined ? {} : { lastHandledReconcileAt: requestedAt }),
          },
          generation,
        );
        const wrote = await applyStatus(opts.client, object, status as Record<string, unknown>);
        if (outcome.kind === "applied") {
          failures.delete(key);
          return { requeueAfterMs: jittered(intervalMs, opts.random) };
        }
        if (wrote) {
          await opts.events.record(object, {
            type: "Warning",
            reason: outcome.reason,
            action: "Sync",
            note: outcome.message,
          });
        }
        log.warn("gitsource sync stopped", { reason: outcome.reason, message: outcome.message });
        if (outcome.kind === "stalled") {
          failures.delete(key);
          return { requeueAfterMs: jittered(intervalMs, opts.random) };
        }
        const n = (failures.get(key) ?? 0) + 1;
        failures.set(key, n);
        return { requeueAfterMs: retryDelay(n, intervalMs) };
      };
      const failed = (reason: string, message: string): SyncOutcome =>
        TRANSIENT.has(reason) ? { kind: "retrying", reason, message } : { kind: "stalled", reason, message };

      // Suspend: nothing is fetched, applied or pruned.
      if (spec.suspend) {
        log.debug("gitsource suspended");
        return { requeueAfterMs: jittered(intervalMs, opts.random) };
      }

      // Source: credentials, then fetch → verify → decrypt → validate → label.
      let applier = opts.client;
      if (spec.serviceAccountName !== undefined) {
        if (opts.impersonate === undefined) {
          return finish(
            failed(
              "ImpersonationUnavailable",
              `spec.serviceAccountName ${spec.serviceAccountName} is set, but this operator cannot act as a ` +
                "ServiceAccount; nothing is applied with broader rights than the source asked for",
            ),
            {},
          );
        }
        applier = opts.impersonate(namespace, spec.serviceAccountName);
      }
      const secrets = await sourceSecrets(opts.client, namespace, spec);
      if (!secrets.ok) return finish(failed("SecretNotFound", secrets.message), {});
      const prepared = await prepareRevision({ source: ref, spec, secrets: secrets.secrets, cacheDir });
      if (!prepared.ok) {
        const attempted =
          prepared.revision === undefined
            ? {}
            : {
                lastFetchedRevision: formatRevision(refName(spec), prepared.revision),
                lastAttemptedRevision: formatRevision(refName(spec), prepared.revision),
              };
        const verification =
          prepared.reason === "VerificationFailed" ? { ok: false, message: prepared.message } : undefined;
        return finish(failed(prepared.reason, prepared.message), attempted, verification);
      }
      const revision = formatRevision(prepared.ref, prepared.revision);
      const verified = prepared.verified === undefined ? undefined : { ok: true, message: prepared.verified };
      const fetched = { lastFetchedRevision: revision, lastAttemptedRevision: revision };

      // Apply: dry-run diff first, write only what changed, one Event per created or changed object.
      const drift = previous?.lastAppliedRevision === revision;
      const applied = await applyObjects(applier, prepared.objects, fieldManagerOf(ref));
      for (const o of applied.objects) {
        if (o.action === "unchanged") continue;
        // Same revision as last time: the change was made in the cluster, not in Git.
        const what = describeObject(o.manifest.object);
        const from = `${shortRevision(revision)} (${prepared.author})`;
        let reason = o.action === "created" ? "Created" : "Configured";
        let note = o.action === "created" ? `${what} created from ${from}` : `${what} changed by ${from}`;
        if (drift) {
          reason = "DriftCorrected";
          note =
            o.action === "created"
              ? `${what} was deleted outside Git; created again`
              : `${what} was changed outside Git; set back`;
        }
        if (o.action === "changed") note += `: ${o.fields.join(", ")}`;
        await opts.events.record(object, { type: "Normal", reason, action: "Apply", note });
      }
      if (!applied.ok) {
        // What was applied is ours now; what was tracked before stays tracked. Nothing is pruned.
        const inventory = union(
          oldInventory,
          applied.objects.map((o) => o.manifest.entry),
        );
        return finish(
          failed("ApplyFailed", applied.message),
          { ...fetched, inventory: { entries: inventory } },
          verified,
        );
      }

      // Prune: stale objects go, within the guards; failed deletes stay in the inventory.
      const allow = object.metadata?.annotations?.[ALLOW_LARGE_PRUNE_ANNOTATION] ?? "";
      const pruned = await pruneStale(
        applier,
        ref,
        oldInventory,
        prepared.objects.map((o) => o.entry),
        {
          prune: spec.prune,
          maxPruneFraction: spec.maxPruneFraction,
          allowLargePrune: allow.length >= 7 && prepared.revision.startsWith(allow),
        },
      );
      for (const entry of pruned.deleted) {
        await opts.events.record(object, {
          type: "Normal",
          reason: "Pruned",
          action: "Prune",
          note: `${describeEntry(entry)} deleted: it is no longer in ${shortRevision(revision)}`,
        });
      }
      for (const refusal of pruned.plan.refused) {
        await opts.events.record(object, {
          type: "Warning",
          reason: refusal.reason,
          action: "Prune",
          note: `kept: ${refusal.message}`,
        });
      }

      // Status.
      const applyDone = {
        ...fetched,
        lastAppliedRevision: revision,
        inventory: { entries: pruned.inventory },
      };
      const counts = countActions(
        applied.objects.map((o) => o.action),
        pruned.deleted.length,
      );
      if (pruned.failed.length > 0) {
        const message = `applied ${revision}, but could not prune ${pruned.failed.map((f) => f.message).join("; ")}`;
        return finish(failed("PruneFailed", message), applyDone, verified);
      }
      const blocked = pruned.plan.blocked;
      if (blocked !== undefined && blocked.reason !== "PruneDisabled") {
        const message = `applied ${revision}; nothing pruned: ${blocked.message}${
          blocked.reason === "PruneTooLarge"
            ? ` (annotate the GitSource with ${ALLOW_LARGE_PRUNE_ANNOTATION}: ${prepared.revision})`
            : ""
        }`;
        return finish(failed(blocked.reason, message), applyDone, verified);
      }
      log.info("gitsource synced", { revision, ...counts });
      return finish(
        // Counts go to the log and Events, not the condition: a resync that changes nothing must not write status.
        { kind: "applied", message: `Applied revision ${revision} (${prepared.objects.length} objects)` },
        applyDone,
        verified,
      );
    },
  });
}

/** The decoded data of the Secrets the spec names, read from the source's namespace. */
async function sourceSecrets(
  client: KubeClient,
  namespace: string,
  spec: GitSource["spec"],
): Promise<{ ok: true; secrets: RevisionRequest["secrets"] } | { ok: false; message: string }> {
  const wanted: [keyof RevisionRequest["secrets"], string, string | undefined][] = [
    ["auth", "spec.secretRef", spec.secretRef?.name],
    ["verify", "spec.verify.secretRef", spec.verify?.secretRef.name],
    ["decryption", "spec.decryption.secretRef", spec.decryption?.secretRef.name],
  ];
  const secrets: RevisionRequest["secrets"] = {};
  for (const [slot, field, secretName] of wanted) {
    if (secretName === undefined) continue;
    const secret = await client.get<KubeObject & { data?: Record<string, string> }>(
      SECRET_TYPE,
      namespace,
      secretName,
    );
    if (secret === undefined) {
      return { ok: false, message: `Secret ${namespace}/${secretName} (${field}) does not exist` };
    }
    secrets[slot] = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
  }
  return { ok: true, secrets };
}

function refName(spec: GitSource["spec"]): string {
  return spec.ref.branch ?? spec.ref.tag ?? "";
}

function shortRevision(revision: string): string {
  return revision.replace(/(sha(?:1|256):[0-9a-f]{12})[0-9a-f]*$/, "$1");
}

function union(a: readonly InventoryEntry[], b: readonly InventoryEntry[]): InventoryEntry[] {
  const byId = new Map([...a, ...b].map((e) => [e.id, e]));
  return [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

interface Counts {
  created: number;
  changed: number;
  unchanged: number;
  pruned: number;
}

function countActions(actions: readonly string[], pruned: number): Counts {
  const count = (a: string) => actions.filter((x) => x === a).length;
  return { created: count("created"), changed: count("changed"), unchanged: count("unchanged"), pruned };
}
