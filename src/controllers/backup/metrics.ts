// Backup metrics, per backed-up source ("<namespace>/<Zitadel or CockroachCluster>"): when the last successful
// backup finished, how long it took, how big it was, and how many failed. Alert on
// `time() - zitadel_operator_backup_last_success_timestamp_seconds > 26*3600` for a daily schedule.
// One set per process (the registry refuses a metric registered twice, and tests start several operators).
import { operatorMetrics } from "../../runtime/metrics.ts";

type SourceLabel = "source";

let metrics:
  | {
      lastSuccess: ReturnType<typeof operatorMetrics.registry.gauge<SourceLabel>>;
      duration: ReturnType<typeof operatorMetrics.registry.gauge<SourceLabel>>;
      size: ReturnType<typeof operatorMetrics.registry.gauge<SourceLabel>>;
      failures: ReturnType<typeof operatorMetrics.registry.counter<SourceLabel>>;
    }
  | undefined;

export function backupMetrics() {
  metrics ??= {
    lastSuccess: operatorMetrics.registry.gauge<SourceLabel>({
      name: "zitadel_operator_backup_last_success_timestamp_seconds",
      help: "When the newest completed backup of a source finished (Unix seconds).",
      labelNames: ["source"],
    }),
    duration: operatorMetrics.registry.gauge<SourceLabel>({
      name: "zitadel_operator_backup_last_duration_seconds",
      help: "How long the newest completed backup of a source took.",
      labelNames: ["source"],
    }),
    size: operatorMetrics.registry.gauge<SourceLabel>({
      name: "zitadel_operator_backup_last_size_bytes",
      help: "Size of the newest completed backup of a source.",
      labelNames: ["source"],
    }),
    failures: operatorMetrics.registry.counter<SourceLabel>({
      name: "zitadel_operator_backup_failures_total",
      help: "Backups of a source that failed, as this operator process saw them fail.",
      labelNames: ["source"],
    }),
  };
  return metrics;
}

/** Records a completed backup, unless a newer one was recorded already (reconciles come in any order). */
export function recordSuccess(
  source: string,
  startedAt: string | undefined,
  completedAt: string,
  sizeBytes: number,
) {
  const m = backupMetrics();
  const done = Date.parse(completedAt) / 1000;
  if (!Number.isFinite(done) || (m.lastSuccess.get({ source }) ?? 0) > done) return;
  m.lastSuccess.set({ source }, done);
  const started = startedAt === undefined ? Number.NaN : Date.parse(startedAt) / 1000;
  if (Number.isFinite(started)) m.duration.set({ source }, Math.max(0, done - started));
  m.size.set({ source }, sizeBytes);
}

export function recordFailure(source: string): void {
  backupMetrics().failures.inc({ source });
}
