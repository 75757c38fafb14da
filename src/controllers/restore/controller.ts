// The Restore reconciler, in the order things happen: validate → find the backup (a Completed Backup, or a
// location) and the target Zitadel → the masterkey: read the backup's manifest and compare its key with the
// Zitadel's (masterkey.ts), failing before anything is touched when they cannot be paired → for an in-place
// restore with overwrite, hold the Zitadel at zero pods through an annotation, never its spec (zitadel.ts) → the
// restore Job (named after the Restore's uid) → read its result → for a held Zitadel: the backup's masterkey into
// its Secret if it differs, setup again, release → Completed once it serves again, or Failed (the database then is
// as it was: `job restore` replaces the original only after the restored copy matched the backup). While it holds
// the Zitadel the Restore carries a finalizer, so deleting it mid-way still releases the Zitadel, after its Job
// stopped and setup ran again (deletion.ts).
//
// Without overwrite, the Job restores only into a missing or empty database and refuses one with data
// (TargetExists); nothing is held, since nothing can be using an empty database. With target.newDatabaseName the
// backup is restored next to the live database, which keeps serving.
import type { Backup } from "../../api/backup.ts";
import { parseResource } from "../../api/index.ts";
import type { Restore, RestoreStatus } from "../../api/restore.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { MASTERKEY_KEY } from "../../render/zitadel/secrets.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import { addFinalizer, hasFinalizer } from "../../runtime/finalizers.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import {
  accessOfCluster,
  accessOfZitadel,
  type DatabaseAccess,
  type Failure,
  masterkeySecretOf,
} from "../backup/access.ts";
import { stamp } from "../backup/controller.ts";
import {
  createJob,
  exitDescription,
  type JobObject,
  jobName,
  jobOutcome,
  jobPodWatch,
  jobState,
  type PodObject,
  renderJob,
  unsupportedDestination,
} from "../backup/job.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport } from "../spec.ts";
import { dropFinalizerIfFree, finalizeRestore, HOLD_FINALIZER, type RestoreObject } from "./deletion.ts";
import {
  checkMasterkey,
  PVC_NOTE,
  stagedMasterkey,
  stageMasterkey,
  swapMasterkey,
  unstageMasterkey,
} from "./masterkey.ts";
import {
  holderOf,
  hold as holdZitadel,
  release,
  rerunSetup,
  scaledToZero,
  setupAfter,
  ZITADEL_TYPES,
  type ZitadelObject,
  zitadelReady,
} from "./zitadel.ts";

const TYPES = {
  restore: ourType("Restore", "restores"),
  backup: ourType("Backup", "backups"),
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
};

const RESULT_GRACE_MS = 60_000;
const POLL_MS = 1_000;

export function restoreController(opts: ControllerOptions): Controller<RestoreObject> {
  const now = opts.now ?? (() => new Date());
  const controller: Controller<RestoreObject> = new Controller<RestoreObject>({
    name: "restore",
    client: opts.client,
    log: opts.log,
    for: TYPES.restore,
    owns: [TYPES.job],
    watches: [jobPodWatch(["restore"])],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("restore"),
    reconcile: async ({ object, log }): Promise<ReconcileResult> => {
      if (!object) return undefined;
      // Deleted: only a Restore that holds (or was about to hold) its Zitadel has work left (deletion.ts).
      if (object.metadata?.deletionTimestamp) {
        if (!hasFinalizer(object, HOLD_FINALIZER)) return undefined;
        return finalizeRestore({ client: opts.client, events: opts.events, log, now }, object);
      }
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "Restore") return undefined;
      const restore = resource as Restore;
      const namespace = object.metadata?.namespace ?? "default";
      const restoreName = object.metadata?.name ?? "";
      // A copy: the cached object is never changed in place (applyStatus compares against it).
      const status: RestoreStatus = { ...(object.status ?? {}) };
      if (status.phase === "Completed" || status.phase === "Failed") {
        // A finalizer left by a pass that ended before it could remove it (a conflict, a restart).
        await dropFinalizerIfFree(opts.client, object);
        return undefined;
      }

      const report = async (
        phase: NonNullable<RestoreStatus["phase"]>,
        fields: Partial<RestoreStatus>,
        why: Failure,
      ) => {
        const next: RestoreStatus = {
          ...status,
          ...fields,
          phase,
          observedGeneration: object.metadata?.generation,
        };
        next.conditions = setCondition(
          status.conditions,
          {
            type: "Ready",
            status: phase === "Completed" ? "True" : "False",
            reason: why.reason,
            message: why.message,
          },
          object.metadata?.generation,
          now(),
        );
        const wrote = await applyStatus(
          opts.client,
          object,
          JSON.parse(JSON.stringify(next)) as Record<string, unknown>,
        );
        Object.assign(status, next);
        return wrote;
      };
      const fail = async (failure: Failure) => {
        await unstageMasterkey(opts.client, object);
        if (await report("Failed", { completedAt: stamp(now()), error: failure.message }, failure)) {
          await opts.events.record(object, {
            type: "Warning",
            reason: "RestoreFailed",
            action: "Restore",
            note: `${failure.reason}: ${failure.message}`,
          });
          log.warn("restore failed", { reason: failure.reason });
        }
        // Failing while it still holds the Zitadel (its Job deleted under it, say), the Restore keeps the
        // finalizer: what the database holds is unknown, and deleting the Restore is then what releases the
        // Zitadel safely (setup again first).
        await dropFinalizerIfFree(opts.client, object);
        return undefined;
      };
      const wait = async (why: Failure, ms = 5_000) => {
        await report(status.phase === "Running" ? "Running" : "Pending", {}, why);
        return { requeueAfterMs: ms };
      };

      // What to restore.
      const from = await backupToRestore(opts.client, restore, namespace);
      if ("wait" in from) return wait(from.wait);
      if ("failure" in from) return fail(from.failure);
      // A point in time needs a CockroachDB backup that kept history; anything else would silently restore
      // another time than the one asked for. (A location's manifest is checked by the Job.)
      if (restore.spec.asOf !== undefined && from.revisionHistory === false)
        return fail({
          reason: "AsOfUnsupported",
          message:
            `spec.asOf: Backup ${from.backupName} holds one point in time (its status.asOf), not a history to ` +
            "choose from; only a CockroachDB backup taken with revisionHistory does",
        });
      const asOfArgs = restore.spec.asOf === undefined ? [] : [`--as-of=${restore.spec.asOf}`];
      const unsupported = unsupportedDestination(from.destination);
      if (unsupported) return fail({ reason: "DestinationUnsupported", message: unsupported });
      const name = jobName(object);
      const pods = () => controller.list<PodObject>(TYPES.pod, namespace, { "job-name": name });
      /** Creates the restore Job and says so, in the status and as an Event. */
      const start = async (desired: KubeObject, into: string, note = "") => {
        await createJob(opts.client, desired);
        await report(
          "Running",
          { jobName: name, startedAt: stamp(now()), restoredFrom: from.location },
          { reason: "Running", message: `Job ${name} is restoring ${from.location} into ${into}${note}` },
        );
        await opts.events.record(object, {
          type: "Normal",
          reason: "RestoreStarted",
          action: "Restore",
          note: `created Job ${name} to restore ${from.location} into ${into}`,
        });
        return undefined;
      };
      /** The restore Job of `from` with these credentials; --overwrite and --as-of follow the spec. */
      const restoreJob = (access: Parameters<typeof renderJob>[0]["access"], args: string[]) =>
        renderJob({
          command: "restore",
          owner: object,
          name,
          namespace,
          backupName: from.backupName,
          backupNamespace: from.namespace,
          source: from.source,
          access,
          destination: from.destination,
          args: [...args, ...(restore.spec.overwrite ? ["--overwrite"] : []), ...asOfArgs],
        });
      const findJob = async () =>
        controller.get<JobObject>(TYPES.job, namespace, name) ??
        (status.jobName ? await opts.client.get<JobObject>(TYPES.job, namespace, name) : undefined);

      // Into a CockroachCluster, no Zitadel involved.
      const clusterName =
        restore.spec.target?.cockroachClusterRef?.name ??
        (restore.spec.target?.zitadelRef === undefined ? from.sourceCluster : undefined);
      if (clusterName !== undefined) {
        const access = await accessOfCluster(opts.client, namespace, clusterName);
        if ("wait" in access) return wait(access.wait);
        if ("failure" in access) return fail(access.failure);
        const database = restore.spec.target?.database ?? from.sourceDatabase;
        const newName = restore.spec.target?.newDatabaseName;
        const target = newName ?? database;
        const what =
          target === undefined
            ? `CockroachCluster ${clusterName} (whole cluster)`
            : `database "${target}" of CockroachCluster ${clusterName}`;
        const job = await findJob();
        if (job === undefined) {
          if (status.jobName)
            return fail({ reason: "JobMissing", message: `Job ${name} was deleted before it finished` });
          // Overwriting a database a Zitadel runs on must go through that Zitadel, which holds its pods meanwhile.
          const user =
            target === undefined
              ? undefined
              : await zitadelUsing(opts.client, namespace, clusterName, target);
          if (user !== undefined && restore.spec.overwrite)
            return fail({
              reason: "TargetInUse",
              message: `Zitadel ${user} runs on database "${target}": restore it with target.zitadelRef so its pods are held during the restore`,
            });
          const desired = restoreJob(access.access, [
            ...(database === undefined ? [] : [`--database=${database}`]),
            ...(newName === undefined ? [] : [`--target-database=${newName}`]),
          ]);
          return start(desired, what);
        }
        const state = jobState(job);
        if (state.state === "Running") return undefined;
        const outcome = jobOutcome(pods());
        if (
          outcome === undefined &&
          state.state === "Succeeded" &&
          now().getTime() - Date.parse(state.at ?? stamp(now())) < RESULT_GRACE_MS
        )
          return { requeueAfterMs: 2_000 };
        if (state.state !== "Succeeded" || outcome?.ok !== true)
          return fail({
            reason: outcome?.reason ?? "JobFailed",
            message: outcome?.message ?? `Job ${name} failed: ${exitDescription(pods())}`,
          });
        const restored =
          typeof outcome.database === "string" && outcome.database !== "" ? outcome.database : target;
        const message = `restored ${from.location} into ${restored === undefined ? `CockroachCluster ${clusterName}` : `database "${restored}" of CockroachCluster ${clusterName}`}`;
        if (
          await report(
            "Completed",
            { completedAt: stamp(now()), ...(restored === undefined ? {} : { restoredDatabase: restored }) },
            { reason: "Completed", message },
          )
        )
          await opts.events.record(object, {
            type: "Normal",
            reason: "RestoreCompleted",
            action: "Restore",
            note: message,
          });
        return undefined;
      }

      const zitadelName = restore.spec.target?.zitadelRef?.name ?? from.sourceZitadel;
      if (zitadelName === undefined)
        return fail({
          reason: "TargetUnsupported",
          message: "set target.zitadelRef or target.cockroachClusterRef",
        });

      // Where to.
      const zitadelObject = await opts.client.get<ZitadelObject>(
        ZITADEL_TYPES.zitadel,
        namespace,
        zitadelName,
      );
      if (zitadelObject === undefined)
        return wait({ reason: "TargetNotFound", message: `Zitadel ${zitadelName} does not exist` });
      const parsed = parseResource(zitadelObject);
      if (!parsed.ok || parsed.resource.kind !== "Zitadel")
        return fail({ reason: "TargetInvalid", message: `Zitadel ${zitadelName} has an invalid spec` });
      const zitadel = parsed.resource as Zitadel;
      const access = await accessOfZitadel(opts.client, zitadel, namespace);
      if ("wait" in access) return wait(access.wait);
      if ("failure" in access) return fail(access.failure);
      if (restore.spec.asOf !== undefined && access.access.engine !== "CockroachDB")
        return fail({
          reason: "AsOfUnsupported",
          message: `spec.asOf: Zitadel ${zitadelName} runs on PostgreSQL, whose backups (pg_dump) hold one snapshot`,
        });
      const zitadelDatabase = databaseOf(access.access);
      const target = restore.spec.target?.newDatabaseName ?? restore.spec.target?.database ?? zitadelDatabase;
      const inPlace = target === zitadelDatabase;
      const hold = inPlace && restore.spec.overwrite;
      const holder = holderOf(zitadelObject);

      const job = await findJob();

      if (job === undefined) {
        if (status.jobName)
          return fail({ reason: "JobMissing", message: `Job ${name} was deleted before it finished` });
        if (hold && holder !== undefined && holder !== restoreName)
          return wait({
            reason: "TargetBusy",
            message: `Restore ${holder} is restoring Zitadel ${zitadelName}`,
          });
        // The masterkey, before anything is touched. Once this Restore holds the Zitadel it was checked (and a
        // recovered key staged) already: the store is not read again on every poll of the scale-down.
        let note = "";
        if (!(hold && holder === restoreName)) {
          const check = await checkMasterkey(opts.client, {
            restore,
            zitadel,
            namespace,
            destination: from.destination,
            location: { namespace: from.namespace, source: from.source, backupName: from.backupName },
            hold,
            inPlace,
          });
          if ("wait" in check) return wait(check.wait);
          if ("failure" in check) return fail(check.failure);
          if ("recovered" in check) await stageMasterkey(opts.client, object, check.recovered);
          else if (check.note !== undefined) note = `; ${check.note}`;
        } else if (from.destination.pvc !== undefined) note = `; ${PVC_NOTE}`;
        if (hold) {
          if (holder === undefined) {
            // The finalizer first: a Restore deleted once it holds must still release the Zitadel (deletion.ts).
            await addFinalizer(opts.client, object, HOLD_FINALIZER);
            await holdZitadel(opts.client, zitadelObject, restoreName);
            await opts.events.record(object, {
              type: "Normal",
              reason: "ScalingDown",
              action: "Restore",
              note: `holding Zitadel ${zitadelName} at 0 pods so nothing uses the database during the restore`,
            });
          }
          if (!(await scaledToZero(opts.client, zitadel, namespace))) {
            return wait(
              { reason: "ScalingDown", message: `waiting for the pods of Zitadel ${zitadelName} to stop` },
              POLL_MS,
            );
          }
        }
        // A recovered masterkey is the Job's ZITADEL_MASTERKEY, so its own check finds the backup's key.
        const staged = await stagedMasterkey(opts.client, object);
        const desired = restoreJob(
          staged ? withMasterkey(access.access, { name: staged.name, key: MASTERKEY_KEY }) : access.access,
          [`--target-database=${target}`],
        );
        return start(desired, `database "${target}" of Zitadel ${zitadelName}`, note);
      }

      const state = jobState(job);
      if (state.state === "Running") return undefined;
      const outcome = jobOutcome(pods());
      if (outcome === undefined && state.state === "Succeeded") {
        if (now().getTime() - Date.parse(state.at ?? stamp(now())) < RESULT_GRACE_MS)
          return { requeueAfterMs: 2_000 };
      }
      const ok = state.state === "Succeeded" && outcome?.ok === true;
      const finishedAt = state.at ?? stamp(now());

      // Bring a held Zitadel back: after a restore that changed the data, the backup's masterkey (if it is
      // another) and setup again, then release it.
      if (hold && holder === restoreName) {
        // A hold taken by an operator that did not set the finalizer yet gets it now.
        await addFinalizer(opts.client, object, HOLD_FINALIZER);
        if (ok) {
          const staged = await stagedMasterkey(opts.client, object);
          if (staged?.swap) {
            const swap = await swapMasterkey(opts.client, zitadel, namespace, restoreName, staged.secret);
            // Still held: the restored data needs the backup's key, so no pod may start before it is in place.
            if ("failure" in swap) return wait(swap.failure, 10_000);
            if (swap.replaced)
              await opts.events.record(object, {
                type: "Normal",
                reason: "MasterkeyReplaced",
                action: "Restore",
                note:
                  `Secret ${masterkeySecretOf(zitadel).name} now holds the backup's masterkey ${staged.keyId}` +
                  (swap.kept
                    ? `; the previous one is kept in Secret ${swap.kept}, which the operator never deletes`
                    : ""),
              });
          }
          const deleted = await rerunSetup(opts.client, zitadelObject, finishedAt);
          if (deleted.length > 0)
            await opts.events.record(object, {
              type: "Normal",
              reason: "SetupRerun",
              action: "Restore",
              note: `deleted setup Job(s) ${deleted.join(", ")} of Zitadel ${zitadelName}: setup runs again on the restored database before any pod starts`,
            });
          if (!(await setupAfter(opts.client, zitadelObject, finishedAt)).exists)
            return wait(
              {
                reason: "SetupRerun",
                message: `restored; waiting for Zitadel ${zitadelName} to create its setup Job on the restored database`,
              },
              POLL_MS,
            );
        }
        await release(opts.client, zitadelObject);
        await opts.events.record(object, {
          type: "Normal",
          reason: "ScalingUp",
          action: "Restore",
          note: `released Zitadel ${zitadelName}: it goes back to spec.replicas${ok ? " once setup succeeded" : ""}`,
        });
        return { requeueAfterMs: POLL_MS };
      }
      if (!ok) {
        return fail({
          reason: outcome?.reason ?? "JobFailed",
          message: outcome?.message ?? `Job ${name} failed: ${exitDescription(pods())}`,
        });
      }
      const database = typeof outcome?.database === "string" ? outcome.database : target;
      if (hold && !(await servesAgain(opts.client, zitadelObject, finishedAt))) {
        return wait(
          {
            reason: "WaitingForZitadel",
            message: `restored; Zitadel ${zitadelName} runs setup on the restored database, then its pods start`,
          },
          POLL_MS,
        );
      }
      const staged = await stagedMasterkey(opts.client, object);
      const needs =
        staged && !staged.swap
          ? `; the restored data needs the backup's masterkey ${staged.keyId}, not Zitadel ${zitadelName}'s (recover it from masterkey.age of the backup)`
          : "";
      const message = `restored ${from.location} into database "${database}"${hold ? `; Zitadel ${zitadelName} serves again` : ""}${needs}`;
      if (
        await report(
          "Completed",
          { completedAt: stamp(now()), restoredDatabase: database },
          { reason: "Completed", message },
        )
      ) {
        await opts.events.record(object, {
          type: "Normal",
          reason: "RestoreCompleted",
          action: "Restore",
          note: message,
        });
        log.info("restore completed", { database });
      }
      await unstageMasterkey(opts.client, object);
      await dropFinalizerIfFree(opts.client, object);
      return undefined;
    },
  });
  return controller;
}

type Source =
  | {
      backupName: string;
      source: string;
      namespace: string;
      location: string;
      destination: Backup["spec"]["destination"];
      sourceZitadel?: string;
      /** A Backup of a CockroachCluster: the cluster, and the one database it holds (unset: the whole cluster). */
      sourceCluster?: string;
      sourceDatabase?: string;
      /** Whether the backup kept revision history; unknown (undefined) for a location until the Job reads it. */
      revisionHistory?: boolean;
    }
  | { wait: Failure }
  | { failure: Failure };

/** The backup a Restore reads: a Completed Backup, or a location (with backup "<namespace>/<source>/<name>"). */
async function backupToRestore(client: KubeClient, restore: Restore, namespace: string): Promise<Source> {
  const ref = restore.spec.backupRef;
  if (ref !== undefined) {
    const raw = await client.get<KubeObject>(TYPES.backup, namespace, ref.name);
    if (raw === undefined)
      return { wait: { reason: "BackupNotFound", message: `Backup ${ref.name} does not exist` } };
    const parsed = parseResource(raw);
    if (!parsed.ok || parsed.resource.kind !== "Backup")
      return { failure: { reason: "BackupInvalid", message: `Backup ${ref.name} has an invalid spec` } };
    const backup = parsed.resource as Backup;
    const phase = backup.status?.phase;
    if (phase === "Failed")
      return {
        failure: { reason: "BackupFailed", message: `Backup ${ref.name} failed; it cannot be restored` },
      };
    if (phase !== "Completed")
      return {
        wait: { reason: "BackupNotCompleted", message: `waiting for Backup ${ref.name} to complete` },
      };
    const zitadelSource = backup.spec.source.zitadelRef?.name;
    const clusterSource = backup.spec.source.cockroachClusterRef?.name;
    return {
      backupName: ref.name,
      source: zitadelSource ?? clusterSource ?? "",
      ...(zitadelSource === undefined ? {} : { sourceZitadel: zitadelSource }),
      ...(clusterSource === undefined ? {} : { sourceCluster: clusterSource }),
      ...(backup.spec.source.database === undefined ? {} : { sourceDatabase: backup.spec.source.database }),
      revisionHistory: backup.spec.revisionHistory,
      namespace,
      location: backup.status?.location ?? ref.name,
      destination: backup.spec.destination,
    };
  }
  const location = restore.spec.location;
  if (location === undefined)
    return { failure: { reason: "InvalidSpec", message: "set backupRef or location" } };
  const parts = (location.backup ?? "").split("/").filter(Boolean);
  const target = restore.spec.target?.zitadelRef?.name ?? restore.spec.target?.cockroachClusterRef?.name;
  if (parts.length === 0 || parts.length === 2 || parts.length > 3 || target === undefined)
    return {
      failure: {
        reason: "LocationIncomplete",
        message:
          'location.backup must name the backup as "<name>" (taken of the target in this namespace) or ' +
          '"<namespace>/<zitadel or cluster>/<name>", as the files are laid out under the prefix',
      },
    };
  const [ns, source, name] = parts.length === 3 ? parts : [namespace, target, parts[0]];
  const { backup: _b, ...destination } = location;
  return {
    backupName: name ?? "",
    source: source ?? target,
    namespace: ns ?? namespace,
    location: location.backup ?? "",
    destination,
  };
}

/** A held Zitadel serves again: a setup Job made after the restore succeeded, and it is Ready. */
async function servesAgain(client: KubeClient, zitadel: ZitadelObject, restoredAt: string): Promise<boolean> {
  const live = await client.get<ZitadelObject>(
    ZITADEL_TYPES.zitadel,
    zitadel.metadata?.namespace,
    zitadel.metadata?.name ?? "",
  );
  if (live === undefined || !zitadelReady(live)) return false;
  const { items } = await client.list<JobObject>(ZITADEL_TYPES.job, {
    namespace: zitadel.metadata?.namespace,
    labelSelector: `app.kubernetes.io/instance=${zitadel.metadata?.name},app.kubernetes.io/component=migration`,
  });
  // creationTimestamp has whole seconds: a Job of the same second as the restore's end counts as after it.
  return items.some(
    (j) =>
      !j.metadata?.deletionTimestamp &&
      (j.metadata?.creationTimestamp ?? "") >= restoredAt.replace(/\.\d+Z$/, "Z") &&
      jobState(j).state === "Succeeded",
  );
}

function databaseOf(access: DatabaseAccess): string | undefined {
  return access.engine === "PostgreSQL" ? access.postgres.database : access.cockroach.database;
}

/** `access` with another masterkey Secret for the Job's ZITADEL_MASTERKEY (a recovered, staged key). */
function withMasterkey(access: DatabaseAccess, secret: { name: string; key: string }): DatabaseAccess {
  return access.engine === "PostgreSQL"
    ? { engine: "PostgreSQL", postgres: { ...access.postgres, masterkeySecret: secret } }
    : { engine: "CockroachDB", cockroach: { ...access.cockroach, masterkeySecret: secret } };
}

/** The Zitadel of this namespace that runs on `database` of CockroachCluster `cluster`, if any. */
async function zitadelUsing(
  client: KubeClient,
  namespace: string,
  cluster: string,
  database: string,
): Promise<string | undefined> {
  const { items } = await client.list<KubeObject>(ZITADEL_TYPES.zitadel, { namespace });
  for (const item of items) {
    const parsed = parseResource(item);
    if (!parsed.ok || parsed.resource.kind !== "Zitadel") continue;
    const crdb = (parsed.resource as Zitadel).spec.database.cockroach;
    if (crdb?.clusterRef.name === cluster && crdb.database === database) return item.metadata?.name;
  }
  return undefined;
}
