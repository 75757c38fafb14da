// A Restore deleted while it holds its Zitadel (kubectl delete, a GitSource prune, a namespace being deleted).
// Without care the hold annotation would stay and ZITADEL with it at 0 pods, while Kubernetes' garbage collector
// takes the restore Job (owned by the Restore) away mid-way. So a Restore carries HOLD_FINALIZER from just before
// it holds a Zitadel until it lets it go, and its deletion then runs, one reconcile at a time:
//
// 1. announce: what the restore Job had got to (not started, running, failed, succeeded, gone) is read once,
//    while the Job and its pods still tell it, and written into the Restore's Ready condition (reason
//    DeletedWhileHolding): after step 2 nothing else remembers it. A backup's masterkey is put in place here only
//    when the Job succeeded (see settleMasterkey).
// 2. the restore Job is deleted (Foreground) and we wait until neither it nor a running pod of it is left: a
//    restore still writing while ZITADEL starts would be worse than ZITADEL staying down a little longer.
// 3. setup again, always: the engine replaces the database only after the restored copy matched the backup, but
//    that may have happened before the Job was stopped, so the database may be the backup's. The setup Jobs made
//    before the deletion are deleted and we wait for the new one, as the normal path does (zitadel.ts step 3-4).
//    A Zitadel that is itself being deleted gets no setup (its controller no longer makes any).
// 4. release the Zitadel, delete the staged masterkey Secret, a Warning Event on the Zitadel (it outlives the
//    Restore, and that is where someone looks for why it was down), then the finalizer goes.
//
// A Restore that holds nothing never carries the finalizer (or drops it at once) and is deleted without delay.
import { parseResource } from "../../api/index.ts";
import type { RestoreStatus } from "../../api/restore.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizers.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import type { Logger } from "../../runtime/log.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import { masterkeySecretOf } from "../backup/access.ts";
import { type JobObject, jobName, jobOutcome, jobState, type PodObject } from "../backup/job.ts";
import type { WithStatus } from "../spec.ts";
import { stagedMasterkey, swapMasterkey, unstageMasterkey } from "./masterkey.ts";
import { holderOf, release, rerunSetup, setupAfter, ZITADEL_TYPES, type ZitadelObject } from "./zitadel.ts";

/** On a Restore while it holds (or is about to hold) a Zitadel: its deletion releases the Zitadel first. */
export const HOLD_FINALIZER = "zitadel-operator.dev/restore-hold";

/** The Ready reason of a Restore whose deletion found it holding its Zitadel; its message tells the story. */
export const DELETED_WHILE_HOLDING = "DeletedWhileHolding";

const RESTORE = {
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "Restore",
  plural: "restores",
  namespaced: true,
};
const JOB = { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true };
const POD = { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true };
const POLL_MS = 1_000;

export type RestoreObject = WithStatus & { status?: RestoreStatus };

/** The Zitadel of the Restore's namespace that `restore` holds, read from the API server (not a cache). */
export async function heldZitadel(
  client: KubeClient,
  namespace: string,
  restore: string,
): Promise<ZitadelObject | undefined> {
  const { items } = await client.list<ZitadelObject>(ZITADEL_TYPES.zitadel, { namespace });
  return items.find((z) => holderOf(z) === restore);
}

/**
 * Removes HOLD_FINALIZER unless the Restore still holds its Zitadel. A Restore that ended (Completed, or Failed
 * while holding, as after its Job was deleted under it) keeps it as long as it holds: its deletion is then what
 * releases the Zitadel safely.
 */
export async function dropFinalizerIfFree(client: KubeClient, restore: KubeObject): Promise<void> {
  if (!hasFinalizer(restore, HOLD_FINALIZER)) return;
  const namespace = restore.metadata?.namespace ?? "default";
  const name = restore.metadata?.name ?? "";
  if ((await heldZitadel(client, namespace, name)) !== undefined) return;
  // Read again: the cached copy is older than the status this reconcile may just have written, and the
  // finalizer patch tests the resourceVersion.
  const live = await client.get<KubeObject>(RESTORE, namespace, name);
  if (live !== undefined) await removeFinalizer(client, live, HOLD_FINALIZER);
}

export interface JobFacts {
  /** Whether `job restore` reported success: only then does the database hold the backup for certain. */
  succeeded: boolean;
  /** What the restore Job had got to, for people. */
  phrase: string;
}

/** What the restore Job had got to when the Restore was deleted (pure). */
export function jobFacts(
  job: JobObject | undefined,
  pods: readonly PodObject[],
  everStarted: boolean,
): JobFacts {
  if (job === undefined)
    return everStarted
      ? { succeeded: false, phrase: "its restore Job was already gone, so whether it finished is unknown" }
      : { succeeded: false, phrase: "its restore Job had not started: the database was not touched" };
  const state = jobState(job);
  const outcome = jobOutcome(pods);
  if (outcome?.ok === true && state.state === "Succeeded")
    return {
      succeeded: true,
      phrase: "its restore Job had finished and succeeded: the database holds the backup",
    };
  if (outcome !== undefined || state.state === "Failed")
    return {
      succeeded: false,
      phrase: `its restore Job had finished and failed (${outcome?.reason ?? "JobFailed"}), so the database is most likely as it was`,
    };
  if (state.state === "Succeeded")
    return {
      succeeded: false,
      phrase:
        "its restore Job had ended without reporting a result, so whether the database was replaced is unknown",
    };
  return {
    succeeded: false,
    phrase: "its restore Job had not finished, so whether the database was replaced is unknown",
  };
}

interface Context {
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  now: () => Date;
}

/** Reconciles a deleted Restore that carries HOLD_FINALIZER; see the top of this file. */
export async function finalizeRestore(
  ctx: Context,
  cached: RestoreObject,
): Promise<{ requeueAfterMs: number } | undefined> {
  const { client, events, log } = ctx;
  const namespace = cached.metadata?.namespace ?? "default";
  const name = cached.metadata?.name ?? "";
  // Every step reads the API server, not the caches: each decision here lets pods start on a database.
  const restore = await client.get<RestoreObject>(RESTORE, namespace, name);
  if (restore === undefined || !hasFinalizer(restore, HOLD_FINALIZER)) return undefined;
  const zitadel = await heldZitadel(client, namespace, name);
  if (zitadel === undefined) {
    // Nothing held (any more): nothing waits for this Restore.
    await unstageMasterkey(client, restore);
    await removeFinalizer(client, restore, HOLD_FINALIZER);
    return undefined;
  }
  const zitadelName = zitadel.metadata?.name ?? "";
  const job = jobName(restore);
  const liveJob = await client.get<JobObject>(JOB, namespace, job);
  const pods = async () =>
    (
      await client.list<PodObject & { status?: { phase?: string } }>(POD, {
        namespace,
        labelSelector: `job-name=${job}`,
      })
    ).items;

  // 1. Announce, once.
  const ready = restore.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.reason !== DELETED_WHILE_HOLDING) {
    const facts = jobFacts(liveJob, await pods(), restore.status?.jobName !== undefined);
    const key = await settleMasterkey(ctx, restore, zitadel, facts);
    if ("wait" in key) return { requeueAfterMs: key.wait };
    const story = `Restore ${name} was deleted while it held Zitadel ${zitadelName} at 0 pods: ${facts.phrase}${key.phrase}`;
    const status: RestoreStatus = { ...(restore.status ?? {}) };
    status.conditions = setCondition(
      status.conditions,
      {
        type: "Ready",
        status: "False",
        reason: DELETED_WHILE_HOLDING,
        message: story,
      },
      restore.metadata?.generation,
      ctx.now(),
    );
    await applyStatus(client, restore, JSON.parse(JSON.stringify(status)) as Record<string, unknown>);
    log.warn("restore deleted while holding its zitadel", { zitadel: zitadelName });
    // The next pass reads the condition back before the Job, which is all that knew it, is deleted.
    return { requeueAfterMs: 100 };
  }
  const story = ready.message;

  // 2. The restore Job and every pod of it gone. Foreground: the Job stays until the garbage collector deleted
  // its pods, so a Job seen gone has none left. The foregroundDeletion finalizer is put on the Job first, with a
  // patch that tests its resourceVersion: the API server cascades in the foreground for an object that carries
  // it whatever the DeleteOptions say, and a Job's default is to orphan its pods (a running one would go on
  // restoring). DeleteOptions in the body of a DELETE do not reach the API server from KubeClient today (Node
  // sends no body with a DELETE that has no Content-Length), so the finalizer is what makes this hold.
  if (liveJob !== undefined) {
    if (liveJob.metadata?.deletionTimestamp === undefined) {
      await addFinalizer(client, liveJob, "foregroundDeletion");
      await client.delete(JOB, namespace, job, { propagationPolicy: "Foreground" });
    }
    return { requeueAfterMs: POLL_MS };
  }
  // Pods the Job no longer owns (someone deleted it with propagationPolicy Orphan): the operator does not delete
  // pods, but it waits until none of them can still write.
  const running = (await pods()).filter(
    (p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed",
  );
  if (running.length > 0) {
    log.info("waiting for the pods of the deleted restore's job to stop", { pods: running.length });
    return { requeueAfterMs: POLL_MS };
  }

  // 3. Setup again, on whatever the database now is. The deletion time is the "restored at": every setup Job
  // made before it ran on the database as it was before the restore.
  const deletedAt = restore.metadata?.deletionTimestamp ?? ctx.now().toISOString();
  if (zitadel.metadata?.deletionTimestamp === undefined) {
    const deleted = await rerunSetup(client, zitadel, deletedAt);
    if (deleted.length > 0)
      await events.record(zitadel, {
        type: "Normal",
        reason: "SetupRerun",
        action: "Restore",
        note: `deleted setup Job(s) ${deleted.join(", ")}: Restore ${name} was deleted mid-way, so setup runs again before any pod starts`,
      });
    if (!(await setupAfter(client, zitadel, deletedAt)).exists) return { requeueAfterMs: POLL_MS };
  }

  // 4. Release, clean up, say so, let the Restore go. The Zitadel is read again: release tests its
  // resourceVersion, which its own controller has likely moved meanwhile (writing its status).
  const current = await heldZitadel(client, namespace, name);
  if (current !== undefined) await release(client, current);
  await unstageMasterkey(client, restore);
  const after =
    zitadel.metadata?.deletionTimestamp === undefined
      ? "setup runs again and the hold is released: the Zitadel goes back to spec.replicas once setup succeeded"
      : "the hold is released (the Zitadel is being deleted too)";
  await events.record(zitadel, {
    type: "Warning",
    reason: "RestoreDeleted",
    action: "Restore",
    note: `${story}. Its Job and pods are gone, ${after}`,
  });
  const latest = await client.get<KubeObject>(RESTORE, namespace, name);
  if (latest !== undefined) await removeFinalizer(client, latest, HOLD_FINALIZER);
  return undefined;
}

/**
 * The staged masterkey of a deleted Restore. The key and the data belong together, and only a succeeded Job
 * tells which data the database holds:
 * - the Job succeeded: the database holds the backup, which is unreadable with the old key, so the swap is done
 *   as the normal path would (the old key is kept in <zitadel>-masterkey-before-<restore>);
 * - anything else (not started, running, failed, gone): most likely the data is still the one the current key
 *   encrypted. Swapping on a guess would make the live data unreadable for a restore that probably did not
 *   happen, so the key stays as it is. Should the database have been replaced after all, the message names the
 *   key id the data needs; the key itself is still in the backup's masterkey.age.
 */
async function settleMasterkey(
  ctx: Context,
  restore: RestoreObject,
  zitadelObject: ZitadelObject,
  facts: JobFacts,
): Promise<{ phrase: string } | { wait: number }> {
  const staged = await stagedMasterkey(ctx.client, restore);
  if (staged === undefined || !staged.swap) return { phrase: "" };
  if (!facts.succeeded)
    return {
      phrase:
        `; the backup's masterkey ${staged.keyId} was not put in place, the Zitadel keeps its own (should the ` +
        `database hold the backup after all, it needs ${staged.keyId}, recoverable from the backup's masterkey.age)`,
    };
  const parsed = parseResource(zitadelObject);
  if (!parsed.ok || parsed.resource.kind !== "Zitadel") return { wait: 10_000 };
  const zitadel = parsed.resource as Zitadel;
  const namespace = restore.metadata?.namespace ?? "default";
  const swap = await swapMasterkey(
    ctx.client,
    zitadel,
    namespace,
    restore.metadata?.name ?? "",
    staged.secret,
  );
  if ("failure" in swap) {
    // Still held: the restored data needs the backup's key, so no pod may start before it is in place.
    await ctx.events.record(restore, {
      type: "Warning",
      reason: swap.failure.reason,
      action: "Restore",
      note: swap.failure.message,
    });
    return { wait: 10_000 };
  }
  const secret = masterkeySecretOf(zitadel).name;
  return {
    phrase: `; Secret ${secret} holds the backup's masterkey ${staged.keyId}${swap.replaced && swap.kept ? `, the previous one is kept in Secret ${swap.kept}` : ""}`,
  };
}
