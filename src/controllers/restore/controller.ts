// The Restore reconciler, in the order things happen: validate → find the backup (a Completed Backup, or a
// location) and the target Zitadel → for an in-place restore with overwrite, hold the Zitadel at zero replicas
// (zitadel.ts) → the restore Job (named after the Restore's uid) → read its result → for a held Zitadel, run setup
// again and give it its replicas back → Completed once it serves again, or Failed (the database then is as it was:
// `job restore` replaces the original only after the restored copy matched the backup).
//
// Without overwrite, the Job restores only into a missing or empty database and refuses one with data
// (TargetExists); nothing is scaled, since nothing can be using an empty database. With target.newDatabaseName the
// backup is restored next to the live database, which keeps serving.
import type { Backup } from "../../api/backup.ts";
import { parseResource } from "../../api/index.ts";
import type { Restore, RestoreStatus } from "../../api/restore.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import { isConflict, type KubeClient, type KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import { accessOf, type Failure, stamp } from "../backup/controller.ts";
import {
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
import { ourType } from "../pending.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import {
  RESTORE_ANNOTATION,
  rerunSetup,
  scaleDown,
  scaledToZero,
  scaleUp,
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

type RestoreObject = WithStatus & { status?: RestoreStatus };

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
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "Restore") return undefined;
      const restore = resource as Restore;
      const namespace = object.metadata?.namespace ?? "default";
      const restoreName = object.metadata?.name ?? "";
      // A copy: the cached object is never changed in place (applyStatus compares against it).
      const status: RestoreStatus = { ...(object.status ?? {}) };
      if (status.phase === "Completed" || status.phase === "Failed") return undefined;

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
        if (await report("Failed", { completedAt: stamp(now()), error: failure.message }, failure)) {
          await opts.events.record(object, {
            type: "Warning",
            reason: "RestoreFailed",
            action: "Restore",
            note: `${failure.reason}: ${failure.message}`,
          });
          log.warn("restore failed", { reason: failure.reason });
        }
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
      const zitadelName = restore.spec.target?.zitadelRef?.name ?? from.sourceZitadel;
      if (zitadelName === undefined || restore.spec.target?.cockroachClusterRef !== undefined)
        return fail({
          reason: "TargetUnsupported",
          message: "only restores into a Zitadel's PostgreSQL are implemented yet",
        });
      const unsupported = unsupportedDestination(from.destination);
      if (unsupported) return fail({ reason: "DestinationUnsupported", message: unsupported });

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
      const access = await accessOf(opts.client, zitadel, namespace);
      if ("wait" in access) return wait(access.wait);
      if ("failure" in access) return fail(access.failure);
      const target =
        restore.spec.target?.newDatabaseName ?? restore.spec.target?.database ?? access.access.database;
      const inPlace = target === access.access.database;
      const hold = inPlace && restore.spec.overwrite;
      const holder = zitadelObject.metadata?.annotations?.[RESTORE_ANNOTATION.holder];

      const name = jobName(object);
      const job =
        controller.get<JobObject>(TYPES.job, namespace, name) ??
        (status.jobName ? await opts.client.get<JobObject>(TYPES.job, namespace, name) : undefined);
      const pods = () => controller.list<PodObject>(TYPES.pod, namespace, { "job-name": name });

      if (job === undefined) {
        if (status.jobName)
          return fail({ reason: "JobMissing", message: `Job ${name} was deleted before it finished` });
        if (hold) {
          if (holder !== undefined && holder !== restoreName)
            return wait({
              reason: "TargetBusy",
              message: `Restore ${holder} is restoring Zitadel ${zitadelName}`,
            });
          if (holder === undefined) {
            const replicas = await scaleDown(opts.client, zitadelObject, restoreName);
            await opts.events.record(object, {
              type: "Normal",
              reason: "ScalingDown",
              action: "Restore",
              note: `scaling Zitadel ${zitadelName} from ${replicas} replica(s) to 0 so nothing writes to the database during the restore`,
            });
          }
          if (!(await scaledToZero(opts.client, zitadelObject))) {
            return wait(
              { reason: "ScalingDown", message: `waiting for the pods of Zitadel ${zitadelName} to stop` },
              POLL_MS,
            );
          }
        }
        const desired = renderJob({
          command: "restore",
          owner: object,
          name,
          namespace,
          backupName: from.backupName,
          backupNamespace: from.namespace,
          source: from.source,
          access: access.access,
          destination: from.destination,
          args: [`--target-database=${target}`, ...(restore.spec.overwrite ? ["--overwrite"] : [])],
        });
        try {
          await opts.client.create(desired);
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
        await report(
          "Running",
          { jobName: name, startedAt: stamp(now()), restoredFrom: from.location },
          {
            reason: "Running",
            message: `Job ${name} is restoring ${from.location} into database "${target}"`,
          },
        );
        await opts.events.record(object, {
          type: "Normal",
          reason: "RestoreStarted",
          action: "Restore",
          note: `created Job ${name} to restore ${from.location} into database "${target}" of Zitadel ${zitadelName}`,
        });
        return undefined;
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

      // Bring a held Zitadel back: setup again (only after a restore that changed the data), then its replicas.
      if (hold && holder === restoreName) {
        if (ok) {
          const deleted = await rerunSetup(opts.client, zitadelObject, finishedAt);
          if (deleted.length > 0)
            await opts.events.record(object, {
              type: "Normal",
              reason: "SetupRerun",
              action: "Restore",
              note: `deleted setup Job(s) ${deleted.join(", ")} of Zitadel ${zitadelName}: setup runs again on the restored database before any pod starts`,
            });
        }
        const replicas = await scaleUp(opts.client, zitadelObject);
        await opts.events.record(object, {
          type: "Normal",
          reason: "ScalingUp",
          action: "Restore",
          note: `Zitadel ${zitadelName} goes back to ${replicas} replica(s)${ok ? " once setup succeeded" : ""}`,
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
      const message = `restored ${from.location} into database "${database}"${hold ? `; Zitadel ${zitadelName} serves again` : ""}`;
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
    const source = backup.spec.source.zitadelRef?.name;
    if (source === undefined)
      return {
        failure: {
          reason: "TargetUnsupported",
          message: "only restores of a Zitadel's PostgreSQL are implemented yet",
        },
      };
    return {
      backupName: ref.name,
      source,
      sourceZitadel: source,
      namespace,
      location: backup.status?.location ?? ref.name,
      destination: backup.spec.destination,
    };
  }
  const location = restore.spec.location;
  if (location === undefined)
    return { failure: { reason: "InvalidSpec", message: "set backupRef or location" } };
  const parts = (location.backup ?? "").split("/").filter(Boolean);
  const target = restore.spec.target?.zitadelRef?.name;
  if (parts.length === 0 || parts.length === 2 || parts.length > 3 || target === undefined)
    return {
      failure: {
        reason: "LocationIncomplete",
        message:
          'location.backup must name the backup as "<name>" (taken of the target Zitadel in this namespace) or ' +
          '"<namespace>/<zitadel>/<name>", as the files are laid out under the prefix',
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
