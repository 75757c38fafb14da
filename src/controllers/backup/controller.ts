// The Backup reconciler, in the order things happen: validate → a finished Backup only keeps its metrics (and gets
// verified once, with spec.verify) → resolve the source (a Zitadel's PostgreSQL) and the destination → the backup
// Job (named after the Backup's uid, so a restarted operator finds it instead of making a second) → read the
// Job's result from its pod's termination message → status (Pending → Running → Completed | Failed), an Event,
// and metrics. A Backup records one run: once Completed or Failed it never runs again.
import type { Backup, BackupPhase, BackupStatus } from "../../api/backup.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizers.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import {
  accessOfCluster,
  accessOfZitadel,
  type DatabaseAccess,
  type Failure,
  type Resolved,
  zitadelNamed,
} from "./access.ts";
import { deleteBackupFiles, FILES_FINALIZER } from "./files.ts";
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
} from "./job.ts";
import { recordFailure, recordSuccess } from "./metrics.ts";

export const TYPES = {
  backup: ourType("Backup", "backups"),
  zitadel: ourType("Zitadel", "zitadels"),
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
};

/** How long a finished Job may go without a result line before the Backup fails for want of one. */
const RESULT_GRACE_MS = 60_000;
const POLL_MS = 2_000;

type BackupObject = WithStatus & { status?: BackupStatus };

export type { Failure } from "./access.ts";

export function backupController(opts: ControllerOptions): Controller<BackupObject> {
  const now = opts.now ?? (() => new Date());
  const controller: Controller<BackupObject> = new Controller<BackupObject>({
    name: "backup",
    client: opts.client,
    log: opts.log,
    for: TYPES.backup,
    owns: [TYPES.job],
    watches: [jobPodWatch(["backup", "verify"])],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("backup"),
    reconcile: async ({ object, log }) => {
      if (!object) return undefined;
      const deleting = object.metadata?.deletionTimestamp !== undefined;
      if (deleting && !hasFinalizer(object, FILES_FINALIZER)) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "Backup") {
        if (deleting) await removeFinalizer(opts.client, object, FILES_FINALIZER);
        return undefined;
      }
      const backup = resource as Backup;
      const namespace = object.metadata?.namespace ?? "default";

      // deletionPolicy: Delete. The files go before the Backup does (files.ts).
      if (deleting) {
        const files = await deleteBackupFiles(opts.client, backup, namespace);
        if ("failed" in files) {
          await opts.events.record(object, {
            type: "Warning",
            reason: files.failed.reason,
            action: "DeleteFiles",
            note: files.failed.message,
          });
          throw new Error(files.failed.message);
        }
        await opts.events.record(object, {
          type: "deleted" in files ? "Normal" : "Warning",
          reason: "deleted" in files ? "FilesDeleted" : "FilesKept",
          action: "DeleteFiles",
          note: "deleted" in files ? `deleted ${files.deleted} object(s) under ${files.where}` : files.kept,
        });
        await removeFinalizer(opts.client, object, FILES_FINALIZER);
        return undefined;
      }
      if (backup.spec.deletionPolicy === "Delete") await addFinalizer(opts.client, object, FILES_FINALIZER);
      else if (hasFinalizer(object, FILES_FINALIZER))
        await removeFinalizer(opts.client, object, FILES_FINALIZER);
      const source = sourceLabel(backup, namespace);
      const status: BackupStatus = object.status ?? {};
      const pods = (name: string) => controller.list<PodObject>(TYPES.pod, namespace, { "job-name": name });

      /** Writes the status of `phase` with a Ready condition; true when it changed. */
      const report = async (phase: BackupPhase, fields: Partial<BackupStatus>, why: Failure) => {
        const next: BackupStatus = {
          ...status,
          ...fields,
          phase,
          observedGeneration: object.metadata?.generation,
        };
        const ready = phase === "Completed" ? "True" : "False";
        next.conditions = setCondition(
          status.conditions,
          { type: "Ready", status: ready, reason: why.reason, message: why.message },
          object.metadata?.generation,
          now(),
        );
        return applyStatus(opts.client, object, next as Record<string, unknown>);
      };
      const fail = async (failure: Failure, fields: Partial<BackupStatus> = {}) => {
        const completedAt = fields.completedAt ?? stamp(now());
        if (await report("Failed", { ...fields, completedAt, error: failure.message }, failure)) {
          recordFailure(source);
          await opts.events.record(object, {
            type: "Warning",
            reason: "BackupFailed",
            action: "Backup",
            note: `${failure.reason}: ${failure.message}`,
          });
          log.warn("backup failed", { reason: failure.reason });
        }
        return undefined;
      };

      if (status.phase === "Failed") return undefined;
      if (status.phase === "Completed") {
        if (status.completedAt)
          recordSuccess(source, status.startedAt, status.completedAt, status.sizeBytes ?? 0);
        return backup.spec.verify ? verify() : undefined;
      }

      // The source and the destination.
      const resolved = await resolveSource(opts.client, backup, namespace);
      if ("wait" in resolved) {
        await report("Pending", {}, resolved.wait);
        return { requeueAfterMs: 10_000 };
      }
      if ("failure" in resolved) return fail(resolved.failure);

      // The Job.
      const name = jobName(object);
      const job =
        controller.get<JobObject>(TYPES.job, namespace, name) ??
        (status.jobName ? await opts.client.get<JobObject>(TYPES.job, namespace, name) : undefined);
      if (job === undefined) {
        if (status.jobName)
          return fail({ reason: "JobMissing", message: `Job ${name} was deleted before it finished` });
        const desired = renderJob({
          command: "backup",
          owner: object,
          name,
          namespace,
          backupName: backup.metadata.name ?? "",
          source: sourceName(backup),
          access: resolved.access,
          destination: backup.spec.destination,
          args: backupArgs(backup, resolved.access),
        });
        await createJob(opts.client, desired);
        await report(
          "Running",
          { jobName: name, startedAt: stamp(now()), engine: resolved.access.engine },
          { reason: "Running", message: `Job ${name} is backing up ${source}` },
        );
        await opts.events.record(object, {
          type: "Normal",
          reason: "BackupStarted",
          action: "Backup",
          note: `created Job ${name} to back up ${describeAccess(backup, resolved.access)}`,
        });
        return undefined;
      }

      const state = jobState(job);
      if (state.state === "Running") {
        await report(
          "Running",
          {
            jobName: name,
            engine: resolved.access.engine,
            startedAt: status.startedAt ?? job.status?.startTime ?? stamp(now()),
          },
          { reason: "Running", message: `Job ${name} is backing up ${source}` },
        );
        return undefined;
      }
      const outcome = jobOutcome(pods(name));
      if (outcome === undefined) {
        if (state.state === "Failed")
          return fail({ reason: "JobFailed", message: `Job ${name} failed: ${exitDescription(pods(name))}` });
        // The kubelet writes the termination message with the pod's final status; give it a moment.
        if (now().getTime() - Date.parse(state.at ?? stamp(now())) < RESULT_GRACE_MS)
          return { requeueAfterMs: POLL_MS };
        return fail({ reason: "NoResult", message: `Job ${name} finished without reporting a result` });
      }
      if (!outcome.ok || state.state === "Failed") {
        return fail({
          reason: outcome.reason ?? "JobFailed",
          message: outcome.message ?? `Job ${name} failed: ${exitDescription(pods(name))}`,
        });
      }
      const completedAt = str(outcome.completedAt) ?? state.at ?? stamp(now());
      const fields: Partial<BackupStatus> = {
        jobName: name,
        engine: resolved.access.engine,
        startedAt: str(outcome.startedAt) ?? status.startedAt,
        completedAt,
        asOf: str(outcome.asOf) ?? str(outcome.startedAt) ?? status.startedAt,
        sizeBytes: typeof outcome.sizeBytes === "number" ? outcome.sizeBytes : 0,
        location: str(outcome.location),
      };
      const message = `backed up ${source} (${fields.sizeBytes} bytes) to ${fields.location ?? "the destination"}`;
      if (await report("Completed", fields, { reason: "Completed", message })) {
        recordSuccess(source, fields.startedAt, completedAt, fields.sizeBytes ?? 0);
        await opts.events.record(object, {
          type: "Normal",
          reason: "BackupCompleted",
          action: "Backup",
          note: message,
        });
        log.info("backup completed", { location: fields.location });
      }
      return backup.spec.verify ? { requeueAfterMs: 0 } : undefined;

      /** spec.verify: once, after completion, a verify Job restores into a scratch database and compares. */
      async function verify(): Promise<ReconcileResult> {
        if (status.verification !== undefined) return undefined;
        const resolvedNow = await resolveSource(opts.client, backup, namespace);
        if (!("access" in resolvedNow)) return { requeueAfterMs: 30_000 };
        const vname = jobName(object as KubeObject, "-v");
        const vjob = controller.get<JobObject>(TYPES.job, namespace, vname);
        if (vjob === undefined) {
          const desired = renderJob({
            command: "verify",
            owner: object as KubeObject,
            name: vname,
            namespace,
            backupName: backup.metadata.name ?? "",
            source: sourceName(backup),
            access: resolvedNow.access,
            destination: backup.spec.destination,
            args: [],
          });
          await createJob(opts.client, desired);
          return undefined;
        }
        const vstate = jobState(vjob);
        if (vstate.state === "Running") return undefined;
        const vout = jobOutcome(pods(vname));
        if (
          vout === undefined &&
          vstate.state === "Succeeded" &&
          now().getTime() - Date.parse(vstate.at ?? stamp(now())) < RESULT_GRACE_MS
        )
          return { requeueAfterMs: POLL_MS };
        const passed = vstate.state === "Succeeded" && vout?.ok === true;
        const vmessage =
          vout?.message ??
          (vstate.state === "Succeeded"
            ? `Job ${vname} finished without reporting a result`
            : exitDescription(pods(vname)));
        const next: BackupStatus = {
          ...status,
          verification: {
            result: passed ? "Passed" : "Failed",
            checkedAt: stamp(now()),
            message: vmessage.slice(0, 4096),
          },
          conditions: setCondition(
            status.conditions,
            {
              type: "Verified",
              status: passed ? "True" : "False",
              reason: passed ? "Passed" : (vout?.reason ?? "VerifyFailed"),
              message: vmessage,
            },
            object?.metadata?.generation,
            now(),
          ),
        };
        if (
          (await applyStatus(opts.client, object as KubeObject, next as Record<string, unknown>)) &&
          !passed
        ) {
          await opts.events.record(object as KubeObject, {
            type: "Warning",
            reason: "VerificationFailed",
            action: "Verify",
            note: vmessage,
          });
        }
        return undefined;
      }
    },
  });
  return controller;
}

/** The database a Backup's Job works on, as the Job reaches it, or why not (yet). */
export async function resolveSource(
  client: KubeClient,
  backup: Backup,
  namespace: string,
): Promise<Resolved> {
  const { zitadelRef, cockroachClusterRef, database } = backup.spec.source;
  const resolved =
    zitadelRef !== undefined
      ? await (async (): Promise<Resolved> => {
          const found = await zitadelNamed(client, namespace, zitadelRef.name);
          return "wait" in found ? found : accessOfZitadel(client, found.zitadel, namespace);
        })()
      : await accessOfCluster(client, namespace, cockroachClusterRef?.name ?? "", database);
  if (!("access" in resolved)) return resolved;
  const unsupported = unsupportedDestination(backup.spec.destination);
  if (unsupported) return { failure: { reason: "DestinationUnsupported", message: unsupported } };
  if (resolved.access.engine === "CockroachDB" && backup.spec.destination.pvc !== undefined)
    return {
      failure: {
        reason: "DestinationUnsupported",
        message:
          "CockroachDB's nodes write a backup straight to object storage, not through the Job: use destination.s3 or destination.gcs",
      },
    };
  if (backup.spec.revisionHistory && resolved.access.engine !== "CockroachDB")
    return {
      failure: {
        reason: "RevisionHistoryUnsupported",
        message: "spec.revisionHistory is CockroachDB's: a PostgreSQL backup (pg_dump) holds one snapshot",
      },
    };
  if (zitadelRef !== undefined && (backup.spec.masterkeyRecipients ?? []).length === 0)
    return {
      failure: {
        reason: "NoMasterkeyRecipient",
        message:
          "spec.masterkeyRecipients is empty: a Zitadel backup carries its masterkey encrypted to age recipients, " +
          "without which a restore after losing the cluster could not read ZITADEL's secrets",
      },
    };
  return resolved;
}

/** The backed-up Zitadel or CockroachCluster: the second path segment of the backup's directory. */
export function sourceName(backup: Backup): string {
  return backup.spec.source.zitadelRef?.name ?? backup.spec.source.cockroachClusterRef?.name ?? "";
}

function backupArgs(backup: Backup, access: DatabaseAccess): string[] {
  const database = access.engine === "PostgreSQL" ? access.postgres.database : access.cockroach.database;
  const recipients = backup.spec.masterkeyRecipients ?? [];
  return [
    ...(database === undefined ? [] : [`--database=${database}`]),
    ...(backup.spec.revisionHistory ? ["--revision-history"] : []),
    // Only a Zitadel's database has a masterkey; a CockroachCluster's backup says so explicitly.
    ...(backup.spec.source.zitadelRef === undefined
      ? ["--without-masterkey"]
      : recipients.map((r) => `--age-recipient=${r}`)),
  ];
}

function describeAccess(backup: Backup, access: DatabaseAccess): string {
  const { zitadelRef, cockroachClusterRef } = backup.spec.source;
  const database = access.engine === "PostgreSQL" ? access.postgres.database : access.cockroach.database;
  const what = database === undefined ? "the whole cluster" : `database "${database}"`;
  return zitadelRef !== undefined
    ? `${what} of Zitadel ${zitadelRef.name} (${access.engine})`
    : `${what} of CockroachCluster ${cockroachClusterRef?.name}`;
}

function sourceLabel(backup: Backup, namespace: string): string {
  const s = backup.spec.source;
  return `${namespace}/${s.zitadelRef?.name ?? s.cockroachClusterRef?.name ?? ""}`;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}
