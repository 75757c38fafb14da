// deletionPolicy.database: Delete for a Zitadel on CockroachDB. The operator holds no SQL connection to
// CockroachDB: as for the bootstrap (database-cockroach.ts), a SQL Job runs the statements as the cluster's root
// client (db/cockroach zitadelDropStatements). Once it succeeded, the bootstrap Job goes too (it is the record that
// the user and database exist, so a new Zitadel of the same name must run it again), and so does the drop Job
// (a later Zitadel with the same database must run it again as well).
//
// What is never dropped: a database another Zitadel uses, and a user another Zitadel connects as. When the cluster
// is gone or being deleted there is nothing to run the Job on, so the Zitadel goes without waiting (a namespace
// being deleted must never hang on us); the cluster's volumes follow its own storage.retainPolicy.
import { parseResourceAs } from "../../api/index.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { zitadelDropStatements } from "../../db/cockroach.ts";
import { renderSqlJob } from "../../render/cockroach/index.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { ourType } from "../our-type.ts";
import { COCKROACH_CLUSTER, renderBootstrapJob } from "./database-cockroach.ts";
import { failureTail } from "./migration.ts";
import { type StepContext, type StepFailure, TYPES } from "./types.ts";

const DROP_PURPOSE = "zitadel-drop";
const POLL_MS = 2_000;
const ZITADEL = ourType("Zitadel", "zitadels");

type ClusterObject = KubeObject & { status?: { initialized?: boolean } };
type JobObject = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

/** Drops the Zitadel's database (and its user, if no other Zitadel uses it); a failure keeps the finalizer. */
export async function dropCockroach(step: StepContext): Promise<StepFailure | undefined> {
  const crdb = step.zitadel.spec.database.cockroach;
  if (crdb === undefined) return undefined;
  const clusterName = crdb.clusterRef.name;
  const note = (type: "Normal" | "Warning", reason: string, text: string) =>
    step.events.record(step.object, { type, reason, action: "Delete", note: text });

  const live = step.cached<ClusterObject>(COCKROACH_CLUSTER, clusterName);
  if (live === undefined || live.metadata?.deletionTimestamp !== undefined) {
    await note(
      "Normal",
      "DatabaseNotDeleted",
      `CockroachCluster ${clusterName} is ${live === undefined ? "gone" : "being deleted"}: database "${crdb.database}" is not dropped by this Zitadel (the cluster's volumes follow its storage.retainPolicy)`,
    );
    return undefined;
  }
  // Never initialized: the bootstrap never ran, so there is nothing to drop.
  if (live.status?.initialized !== true) return undefined;
  const parsed = parseResourceAs("CockroachCluster", live);
  if (!parsed.ok) {
    return {
      ok: false,
      reason: "CockroachClusterInvalid",
      message: `cannot drop database "${crdb.database}": CockroachCluster ${clusterName} has an invalid spec (see its status); fix it or set deletionPolicy.database to Retain`,
    };
  }
  const cluster = parsed.resource;

  const others = otherZitadelsOn(step, clusterName);
  const sharing = others.find((z) => z.spec.database.cockroach?.database === crdb.database);
  if (sharing !== undefined) {
    await note(
      "Warning",
      "DatabaseNotDeleted",
      `database "${crdb.database}" is kept: Zitadel ${sharing.metadata.name} uses it too`,
    );
    return undefined;
  }
  const userShared = others.some((z) => z.spec.database.cockroach?.user === crdb.user);

  const desired = renderSqlJob(
    cluster,
    DROP_PURPOSE,
    zitadelDropStatements(crdb.database, userShared ? undefined : crdb.user),
    { namespace: step.namespace },
  );
  const jobName = desired.metadata?.name ?? "";
  const what = `database "${crdb.database}"${userShared ? "" : ` and user "${crdb.user}"`}`;
  const job = step.cached<JobObject>(TYPES.job, jobName);
  const holds = (type: string) =>
    job?.status?.conditions?.some((c) => c.type === type && c.status === "True");
  if (job === undefined) {
    await step.client.apply(desired);
    await note("Normal", "DatabaseDeleteStarted", `started Job ${jobName} to drop ${what}`);
    return {
      ok: false,
      reason: "DatabaseDeleting",
      message: `Job ${jobName} drops ${what}`,
      requeueAfterMs: POLL_MS,
    };
  }
  if (holds("Failed")) {
    return {
      ok: false,
      reason: "DatabaseDeleteFailed",
      message: `deletionPolicy.database is Delete but Job ${jobName} could not drop ${what}: ${await failureTail(step, jobName)}. Delete the Job to try again, or set deletionPolicy.database to Retain`,
    };
  }
  if (!holds("Complete")) {
    return {
      ok: false,
      reason: "DatabaseDeleting",
      message: `Job ${jobName} drops ${what}`,
      requeueAfterMs: POLL_MS,
    };
  }
  const bootstrap = renderBootstrapJob(cluster, crdb, step.namespace).metadata?.name ?? "";
  for (const name of [bootstrap, jobName]) {
    await step.client.delete(TYPES.job, step.namespace, name, { propagationPolicy: "Background" });
  }
  await note(
    "Normal",
    "DatabaseDeleted",
    `deletionPolicy.database is Delete: Job ${jobName} dropped ${what}${userShared ? ` (user "${crdb.user}" is kept: another Zitadel connects as it)` : ""}; the masterkey Secret is kept`,
  );
  return undefined;
}

/** The other Zitadels on this CockroachCluster that are not being deleted, with their defaults applied. */
function otherZitadelsOn(step: StepContext, clusterName: string): Zitadel[] {
  return step
    .cachedList<KubeObject>(ZITADEL, {})
    .filter(
      (z) => z.metadata?.uid !== step.object.metadata?.uid && z.metadata?.deletionTimestamp === undefined,
    )
    .flatMap((z) => {
      const parsed = parseResourceAs("Zitadel", z);
      return parsed.ok ? [parsed.resource] : [];
    })
    .filter((z) => z.spec.database.cockroach?.clusterRef.name === clusterName);
}
