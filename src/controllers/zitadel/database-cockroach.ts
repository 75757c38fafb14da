// The database step on CockroachDB (ZITADEL v2 only): ZITADEL authenticates with a client certificate that the
// CockroachCluster issues (<cluster>-client-<user>), and its user and database are made by a SQL Job that runs
// as the cluster's root client (render/cockroach renderSqlJob, db/cockroach zitadelBootstrapStatements). The
// root certificate is mounted into that Job only: ZITADEL's pods get their own user's certificate and nothing
// else. The Job is named after its statements, so a reconcile that finds it (running, failed or done) never
// starts a second one; it belongs to the CockroachCluster and stays as the record that the user exists.
import { createHash } from "node:crypto";
import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { parseResourceAs } from "../../api/index.ts";
import { zitadelBootstrapStatements } from "../../db/cockroach.ts";
import { clientSecretName } from "../../pki/secret-layout.ts";
import { renderSqlJob } from "../../render/cockroach/index.ts";
import { cockroachEndpoint } from "../../render/zitadel/preview.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import type { ResolvedDatabaseStep } from "./database.ts";
import { failureTail } from "./migration.ts";
import { type SecretObject, type StepContext, type StepFailure, TYPES } from "./types.ts";

export const COCKROACH_CLUSTER = {
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "CockroachCluster",
  plural: "cockroachclusters",
  namespaced: true,
};
const BOOTSTRAP_PURPOSE = "zitadel-user";
/** The SQL Job belongs to the CockroachCluster, so its progress brings no event of ours: look again this soon. */
const POLL_MS = 2_000;

type ClusterObject = KubeObject & {
  status?: { initialized?: boolean; conditions?: { type: string; status: string; message?: string }[] };
};
type JobObject = KubeObject & {
  status?: { succeeded?: number; failed?: number; conditions?: { type: string; status: string }[] };
};

export async function reconcileCockroachDatabase(
  step: StepContext,
): Promise<ResolvedDatabaseStep | StepFailure> {
  const crdb = step.zitadel.spec.database.cockroach;
  if (crdb === undefined) throw new Error("reconcileCockroachDatabase needs spec.database.cockroach");
  const clusterName = crdb.clusterRef.name;
  const live = step.cached<ClusterObject>(COCKROACH_CLUSTER, clusterName);
  if (live === undefined) {
    return waiting(
      "CockroachClusterNotFound",
      `CockroachCluster ${clusterName} (spec.database.cockroach.clusterRef) does not exist`,
    );
  }
  const parsed = parseResourceAs("CockroachCluster", live);
  if (!parsed.ok) {
    return waiting(
      "CockroachClusterInvalid",
      `CockroachCluster ${clusterName} has an invalid spec; see its status`,
    );
  }
  const certificates = live.status?.conditions?.find((c) => c.type === "CertificatesReady");
  if (certificates?.status !== "True") {
    return waiting(
      "WaitingForCockroachCluster",
      `waiting for the certificates of CockroachCluster ${clusterName}${certificates?.message ? `: ${certificates.message}` : ""}`,
    );
  }
  if (live.status?.initialized !== true) {
    return waiting(
      "WaitingForCockroachCluster",
      `waiting for CockroachCluster ${clusterName} to be initialized (cockroach init)`,
    );
  }
  const secretName = clientSecretName(clusterName, crdb.user);
  const clientSecret = await step.client.get<SecretObject>(TYPES.secret, step.namespace, secretName);
  if (clientSecret === undefined) {
    return waiting(
      "ClientCertificateNotFound",
      `Secret ${secretName} with the client certificate of user "${crdb.user}" does not exist: add the user to spec.users of CockroachCluster ${clusterName}`,
    );
  }

  const desired = renderBootstrapJob(parsed.resource, crdb, step.namespace);
  const jobName = desired.metadata?.name ?? "";
  const job = step.cached<JobObject>(TYPES.job, jobName);
  if (job === undefined) {
    await step.client.apply(desired);
    await step.events.record(step.object, {
      type: "Normal",
      reason: "DatabaseBootstrapStarted",
      action: "BootstrapDatabase",
      note: `started Job ${jobName} to create user "${crdb.user}" and database "${crdb.database}" on CockroachCluster ${clusterName}`,
    });
    return waiting(
      "DatabaseBootstrapRunning",
      `Job ${jobName} creates user "${crdb.user}" and database "${crdb.database}"`,
    );
  }
  const done = (type: string) => job.status?.conditions?.some((c) => c.type === type && c.status === "True");
  if (done("Failed")) {
    return {
      ok: false,
      reason: "DatabaseBootstrapFailed",
      message: `Job ${jobName} could not create user "${crdb.user}" and database "${crdb.database}": ${await failureTail(step, jobName)}. Delete the Job to try again`,
    };
  }
  if (!done("Complete") && (job.status?.succeeded ?? 0) === 0) {
    return waiting(
      "DatabaseBootstrapRunning",
      `Job ${jobName} creates user "${crdb.user}" and database "${crdb.database}"`,
    );
  }
  // The certificate is read at start only: its hash in the pod template rolls the pods when it is renewed.
  const tlsHash = createHash("sha256")
    .update(JSON.stringify(clientSecret.data ?? {}))
    .digest("hex");
  return {
    ok: true,
    database: { kind: "cockroach", ...cockroachEndpoint(step.zitadel, step.namespace), tlsHash },
    actions: [],
    message:
      `user "${crdb.user}" and database "${crdb.database}" exist on CockroachCluster ${clusterName}; ZITADEL ` +
      `authenticates with the client certificate in Secret ${secretName}`,
  };
}

/**
 * The SQL Job that creates ZITADEL's user and database and sets its defaults. An in-place restore deletes it so it
 * runs again: role settings per database follow the database's ID, which a restore replaces.
 */
export function renderBootstrapJob(
  cluster: CockroachCluster,
  crdb: { readonly database: string; readonly user: string },
  namespace: string,
): KubeObject {
  return renderSqlJob(cluster, BOOTSTRAP_PURPOSE, zitadelBootstrapStatements(crdb.database, crdb.user), {
    namespace,
  });
}

function waiting(reason: string, message: string): StepFailure {
  return { ok: false, reason, message, requeueAfterMs: POLL_MS };
}
