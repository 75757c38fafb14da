// The backup, verify and restore Jobs: our own image running `zitadel-operator job backup|verify|restore` (see
// src/backup/README.md). Pure: what the Job looks like follows from the resource, the Zitadel's database settings
// and the destination. Credentials reach the container only through secretKeyRef environment variables, never as
// flags or values in the spec; the outcome comes back as one JSON line in the pod's termination message.
import type { Destination } from "../../api/destination.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { DEFAULT_IMAGE } from "../../install/manifests.ts";
import { LABEL } from "../../render/cockroach/meta.ts";
import { certsVolume } from "../../render/cockroach/pod.ts";
import { names } from "../../render/zitadel/meta.ts";
import type { Watched } from "../../runtime/controller.ts";
import { isConflict, type KubeClient, type KubeObject, type OwnerReference } from "../../runtime/kube.ts";
import type { DatabaseAccess } from "./access.ts";

export const JOB_LABEL = {
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  /** The Backup or Restore a Job runs for. */
  owner: "zitadel-operator.dev/backup-owner",
} as const;

export const JOB_CONTAINER = "job";
const WORK_DIR = "/work";
const PVC_MOUNT = "/backup";
const CA_MOUNT = "/etc/zitadel-operator/pg-ca";
const CRDB_CERTS_MOUNT = "/etc/zitadel-operator/crdb-certs";
/** The operator image's non-root user (Dockerfile). */
const JOB_UID = 65532;

/** The image Jobs run: the operator's own, as its Deployment sets in OPERATOR_IMAGE. */
export function operatorImage(): string {
  return process.env.OPERATOR_IMAGE ?? DEFAULT_IMAGE;
}

/** Deterministic from the owner's uid: a restarted operator finds the Job it made instead of making a second. */
export function jobName(owner: KubeObject, suffix = ""): string {
  const uid = (owner.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8);
  return `${owner.metadata?.name}${suffix}-${uid}`;
}

/** How a Job reaches a Zitadel's PostgreSQL: host, the admin (or, without one, ZITADEL's own role). */
export interface PostgresAccess {
  host: string;
  port: number;
  database: string;
  sslMode: string;
  user: string;
  passwordSecret: { name: string; key: string };
  caSecret?: { name: string; key: string };
  masterkeySecret: { name: string; key: string };
}

/** What of a Zitadel a Job needs; the user name is read by the caller from the Secret (it is not a credential). */
export function postgresAccess(zitadel: Zitadel, user: string): PostgresAccess | undefined {
  const pg = zitadel.spec.database.postgres;
  if (pg === undefined) return undefined;
  const credentials = pg.adminSecretRef ?? pg.userSecretRef;
  const passwordSecret = credentials
    ? { name: credentials.name, key: credentials.passwordKey }
    : { name: names.postgresUserSecret(zitadel), key: "password" };
  return {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    sslMode: pg.sslMode,
    user,
    passwordSecret,
    ...(pg.caSecretRef ? { caSecret: { name: pg.caSecretRef.name, key: pg.caSecretRef.key } } : {}),
    masterkeySecret: zitadel.spec.masterkeySecretRef
      ? { name: zitadel.spec.masterkeySecretRef.name, key: zitadel.spec.masterkeySecretRef.key }
      : { name: names.masterkeySecret(zitadel), key: "masterkey" },
  };
}

/** Why a destination cannot be used by a Job yet, or undefined. Every kind (s3, gcs, pvc) can be, today. */
export function unsupportedDestination(_destination: Destination): string | undefined {
  return undefined;
}

export interface JobInputs {
  command: "backup" | "verify" | "restore";
  owner: KubeObject;
  name: string;
  namespace: string;
  /** The Backup's name, namespace (the Job's by default) and source, which name its objects in the store. */
  backupName: string;
  backupNamespace?: string;
  source: string;
  /** A bare PostgresAccess means PostgreSQL. */
  access: DatabaseAccess | PostgresAccess;
  destination: Destination;
  args: string[];
  /** Extra secretKeyRef environment variables (e.g. AGE_IDENTITY). */
  env?: { name: string; secret: { name: string; key: string } }[];
  image?: string;
}

const secretEnv = (name: string, secret: { name: string; key: string }) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } },
});

export function renderJob(inputs: JobInputs): KubeObject {
  const { destination } = inputs;
  const access: DatabaseAccess =
    "engine" in inputs.access ? inputs.access : { engine: "PostgreSQL", postgres: inputs.access };
  const args = [
    "job",
    inputs.command,
    `--namespace=${inputs.backupNamespace ?? inputs.namespace}`,
    `--source=${inputs.source}`,
    `--backup-name=${inputs.backupName}`,
    ...engineArgs(access),
    `--work-dir=${WORK_DIR}`,
    ...destinationArgs(destination),
    ...inputs.args,
  ];
  const env = [
    ...engineEnv(access),
    ...(destination.s3?.credentialsSecretRef
      ? [
          secretEnv("AWS_ACCESS_KEY_ID", {
            name: destination.s3.credentialsSecretRef.name,
            key: destination.s3.credentialsSecretRef.accessKeyIDKey,
          }),
          secretEnv("AWS_SECRET_ACCESS_KEY", {
            name: destination.s3.credentialsSecretRef.name,
            key: destination.s3.credentialsSecretRef.secretAccessKeyKey,
          }),
        ]
      : []),
    ...(destination.gcs?.credentialsSecretRef
      ? [secretEnv("GCS_CREDENTIALS_JSON", destination.gcs.credentialsSecretRef)]
      : []),
    ...(inputs.env ?? []).map((e) => secretEnv(e.name, e.secret)),
    { name: "TMPDIR", value: WORK_DIR },
  ];
  const volumes: object[] = [{ name: "work", emptyDir: {} }];
  const mounts: object[] = [{ name: "work", mountPath: WORK_DIR }];
  if (destination.pvc) {
    volumes.push({ name: "store", persistentVolumeClaim: { claimName: destination.pvc.claimName } });
    mounts.push({ name: "store", mountPath: PVC_MOUNT });
  }
  const pg = access.engine === "PostgreSQL" ? access.postgres : undefined;
  if (pg?.caSecret) {
    volumes.push({
      name: "pg-ca",
      secret: { secretName: pg.caSecret.name, items: [{ key: pg.caSecret.key, path: "ca.crt" }] },
    });
    mounts.push({ name: "pg-ca", mountPath: CA_MOUNT, readOnly: true });
  }
  if (access.engine === "CockroachDB") {
    // The root client certificate, mounted as CockroachDB's own Jobs mount it; the key readable by the pod's
    // group only (fsGroup below), never copied anywhere.
    volumes.push(certsVolume("crdb-certs", access.cockroach.certsSecret, { user: "root" }));
    mounts.push({ name: "crdb-certs", mountPath: CRDB_CERTS_MOUNT, readOnly: true });
  }
  const labels = {
    [JOB_LABEL.managedBy]: "zitadel-operator",
    [JOB_LABEL.component]: inputs.command,
    [JOB_LABEL.owner]: inputs.owner.metadata?.name ?? "",
  };
  // Admits the pod through the cluster's NetworkPolicy as a SQL client, as the cluster's own Jobs are.
  const podLabels =
    access.engine === "CockroachDB"
      ? { ...labels, [LABEL.cockroachClient]: access.cockroach.cluster }
      : labels;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: inputs.name,
      namespace: inputs.namespace,
      labels,
      ownerReferences: [ownerReference(inputs.owner)],
    },
    spec: {
      // One attempt: a backup is retried by the next scheduled run, a restore by a new Restore, never behind
      // the user's back.
      backoffLimit: 0,
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            // The image's user; fsGroup lets it read the mounted 0440 client key.
            ...(access.engine === "CockroachDB"
              ? { runAsUser: JOB_UID, runAsGroup: JOB_UID, fsGroup: JOB_UID }
              : {}),
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: JOB_CONTAINER,
              image: inputs.image ?? operatorImage(),
              imagePullPolicy: "IfNotPresent",
              args,
              env,
              volumeMounts: mounts,
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
          volumes,
        },
      },
    },
  };
}

function destinationArgs(destination: Destination): string[] {
  if (destination.pvc) {
    const path = destination.pvc.path === "." ? PVC_MOUNT : `${PVC_MOUNT}/${destination.pvc.path}`;
    return [`--pvc-path=${path}`];
  }
  const gcs = destination.gcs;
  if (gcs)
    return [
      `--gcs-bucket=${gcs.bucket}`,
      ...(gcs.prefix ? [`--gcs-prefix=${gcs.prefix}`] : []),
      ...(gcs.endpoint ? [`--gcs-endpoint=${gcs.endpoint}`] : []),
    ];
  const s3 = destination.s3;
  if (!s3) return [];
  return [
    `--s3-bucket=${s3.bucket}`,
    ...(s3.prefix ? [`--s3-prefix=${s3.prefix}`] : []),
    ...(s3.endpoint ? [`--s3-endpoint=${s3.endpoint}`] : []),
    ...(s3.region ? [`--s3-region=${s3.region}`] : []),
    ...(s3.forcePathStyle ? ["--s3-force-path-style"] : []),
  ];
}

/** The flags that say which database the Job works on, and how to reach it. */
function engineArgs(access: DatabaseAccess): string[] {
  if (access.engine === "CockroachDB") {
    const c = access.cockroach;
    return [
      "--engine=cockroachdb",
      `--crdb-host=${c.host}`,
      `--crdb-port=${c.port}`,
      `--crdb-certs-dir=${CRDB_CERTS_MOUNT}`,
    ];
  }
  const pg = access.postgres;
  return [
    `--pg-host=${pg.host}`,
    `--pg-port=${pg.port}`,
    `--pg-user=${pg.user}`,
    `--pg-sslmode=${pg.sslMode}`,
    ...(pg.caSecret ? [`--pg-ca-file=${CA_MOUNT}/ca.crt`] : []),
  ];
}

/** The engine's credentials, each as a secretKeyRef: PostgreSQL's password, a Zitadel's masterkey. */
function engineEnv(access: DatabaseAccess): object[] {
  if (access.engine === "CockroachDB") {
    const masterkey = access.cockroach.masterkeySecret;
    return masterkey ? [secretEnv("ZITADEL_MASTERKEY", masterkey)] : [];
  }
  return [
    secretEnv("PGPASSWORD", access.postgres.passwordSecret),
    secretEnv("ZITADEL_MASTERKEY", access.postgres.masterkeySecret),
  ];
}

/**
 * Creates a Job; one that exists already (a restarted operator, a reconcile racing its own cache) is left as it
 * is. Create rather than server-side apply: a Job's pod template is immutable and each Job is named after the
 * one run it does, so an existing Job is never something to update.
 */
export async function createJob(client: KubeClient, job: KubeObject): Promise<void> {
  try {
    await client.create(job);
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

export function ownerReference(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? "",
    kind: owner.kind ?? "",
    name: owner.metadata?.name ?? "",
    uid: owner.metadata?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export type JobObject = KubeObject & {
  status?: {
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
};

export type PodObject = KubeObject & {
  status?: {
    containerStatuses?: {
      name: string;
      state?: { terminated?: { exitCode?: number; reason?: string; message?: string; finishedAt?: string } };
    }[];
  };
};

/** Where a Job is: still running, or finished one way or the other (with when it finished). */
export function jobState(
  job: JobObject,
): { state: "Running" } | { state: "Succeeded" | "Failed"; at?: string } {
  const done = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === "True");
  const complete = done("Complete") ?? done("SuccessCriteriaMet");
  if (complete || (job.status?.succeeded ?? 0) > 0)
    return { state: "Succeeded", at: job.status?.completionTime ?? complete?.lastTransitionTime };
  const failed = done("Failed") ?? done("FailureTarget");
  if (failed) return { state: "Failed", at: failed.lastTransitionTime };
  return { state: "Running" };
}

export interface JobOutcome {
  ok: boolean;
  reason?: string;
  message?: string;
  [field: string]: unknown;
}

/**
 * The JSON line the Job printed to its termination message, from the newest of its pods that said anything;
 * undefined while none has (the kubelet writes it when the container ends). A line that is not our JSON is
 * returned as a failure with that text, shortened.
 */
export function jobOutcome(pods: readonly PodObject[]): JobOutcome | undefined {
  const said = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .filter((c) => c.name === JOB_CONTAINER && c.state?.terminated?.message)
    .map((c) => c.state?.terminated)
    .sort((a, b) => (a?.finishedAt ?? "").localeCompare(b?.finishedAt ?? ""))
    .at(-1);
  const text = said?.message?.trim();
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === "object" && parsed !== null && typeof (parsed as JobOutcome).ok === "boolean")
      return parsed as JobOutcome;
  } catch {
    // not JSON: reported below
  }
  // Not our result line: what else ended the container (kwok's simulated failure, an OOM kill, a crash).
  return { ok: false, reason: "JobFailed", message: `${exitDescription(pods)}: ${text.slice(0, 512)}` };
}

/** Why a pod of a failed Job stopped, when it left no result line. */
export function exitDescription(pods: readonly PodObject[]): string {
  const t = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated)
    .filter((x) => x !== undefined)
    .at(-1);
  return t
    ? `its container exited with code ${t.exitCode ?? "?"} (${t.reason ?? "Error"})`
    : "no pod reported why";
}

const POD = { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true };

/**
 * Watches the pods of our Jobs of these commands and maps each to the resource that owns its Job: the result is in
 * the pod's status (its termination message), which changes after the Job's.
 */
export function jobPodWatch(commands: readonly string[]): Watched {
  return {
    type: POD,
    labelSelector: `${JOB_LABEL.managedBy}=zitadel-operator,${JOB_LABEL.component} in (${commands.join(",")})`,
    map: (pod) => {
      const owner = pod.metadata?.labels?.[JOB_LABEL.owner];
      return owner ? [`${pod.metadata?.namespace}/${owner}`] : [];
    },
  };
}
