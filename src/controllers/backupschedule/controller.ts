// The BackupSchedule reconciler: validate → decide whether a scheduled time is due (decide.ts: suspend,
// immediate, missed runs, concurrency Forbid) → create that Backup, named after the scheduled time → retention
// (planRetention: never the newest completed Backup, never one a running Restore reads) → status with the last
// and next scheduled times → come back at the next one.
import type { BackupPhase } from "../../api/backup.ts";
import type { BackupSchedule, BackupScheduleStatus, BackupTiming } from "../../api/backupschedule.ts";
import { parseCron } from "../../api/cron.ts";
import { parseDuration } from "../../api/duration.ts";
import { planRetention } from "../../backup/retention.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import { isConflict, type KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import { decide, scheduledBackupName } from "./decide.ts";

export const SCHEDULE_LABEL = "zitadel-operator.dev/backup-schedule";

const TYPES = {
  schedule: ourType("BackupSchedule", "backupschedules"),
  backup: ourType("Backup", "backups"),
  restore: ourType("Restore", "restores"),
};

type BackupObject = KubeObject & {
  status?: { phase?: BackupPhase; completedAt?: string; location?: string };
  spec?: { deletionPolicy?: string };
};
type RestoreObject = KubeObject & {
  spec?: { backupRef?: { name?: string } };
  status?: { phase?: string };
};
type ScheduleObject = WithStatus & { status?: BackupScheduleStatus };

const FINISHED = new Set(["Completed", "Failed"]);

export function backupScheduleController(opts: ControllerOptions): Controller<ScheduleObject> {
  const now = opts.now ?? (() => new Date());
  const controller: Controller<ScheduleObject> = new Controller<ScheduleObject>({
    name: "backupschedule",
    client: opts.client,
    log: opts.log,
    for: TYPES.schedule,
    watches: [
      {
        // Backups name their schedule by a label, not an owner reference: deleting a schedule must not delete
        // its Backups (nor, with deletionPolicy Delete, their files) through the garbage collector.
        type: TYPES.backup,
        map: (backup) => {
          const schedule = backup.metadata?.labels?.[SCHEDULE_LABEL];
          return schedule ? [`${backup.metadata?.namespace}/${schedule}`] : [];
        },
      },
      {
        // Only for the cache: retention never deletes a Backup a running Restore reads from. A Restore that
        // finishes lets the next scheduled reconcile delete it.
        type: TYPES.restore,
        map: () => [],
      },
    ],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("backupschedule"),
    reconcile: async ({ object, log }): Promise<ReconcileResult> => {
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "BackupSchedule") return undefined;
      const schedule = resource as BackupSchedule;
      const created = new Date(object.metadata?.creationTimestamp ?? now().toISOString());
      const timing = timingOf(schedule, created);
      if (timing === undefined) return undefined; // validSpecOrReport reported it
      const namespace = object.metadata?.namespace ?? "default";
      const name = object.metadata?.name ?? "";
      const status: BackupScheduleStatus = object.status ?? {};
      const at = now();

      const backups = controller.list<BackupObject>(TYPES.backup, namespace, { [SCHEDULE_LABEL]: name });
      const running = backups.filter(
        (b) => !FINISHED.has(b.status?.phase ?? "") && !b.metadata?.deletionTimestamp,
      );

      const decision = decide({
        now: at,
        created,
        timing,
        suspend: schedule.spec.suspend,
        immediate: schedule.spec.immediate,
        missedRuns: schedule.spec.missedRuns,
        lastScheduleTime: status.lastScheduleTime ? new Date(status.lastScheduleTime) : undefined,
        // The Backup of the due slot itself may exist already: made just before a restart. That is no
        // other run to wait for; creating it again below is a harmless 409.
        running: (slotName) => running.find((b) => b.metadata?.name !== slotName)?.metadata?.name,
        backupName: (slot) => scheduledBackupName(name, slot),
      });

      let active = running[0]?.metadata?.name;
      if (decision.run) {
        const { slot, name: backupName, catchUp } = decision.run;
        let created = true;
        try {
          await opts.client.create({
            apiVersion: TYPES.backup.apiVersion,
            kind: "Backup",
            metadata: {
              name: backupName,
              namespace,
              labels: { [SCHEDULE_LABEL]: name },
              annotations: { "zitadel-operator.dev/scheduled-at": stamp(slot) },
            },
            spec: schedule.spec.template,
          });
        } catch (err) {
          if (!isConflict(err)) throw err;
          created = false;
        }
        active = backupName;
        if (created) {
          await opts.events.record(object, {
            type: "Normal",
            reason: "BackupCreated",
            action: "Schedule",
            note: `created Backup ${backupName} for ${stamp(slot)}${catchUp ? " (catching up on missed runs)" : ""}`,
          });
          log.info("scheduled backup created", { backup: backupName });
        }
      } else if (decision.skipped) {
        await opts.events.record(object, {
          type: "Warning",
          reason: "RunSkipped",
          action: "Schedule",
          note: `skipped the run of ${stamp(decision.skipped.slot)}: ${decision.skipped.why}`,
        });
        log.info("scheduled run skipped", { slot: stamp(decision.skipped.slot), why: decision.skipped.why });
      }

      // Retention.
      const retention = schedule.spec.retention;
      const restoresInProgress = controller
        .list<RestoreObject>(TYPES.restore, namespace)
        .filter((r) => !FINISHED.has(r.status?.phase ?? ""))
        .map((r) => r.spec?.backupRef?.name)
        .filter((n): n is string => n !== undefined);
      const plan = planRetention(
        backups.map((b) => ({
          name: b.metadata?.name ?? "",
          ...(b.status?.phase ? { phase: b.status.phase } : {}),
          ...(b.status?.completedAt ? { completedAt: b.status.completedAt } : {}),
          ...(b.status?.location ? { location: b.status.location } : {}),
        })),
        {
          ...(retention?.keepLast === undefined ? {} : { keepLast: retention.keepLast }),
          ...(retention?.maxAge === undefined ? {} : { maxAgeMs: parseDuration(retention.maxAge) ?? 0 }),
          failedHistoryLimit: schedule.spec.failedBackupsHistoryLimit,
        },
        at,
        { restoresInProgress },
      );
      for (const doomed of plan.delete) {
        const backup = backups.find((b) => b.metadata?.name === doomed.name);
        if (!backup || backup.metadata?.deletionTimestamp) continue;
        await opts.client.delete(TYPES.backup, namespace, doomed.name, {
          propagationPolicy: "Background",
          ...(backup.metadata?.uid ? { uid: backup.metadata.uid } : {}),
        });
        await opts.events.record(object, {
          type: "Normal",
          reason: "BackupDeleted",
          action: "Retention",
          note: `deleted Backup ${doomed.name}: ${doomed.reason}`,
        });
      }

      // Status.
      const newest = backups
        .filter((b) => b.status?.phase === "Completed" && b.status.completedAt)
        .sort((a, b) => (b.status?.completedAt ?? "").localeCompare(a.status?.completedAt ?? ""))[0];
      const next: BackupScheduleStatus = {
        ...status,
        observedGeneration: object.metadata?.generation,
        lastScheduleTime: decision.lastScheduleTime ? stamp(decision.lastScheduleTime) : undefined,
        nextScheduleTime: decision.next ? stamp(decision.next) : undefined,
        active,
        lastSuccessfulBackup: newest?.metadata?.name ?? status.lastSuccessfulBackup,
        lastSuccessfulTime: newest?.status?.completedAt ?? status.lastSuccessfulTime,
      };
      next.conditions = setCondition(
        status.conditions,
        schedule.spec.suspend
          ? { type: "Ready", status: "True", reason: "Suspended", message: "suspended: no new backups start" }
          : decision.next
            ? {
                type: "Ready",
                status: "True",
                reason: "Scheduled",
                message: `next backup at ${stamp(decision.next)}${active ? `; Backup ${active} is running` : ""}`,
              }
            : {
                type: "Ready",
                status: "False",
                reason: "NeverRuns",
                message: "the schedule has no next run",
              },
        object.metadata?.generation,
        at,
      );
      await applyStatus(opts.client, object, JSON.parse(JSON.stringify(next)) as Record<string, unknown>);
      if (!decision.next) return { requeueAfterMs: 10 * 60_000 };
      // A little past the scheduled time, so the timer never wakes us just before it.
      return { requeueAfterMs: Math.max(0, decision.next.getTime() - now().getTime()) + 50 };
    },
  });
  return controller;
}

/** The cron schedule, or the interval counted from the schedule's creation. */
function timingOf(schedule: BackupSchedule, created: Date): BackupTiming | undefined {
  if (schedule.spec.interval !== undefined) {
    const intervalMs = parseDuration(schedule.spec.interval);
    return intervalMs ? { intervalMs, origin: created } : undefined;
  }
  const parsed = parseCron(schedule.spec.schedule ?? "");
  return parsed.ok ? { cron: parsed.schedule } : undefined;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}
