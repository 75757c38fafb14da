// The migration step: has `zitadel init` + `zitadel setup` for spec.version and the current configuration
// succeeded? The Job is named after both (render/zitadel/migration.ts setupJobName), so its state alone answers.
// Until it has, the Deployment stays on status.migratedVersion (rollout.ts holds it). A Job that failed is
// reported with the tail of what its pods said and left in place, so it is not started again; changing the spec
// (a new version or configuration, hence a new Job name) is what retries. Superseded Jobs are deleted only once
// the target migrated, so going back to the previous version finds its succeeded Job and rolls back at once.
import type { Zitadel } from "../../api/zitadel.ts";
import type { RenderedConfig } from "../../render/zitadel/config.ts";
import { COMPONENT, LABEL } from "../../render/zitadel/meta.ts";
import { setupJobName } from "../../render/zitadel/migration.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { type StepContext, type StepFailure, TYPES } from "./types.ts";

type JobObject = KubeObject & {
  status?: {
    succeeded?: number;
    failed?: number;
    active?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};

type PodObject = KubeObject & {
  status?: {
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
};
interface ContainerStatus {
  name: string;
  state?: { terminated?: { exitCode?: number; reason?: string; message?: string; finishedAt?: string } };
}

export type MigrationState = "Succeeded" | "Pending" | "Running" | "Failing" | "Failed";

export interface MigrationObservation {
  readonly jobName: string;
  readonly state: MigrationState;
  readonly targetMigrated: boolean;
  /** status.migratedVersion after this step. */
  readonly migratedVersion: string | undefined;
  readonly reason: string;
  readonly message: string;
}

/** Pod termination messages are limited to 4 KiB by Kubernetes; a condition message gets the last part. */
const TAIL_CHARACTERS = 1024;

export async function observeMigration(
  step: StepContext,
  config: RenderedConfig,
  recordedVersion: string | undefined,
): Promise<MigrationObservation> {
  const { zitadel } = step;
  const version = zitadel.spec.version;
  const jobName = setupJobName(zitadel, config);
  const job = step.cached<JobObject>(TYPES.job, jobName);
  const base = { jobName, migratedVersion: recordedVersion };
  if (job === undefined) {
    return {
      ...base,
      state: "Pending",
      targetMigrated: false,
      reason: "SetupPending",
      message: `starting Job ${jobName} to run zitadel init and setup for ${version}`,
    };
  }
  if (condition(job, "Complete") || (job.status?.succeeded ?? 0) > 0) {
    if (recordedVersion !== version) {
      await step.events.record(step.object, {
        type: "Normal",
        reason: "SetupSucceeded",
        action: "Migrate",
        note: `Job ${jobName} ran zitadel init and setup for ${version}; the Deployment may move to it`,
      });
    }
    return {
      ...base,
      state: "Succeeded",
      targetMigrated: true,
      migratedVersion: version,
      reason: "SetupSucceeded",
      message: `zitadel setup for ${version} and the current configuration succeeded (Job ${jobName})`,
    };
  }
  const serving =
    recordedVersion === undefined ? "no version serves yet" : `${recordedVersion} keeps running`;
  const failed = condition(job, "Failed");
  if (failed || (job.status?.failed ?? 0) > 0) {
    const tail = await failureTail(step, jobName);
    const state: MigrationState = failed ? "Failed" : "Failing";
    const message = failed
      ? `Job ${jobName} failed to migrate the database to ${version} (${failed.reason ?? "Failed"}); ${serving}. ` +
        `Last failure: ${tail}. Fix the cause and change spec.version or the configuration (or delete the Job) to retry`
      : `Job ${jobName} for ${version} has failed ${job.status?.failed} time(s) and is retrying; ${serving}. Last failure: ${tail}`;
    await step.events.record(step.object, {
      type: "Warning",
      reason: failed ? "SetupFailed" : "SetupFailing",
      action: "Migrate",
      note: message,
    });
    return {
      ...base,
      state,
      targetMigrated: false,
      reason: failed ? "SetupFailed" : "SetupFailing",
      message,
    };
  }
  return {
    ...base,
    state: "Running",
    targetMigrated: false,
    reason: "SetupRunning",
    message: `Job ${jobName} is running zitadel init and setup for ${version}; ${serving}`,
  };
}

/**
 * ZITADEL migrates forward only (https://zitadel.com/docs/self-hosting/manage/updating_scaling): running an older
 * version's setup or pods on a database a newer setup already changed is refused. Going back after a failed
 * upgrade is fine: the newer version never became migratedVersion.
 */
export function downgradeRefused(
  zitadel: Zitadel,
  migratedVersion: string | undefined,
): StepFailure | undefined {
  if (migratedVersion === undefined) return undefined;
  const [want, have] = [versionParts(zitadel.spec.version), versionParts(migratedVersion)];
  if (want === undefined || have === undefined) return undefined;
  const older = want.findIndex((part, i) => part !== have[i]);
  if (older < 0 || (want[older] ?? 0) > (have[older] ?? 0)) return undefined;
  return {
    ok: false,
    reason: "DowngradeRefused",
    message:
      `spec.version ${zitadel.spec.version} is older than ${migratedVersion}, which the database was already ` +
      `migrated to; ZITADEL cannot run an older version on it. ${migratedVersion} keeps running: set ` +
      `spec.version to ${migratedVersion} or later (or restore a backup taken before the upgrade)`,
  };
}

function versionParts(version: string): number[] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? match.slice(1, 4).map(Number) : undefined;
}

/** Deletes the setup Jobs of earlier versions and configurations, once the current one succeeded. */
export async function deleteSupersededJobs(step: StepContext, current: string): Promise<void> {
  const jobs = step.cachedList<JobObject>(TYPES.job, migrationLabels(step.zitadel));
  for (const job of jobs) {
    const name = job.metadata?.name;
    if (name === undefined || name === current || job.metadata?.deletionTimestamp) continue;
    await step.client.delete(TYPES.job, step.namespace, name, {
      propagationPolicy: "Background",
      ...(job.metadata?.uid ? { uid: job.metadata.uid } : {}),
    });
    await step.events.record(step.object, {
      type: "Normal",
      reason: "SetupJobDeleted",
      action: "Migrate",
      note: `deleted Job ${name}: setup for ${step.zitadel.spec.version} and the current configuration succeeded`,
    });
  }
}

/**
 * Deletes the config ConfigMaps and Secrets of earlier configurations (they are named by content), once the
 * Deployment runs the current ones everywhere: until then, pods of the old ReplicaSet may restart and must find
 * the configuration they were started with.
 */
export async function deleteSupersededConfig(
  step: StepContext,
  current: { configMap: string; secret: string },
  deployment: KubeObject | undefined,
  rolloutComplete: boolean,
): Promise<void> {
  const volumes = JSON.stringify(
    (deployment?.spec as { template?: { spec?: { volumes?: unknown } } } | undefined)?.template?.spec
      ?.volumes ?? [],
  );
  if (!rolloutComplete || !volumes.includes(current.configMap) || !volumes.includes(current.secret)) return;
  const labels = { [LABEL.instance]: step.zitadel.metadata.name ?? "", [LABEL.component]: COMPONENT.config };
  for (const [type, keep] of [
    [TYPES.configMap, current.configMap],
    [TYPES.secret, current.secret],
  ] as const) {
    for (const obj of step.cachedList<KubeObject>(type, labels)) {
      const name = obj.metadata?.name;
      if (name === undefined || name === keep || obj.metadata?.deletionTimestamp) continue;
      await step.client.delete(
        type,
        step.namespace,
        name,
        obj.metadata?.uid ? { uid: obj.metadata.uid } : {},
      );
      await step.events.record(step.object, {
        type: "Normal",
        reason: "ConfigDeleted",
        action: "Rollout",
        note: `deleted ${type.kind} ${name}: every pod runs the current configuration`,
      });
    }
  }
}

function migrationLabels(zitadel: Zitadel): Record<string, string> {
  return { [LABEL.instance]: zitadel.metadata.name ?? "", [LABEL.component]: COMPONENT.migration };
}

function condition(job: JobObject, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/**
 * What the failed container said: its termination reason, exit code and message (ZITADEL writes its last log
 * line there only if terminationMessagePolicy is FallbackToLogsOnError, which render could set). Not the log
 * itself: reading logs needs a running kubelet (simulated pods have none) and logs may hold secrets.
 */
export async function failureTail(step: StepContext, jobName: string): Promise<string> {
  const { items } = await step.client.list<PodObject>(TYPES.pod, {
    namespace: step.namespace,
    labelSelector: `job-name=${jobName}`,
  });
  const terminated = items
    .flatMap((pod) =>
      [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((c) => ({
        pod: pod.metadata?.name ?? "",
        container: c.name,
        t: c.state?.terminated,
      })),
    )
    .filter((c) => c.t !== undefined && (c.t.exitCode ?? 0) !== 0)
    .sort((a, b) => (a.t?.finishedAt ?? "").localeCompare(b.t?.finishedAt ?? ""));
  const last = terminated.at(-1);
  if (last?.t === undefined) return "no pod reported why";
  const said = (last.t.message ?? "").trim();
  const tail = said.length > TAIL_CHARACTERS ? `…${said.slice(-TAIL_CHARACTERS)}` : said;
  return `container ${last.container} of pod ${last.pod} exited with code ${last.t.exitCode} (${last.t.reason ?? "Error"})${tail ? `: ${tail}` : ""}`;
}
