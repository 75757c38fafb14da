// `zitadel-operator backup create|list|describe`: Backups as an SRE on call uses them. create makes a Backup (from
// flags, or from a BackupSchedule's template) and, with --wait, follows it until it completed or failed, printing
// each step as it happens; -o json|yaml prints the resource for scripts instead. The exit code says whether the
// backup succeeded. Nothing here reads a credential: the Backup names Secrets, the operator's Job reads them.
import { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "commander";
import { stringify } from "yaml";
import { API_VERSION } from "../api/index.ts";
import { KubeClient, type KubeObject } from "../runtime/kube.ts";

export const TYPES = {
  backup: { apiVersion: API_VERSION, kind: "Backup", plural: "backups", namespaced: true },
  schedule: { apiVersion: API_VERSION, kind: "BackupSchedule", plural: "backupschedules", namespaced: true },
  restore: { apiVersion: API_VERSION, kind: "Restore", plural: "restores", namespaced: true },
  event: { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true },
};

export type Output = "table" | "json" | "yaml";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
export type RunObject = KubeObject & {
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    conditions?: Condition[];
    error?: string;
    [field: string]: unknown;
  };
};

export interface ClusterOptions {
  namespace?: string;
  kubeconfig?: string;
}

/** A client and namespace from --kubeconfig/-n, the kubeconfig's context otherwise. */
export function connect(opts: ClusterOptions): { client: KubeClient; namespace: string } {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  const namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  return { client: new KubeClient(kc), namespace };
}

export function withClusterOptions(command: Command): Command {
  return command
    .option("-n, --namespace <ns>", "namespace (default: the kubeconfig context's)")
    .option("--kubeconfig <path>", "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config)")
    .option("-o, --output <format>", "table, json or yaml", "table");
}

export function print(value: unknown, output: Output): void {
  if (output === "json") console.log(JSON.stringify(value, null, 2));
  else console.log(stringify(value).trimEnd());
}

export function checkOutput(output: string): Output {
  if (output !== "table" && output !== "json" && output !== "yaml")
    throw new Error(`-o ${output}: use table, json or yaml`);
  return output;
}

const FINISHED = new Set(["Completed", "Failed"]);

/** One line of progress for a person: the phase, and what the Ready condition says. */
export function progressLine(obj: RunObject): string {
  const ready = obj.status?.conditions?.find((c) => c.type === "Ready");
  const phase = obj.status?.phase ?? "Pending";
  const why = ready?.message ?? "waiting for the operator";
  return `${obj.kind} ${obj.metadata?.name}: ${phase}${ready?.reason && ready.reason !== phase ? ` (${ready.reason})` : ""} - ${why}`;
}

/**
 * Follows a Backup or Restore until it is Completed or Failed, calling `onProgress` whenever what a person would
 * read changes. Rejects after `timeoutMs`.
 */
export async function follow(
  client: KubeClient,
  type: typeof TYPES.backup,
  namespace: string,
  name: string,
  opts: { timeoutMs: number; intervalMs?: number; onProgress?: (line: string) => void },
): Promise<RunObject> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "";
  for (;;) {
    const obj = await client.get<RunObject>(type, namespace, name);
    if (obj === undefined) throw new Error(`${type.kind} ${namespace}/${name} does not exist`);
    const line = progressLine(obj);
    if (line !== last) opts.onProgress?.(line);
    last = line;
    if (FINISHED.has(obj.status?.phase ?? "")) return obj;
    if (Date.now() > deadline)
      throw new Error(`${type.kind} ${namespace}/${name} did not finish within ${opts.timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1_000));
  }
}

export interface BackupFlags {
  zitadel?: string;
  cockroachCluster?: string;
  database?: string;
  gcsBucket?: string;
  gcsPrefix?: string;
  gcsCredentialsSecret?: string;
  fromSchedule?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
  s3CredentialsSecret?: string;
  pvc?: string;
  pvcPath?: string;
  ageRecipient: string[];
  verify?: boolean;
  deletionPolicy?: string;
}

/** The Backup `backup create` makes: from a schedule's template, or from flags. */
export async function backupResource(
  client: KubeClient,
  namespace: string,
  name: string,
  flags: BackupFlags,
): Promise<KubeObject> {
  let spec: Record<string, unknown>;
  if (flags.fromSchedule !== undefined) {
    const schedule = await client.get<RunObject>(TYPES.schedule, namespace, flags.fromSchedule);
    const template = schedule?.spec?.template;
    if (template === undefined)
      throw new Error(`BackupSchedule ${namespace}/${flags.fromSchedule} does not exist`);
    spec = template as Record<string, unknown>;
  } else {
    if ((flags.zitadel === undefined) === (flags.cockroachCluster === undefined))
      throw new Error("give --zitadel <name>, --cockroach-cluster <name> or --from-schedule <schedule>");
    if ([flags.s3Bucket, flags.gcsBucket, flags.pvc].filter((x) => x !== undefined).length !== 1)
      throw new Error("give exactly one of --s3-bucket, --gcs-bucket or --pvc");
    const destination =
      flags.pvc !== undefined
        ? { pvc: { claimName: flags.pvc, ...(flags.pvcPath ? { path: flags.pvcPath } : {}) } }
        : flags.gcsBucket !== undefined
          ? {
              gcs: {
                bucket: flags.gcsBucket,
                ...(flags.gcsPrefix ? { prefix: flags.gcsPrefix } : {}),
                ...(flags.gcsCredentialsSecret
                  ? { credentialsSecretRef: { name: flags.gcsCredentialsSecret } }
                  : {}),
              },
            }
          : {
              s3: {
                bucket: flags.s3Bucket,
                ...(flags.s3Prefix ? { prefix: flags.s3Prefix } : {}),
                ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
                ...(flags.s3Region ? { region: flags.s3Region } : {}),
                ...(flags.s3ForcePathStyle ? { forcePathStyle: true } : {}),
                ...(flags.s3CredentialsSecret
                  ? { credentialsSecretRef: { name: flags.s3CredentialsSecret } }
                  : {}),
              },
            };
    spec = {
      source:
        flags.zitadel !== undefined
          ? { zitadelRef: { name: flags.zitadel } }
          : {
              cockroachClusterRef: { name: flags.cockroachCluster },
              ...(flags.database ? { database: flags.database } : {}),
            },
      destination,
      ...(flags.ageRecipient.length > 0 ? { masterkeyRecipients: flags.ageRecipient } : {}),
      ...(flags.verify ? { verify: true } : {}),
      ...(flags.deletionPolicy ? { deletionPolicy: flags.deletionPolicy } : {}),
    };
  }
  return { apiVersion: API_VERSION, kind: "Backup", metadata: { name, namespace }, spec };
}

export interface BackupRow {
  name: string;
  phase: string;
  source: string;
  size: string;
  completed: string;
  location: string;
  schedule: string;
}

export function backupRow(b: RunObject): BackupRow {
  const source = (b.spec?.source ?? {}) as {
    zitadelRef?: { name: string };
    cockroachClusterRef?: { name: string };
  };
  const size = b.status?.sizeBytes;
  return {
    name: b.metadata?.name ?? "",
    phase: b.status?.phase ?? "Pending",
    source: source.zitadelRef
      ? `Zitadel/${source.zitadelRef.name}`
      : `CockroachCluster/${source.cockroachClusterRef?.name ?? ""}`,
    size: typeof size === "number" ? formatBytes(size) : "",
    completed: typeof b.status?.completedAt === "string" ? b.status.completedAt : "",
    location: typeof b.status?.location === "string" ? b.status.location : "",
    schedule: b.metadata?.labels?.["zitadel-operator.dev/backup-schedule"] ?? "",
  };
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}

/** What `describe` shows: the resource's spec and status, and the Events about it, oldest first. */
export async function describeRun(
  client: KubeClient,
  type: typeof TYPES.backup,
  namespace: string,
  name: string,
) {
  const obj = await client.get<RunObject>(type, namespace, name);
  if (obj === undefined) throw new Error(`${type.kind} ${namespace}/${name} does not exist`);
  const { items } = await client.list<
    KubeObject & { type?: string; reason?: string; note?: string; eventTime?: string }
  >(TYPES.event, { namespace });
  const events = items
    .filter((e) => (e.regarding as { uid?: string } | undefined)?.uid === obj.metadata?.uid)
    .sort((a, b) => (a.eventTime ?? "").localeCompare(b.eventTime ?? ""))
    .map((e) => ({
      time: e.eventTime ?? "",
      type: e.type ?? "",
      reason: e.reason ?? "",
      note: e.note ?? "",
    }));
  return { name, namespace, kind: type.kind, spec: obj.spec ?? {}, status: obj.status ?? {}, events };
}

export function printDescription(d: Awaited<ReturnType<typeof describeRun>>): void {
  const status = d.status as Record<string, unknown>;
  console.log(`${d.kind}: ${d.namespace}/${d.name}`);
  for (const [key, value] of Object.entries(status)) {
    if (key === "conditions" || key === "observedGeneration") continue;
    console.log(`  ${key}: ${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
  }
  console.log("Conditions:");
  for (const c of (status.conditions ?? []) as Condition[])
    console.log(`  ${c.type}=${c.status} (${c.reason ?? ""}): ${c.message ?? ""}`);
  console.log("Events:");
  if (d.events.length === 0) console.log("  none");
  for (const e of d.events) console.log(`  ${e.time.slice(0, 19)}  ${e.type}  ${e.reason}: ${e.note}`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerBackupCommand(program: Command): void {
  const backup = program.command("backup").description("create, list and inspect Backups in a cluster");

  withClusterOptions(backup.command("create <name>"))
    .description(
      "create a Backup of a Zitadel's database or of a CockroachCluster; with --wait, follow it until it completed or failed",
    )
    .option("--zitadel <name>", "the Zitadel whose database to back up")
    .option("--cockroach-cluster <name>", "the CockroachCluster to back up (all of it, or --database)")
    .option("--database <name>", "with --cockroach-cluster: only this database")
    .option(
      "--from-schedule <schedule>",
      "use the template of this BackupSchedule instead of the flags below",
    )
    .option("--s3-bucket <bucket>", "S3 bucket")
    .option("--s3-prefix <prefix>", "key prefix in the bucket")
    .option("--s3-endpoint <url>", "endpoint of an S3-compatible store")
    .option("--s3-region <region>", "bucket region")
    .option("--s3-force-path-style", "address the bucket as <endpoint>/<bucket>")
    .option("--s3-credentials-secret <secret>", "Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    .option("--gcs-bucket <bucket>", "Google Cloud Storage bucket, instead of S3")
    .option("--gcs-prefix <prefix>", "object name prefix in the GCS bucket")
    .option("--gcs-credentials-secret <secret>", "Secret with a service account key under credentials.json")
    .option("--pvc <claim>", "PersistentVolumeClaim to write to, instead of S3")
    .option("--pvc-path <dir>", "directory inside the volume")
    .option(
      "--age-recipient <age1...>",
      "age recipient the masterkey is encrypted to (repeatable)",
      collect,
      [],
    )
    .option("--verify", "verify the backup after writing it")
    .option("--deletion-policy <policy>", "Retain or Delete")
    .option("--wait", "follow the Backup until it completed or failed; exit 1 if it failed")
    .option("--timeout <seconds>", "with --wait: give up after this long", "3600")
    .action(
      async (
        name: string,
        opts: BackupFlags & ClusterOptions & { output: string; wait?: boolean; timeout: string },
      ) => {
        const output = checkOutput(opts.output);
        const { client, namespace } = connect(opts);
        const created = await client.create<RunObject>(await backupResource(client, namespace, name, opts));
        if (!opts.wait) {
          if (output === "table") console.log(`Backup ${namespace}/${name} created`);
          else print(created, output);
          return;
        }
        const done = await follow(client, TYPES.backup, namespace, name, {
          timeoutMs: Number(opts.timeout) * 1000,
          onProgress: (line) => (output === "table" ? console.log(line) : console.error(line)),
        });
        if (output !== "table") print(done, output);
        if (done.status?.phase !== "Completed") process.exitCode = 1;
      },
    );

  withClusterOptions(backup.command("list"))
    .description("list Backups, newest first")
    .option("--schedule <name>", "only the Backups of this BackupSchedule")
    .action(async (opts: ClusterOptions & { output: string; schedule?: string }) => {
      const output = checkOutput(opts.output);
      const { client, namespace } = connect(opts);
      const { items } = await client.list<RunObject>(TYPES.backup, {
        namespace,
        ...(opts.schedule ? { labelSelector: `zitadel-operator.dev/backup-schedule=${opts.schedule}` } : {}),
      });
      const sorted = items.sort((a, b) =>
        (b.metadata?.creationTimestamp ?? "").localeCompare(a.metadata?.creationTimestamp ?? ""),
      );
      if (output !== "table") return print(sorted.map(backupRow), output);
      printTable([
        ["NAME", "PHASE", "SOURCE", "SIZE", "COMPLETED", "SCHEDULE", "LOCATION"],
        ...sorted
          .map(backupRow)
          .map((r) => [r.name, r.phase, r.source, r.size, r.completed, r.schedule, r.location]),
      ]);
    });

  withClusterOptions(backup.command("describe <name>"))
    .description("a Backup's status, conditions and Events")
    .action(async (name: string, opts: ClusterOptions & { output: string }) => {
      const output = checkOutput(opts.output);
      const { client, namespace } = connect(opts);
      const d = await describeRun(client, TYPES.backup, namespace, name);
      if (output === "table") printDescription(d);
      else print(d, output);
    });
}
