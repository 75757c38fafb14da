// `zitadel-operator job backup|restore|verify`: what the backup, restore and verification Jobs run, in our own
// image, and what tests run as a local process. Parameters come from flags; credentials only from environment
// variables (set from Secrets with secretKeyRef), never from flags, so they never appear in a Job's spec or in
// the process list. The outcome is one JSON line on stdout and in the termination message; logs go to stderr.
import { writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import {
  backupCockroach,
  type Collection,
  hlcToIso,
  restoreCockroach,
  verifyCockroach,
} from "../backup/cockroach.ts";
import { backupCollection } from "../backup/collection.ts";
import { type Connect, cockroachConnector } from "../backup/crdb-connection.ts";
import { type ClosableStore, storeForDestination } from "../backup/destination-store.ts";
import { FilesystemStore } from "../backup/fs-store.ts";
import { type JobResult, terminationMessage } from "../backup/job-result.ts";
import type { BackupLocation } from "../backup/manifest.ts";
import { MASTERKEY_OBJECT, objectKey } from "../backup/manifest.ts";
import { decryptMasterkey, sameMasterkey } from "../backup/masterkey.ts";
import type { PostgresConnection, SslMode } from "../backup/pg-connection.ts";
import {
  backupPostgres,
  readManifest,
  restorePostgres,
  type VerificationResult,
  verifyBackup,
} from "../backup/postgres.ts";
import { type ObjectStore, readAll, readVerified } from "../backup/store.ts";
import { createLogger } from "../runtime/log.ts";

/** Environment variables the Job sets from Secrets. */
export const JOB_ENV = {
  pgPassword: "PGPASSWORD",
  s3AccessKeyId: "AWS_ACCESS_KEY_ID",
  s3SecretAccessKey: "AWS_SECRET_ACCESS_KEY",
  s3SessionToken: "AWS_SESSION_TOKEN",
  gcsCredentials: "GCS_CREDENTIALS_JSON",
  masterkey: "ZITADEL_MASTERKEY",
  ageIdentity: "AGE_IDENTITY",
} as const;

interface CommonOptions {
  namespace: string;
  source: string;
  backupName: string;
  engine: "postgresql" | "cockroachdb";
  pgHost?: string;
  pgPort: string;
  pgUser?: string;
  crdbHost?: string;
  crdbPort: string;
  crdbCertsDir?: string;
  pgSslmode: SslMode;
  pgCaFile?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
  gcsBucket?: string;
  gcsPrefix?: string;
  gcsEndpoint?: string;
  pvcPath?: string;
  workDir?: string;
  terminationLog: string;
}

export function registerJobCommand(program: Command): void {
  const job = program
    .command("job")
    .description("Run one backup, restore or verification, as the operator's Jobs do (also runs locally).");

  withCommonOptions(job.command("backup"))
    .description(
      "Back up a database into the destination, with its encrypted masterkey: pg_dump on PostgreSQL, BACKUP on CockroachDB.",
    )
    .option("--database <name>", "database to back up (on CockroachDB: the whole cluster when unset)")
    .option(
      "--age-recipient <age1...>",
      "age recipient the masterkey is encrypted to (repeatable)",
      collect,
      [],
    )
    .option("--without-masterkey", "back up without a ZITADEL masterkey (not a Zitadel's database)", false)
    .option(
      "--revision-history",
      "CockroachDB: keep revisions, so a restore can choose a point in time",
      false,
    )
    .action(
      async (
        opts: CommonOptions & {
          database?: string;
          ageRecipient: string[];
          withoutMasterkey: boolean;
          revisionHistory: boolean;
        },
      ) => {
        await runJob("backup", opts, async (store, engine, location) => {
          const masterkey = process.env[JOB_ENV.masterkey];
          if (!opts.withoutMasterkey && (masterkey === undefined || masterkey === ""))
            return fail(
              "NoMasterkey",
              `${JOB_ENV.masterkey} is not set: a ZITADEL backup without its masterkey cannot be used, so it is not taken`,
            );
          const withMasterkey =
            opts.withoutMasterkey || masterkey === undefined
              ? {}
              : { masterkey: { value: masterkey, recipients: opts.ageRecipient } };
          const database = opts.database === undefined ? {} : { database: opts.database };
          let result: Awaited<ReturnType<typeof backupPostgres>>;
          if (engine.kind === "cockroach") {
            result = await backupCockroach({
              connect: engine.connect,
              collection: engine.collection,
              store,
              location,
              ...database,
              ...withMasterkey,
              revisionHistory: opts.revisionHistory,
            });
          } else {
            if (opts.database === undefined)
              return fail("InvalidArguments", "--database is required for a PostgreSQL backup");
            if (opts.revisionHistory)
              return fail(
                "RevisionHistoryUnsupported",
                "--revision-history is CockroachDB's; pg_dump takes one snapshot",
              );
            result = await backupPostgres({
              connection: engine.connection,
              database: opts.database,
              store,
              location,
              ...withMasterkey,
            });
          }
          if (!result.ok) return result;
          const { manifest } = result;
          const ours = Object.values(manifest.objects).reduce((sum, o) => sum + o.size, 0);
          return {
            ok: true,
            location: `${store.description}${objectKey(location, "")}`,
            startedAt: manifest.startedAt,
            completedAt: manifest.completedAt,
            // CockroachDB's: the moment the backup reads, which is before it started.
            ...(manifest.cockroach ? { asOf: hlcToIso(manifest.cockroach.asOf) } : {}),
            sizeBytes: ours + Number(manifest.cockroach?.bytes ?? 0),
            tables: manifest.tables.length,
            masterkeyKeyId: manifest.masterkey?.keyId,
          };
        });
      },
    );

  withCommonOptions(job.command("restore"))
    .description("Restore a backup with pg_restore; refuses a database with data unless --overwrite.")
    .option("--database <name>", "CockroachDB: which database of a cluster backup to restore")
    .option(
      "--as-of <time>",
      "CockroachDB: restore this earlier point in time (RFC 3339), from a backup with revision history",
    )
    .option("--target-database <name>", "database to restore into (default: the backed-up one)")
    .option("--overwrite", "replace a database that holds data", false)
    .option("--masterkey-out <file>", `write the decrypted masterkey here (needs ${JOB_ENV.ageIdentity})`)
    .action(
      async (
        opts: CommonOptions & {
          database?: string;
          asOf?: string;
          targetDatabase?: string;
          overwrite: boolean;
          masterkeyOut?: string;
        },
      ) => {
        await runJob("restore", opts, async (store, engine, location) => {
          // The masterkey first: restoring data whose masterkey nobody can produce would only destroy the target.
          const manifest = await readManifest(store, location);
          if (!manifest.ok) return manifest;
          const masterkey = await recoverMasterkey(store, location, manifest.manifest, opts.masterkeyOut);
          if (!masterkey.ok) return masterkey;
          if (opts.asOf !== undefined && engine.kind !== "cockroach")
            return fail(
              "AsOfUnsupported",
              "--as-of needs a CockroachDB backup with revision history; a dump is one snapshot",
            );
          const target = opts.targetDatabase === undefined ? {} : { targetDatabase: opts.targetDatabase };
          const result =
            engine.kind === "cockroach"
              ? await restoreCockroach({
                  connect: engine.connect,
                  collection: engine.collection,
                  store,
                  location,
                  manifest: manifest.manifest,
                  ...(opts.database === undefined ? {} : { database: opts.database }),
                  ...(opts.asOf === undefined ? {} : { asOf: opts.asOf }),
                  ...target,
                  overwrite: opts.overwrite,
                })
              : await restorePostgres({
                  connection: engine.connection,
                  store,
                  location,
                  ...target,
                  overwrite: opts.overwrite,
                  ...(opts.workDir === undefined ? {} : { workDir: opts.workDir }),
                });
          if (!result.ok) return result;
          return {
            ok: true,
            database: result.database,
            tables: result.tables.length,
            masterkey: masterkey.state,
          };
        });
      },
    );

  withCommonOptions(job.command("verify"))
    .description("Restore a backup into a scratch database, compare every table with the backup, drop it.")
    .action(async (opts: CommonOptions) => {
      await runJob("verify", opts, async (store, engine, location) => {
        let verification: VerificationResult;
        if (engine.kind === "cockroach") {
          const manifest = await readManifest(store, location);
          if (!manifest.ok) return manifest;
          verification = await verifyCockroach({
            connect: engine.connect,
            collection: engine.collection,
            store,
            location,
            manifest: manifest.manifest,
          });
        } else {
          verification = await verifyBackup({
            connection: engine.connection,
            store,
            location,
            ...(opts.workDir === undefined ? {} : { workDir: opts.workDir }),
          });
        }
        return {
          ok: verification.result === "Passed",
          ...(verification.reason === undefined ? {} : { reason: verification.reason }),
          message: verification.message,
          verification,
        };
      });
    });
}

function withCommonOptions(command: Command): Command {
  return command
    .requiredOption("--namespace <namespace>", "namespace of the Backup")
    .requiredOption("--source <name>", "the backed-up Zitadel or CockroachCluster")
    .requiredOption("--backup-name <name>", "the Backup's name")
    .addOption(
      new Option("--engine <engine>", "database engine")
        .choices(["postgresql", "cockroachdb"])
        .default("postgresql"),
    )
    .option("--pg-host <host>", "PostgreSQL host (--engine postgresql)")
    .option("--pg-port <port>", "PostgreSQL port", "5432")
    .option("--pg-user <user>", `PostgreSQL user; its password is read from ${JOB_ENV.pgPassword}`)
    .option("--crdb-host <host>", "CockroachDB host, the cluster's public Service (--engine cockroachdb)")
    .option("--crdb-port <port>", "CockroachDB SQL port", "26257")
    .option("--crdb-certs-dir <dir>", "directory with ca.crt, client.root.crt and client.root.key")
    .addOption(
      new Option("--pg-sslmode <mode>", "libpq sslmode")
        .choices(["disable", "require", "verify-ca", "verify-full"])
        .default("verify-full"),
    )
    .option("--pg-ca-file <file>", "PEM CA bundle for verify-ca and verify-full")
    .option(
      "--s3-bucket <bucket>",
      `S3 bucket; credentials from ${JOB_ENV.s3AccessKeyId} and ${JOB_ENV.s3SecretAccessKey}, else ambient`,
    )
    .option("--s3-prefix <prefix>", "key prefix inside the bucket")
    .option("--s3-endpoint <url>", "endpoint of an S3-compatible service")
    .option("--s3-region <region>", "bucket region")
    .option("--s3-force-path-style", "address the bucket as <endpoint>/<bucket>", false)
    .option(
      "--gcs-bucket <bucket>",
      `GCS bucket; credentials from ${JOB_ENV.gcsCredentials} (a service account JSON key), else ambient`,
    )
    .option("--gcs-prefix <prefix>", "object name prefix inside the GCS bucket")
    .option("--gcs-endpoint <url>", "endpoint of a GCS-compatible service (Private Service Connect)")
    .option("--pvc-path <dir>", "directory of a mounted volume, instead of an object store")
    .option("--work-dir <dir>", "where a restore downloads the dump to (default: the temp directory)")
    .option("--termination-log <file>", "also write the result line here", "/dev/termination-log");
}

type Outcome = { ok: boolean; reason?: string; message?: string; [field: string]: unknown };

async function runJob(
  command: JobResult["command"],
  opts: CommonOptions,
  work: (store: ObjectStore, engine: Engine, location: BackupLocation) => Promise<Outcome>,
): Promise<void> {
  const log = createLogger({ fields: { job: command, backup: `${opts.namespace}/${opts.backupName}` } });
  const secrets = Object.values(JOB_ENV).map((name) => process.env[name] ?? "");
  let store: ObjectStore | ClosableStore | undefined;
  let outcome: Outcome;
  try {
    store = openStore(opts);
    const location = { namespace: opts.namespace, source: opts.source, backupName: opts.backupName };
    log.info(`${command} started`, { store: store.description });
    outcome = await work(store, engineFrom(opts, location), location);
  } catch (err) {
    outcome = fail("Error", err instanceof Error ? err.message : String(err));
  } finally {
    if (store !== undefined && "close" in store) store.close();
  }
  const line = terminationMessage({ command, ...outcome }, secrets);
  // The log repeats the scrubbed line, never the raw outcome.
  const reported = JSON.parse(line) as { reason?: string; message?: string };
  if (outcome.ok) log.info(`${command} succeeded`);
  else log.error(`${command} failed`, { reason: reported.reason, message: reported.message });
  process.stdout.write(`${line}\n`);
  // Outside a Pod the file does not exist; that is not a failure of the job.
  await writeFile(opts.terminationLog, line).catch(() => {});
  if (!outcome.ok) process.exitCode = 1;
}

function openStore(opts: CommonOptions): ObjectStore | ClosableStore {
  const given = [opts.s3Bucket, opts.gcsBucket, opts.pvcPath].filter((x) => x !== undefined);
  if (given.length !== 1) throw new Error("give exactly one of --s3-bucket, --gcs-bucket or --pvc-path");
  if (opts.pvcPath !== undefined) return new FilesystemStore(opts.pvcPath);
  if (opts.gcsBucket !== undefined) {
    const credentialsJson = process.env[JOB_ENV.gcsCredentials];
    return storeForDestination(
      {
        gcs: {
          bucket: opts.gcsBucket,
          ...(opts.gcsPrefix === undefined ? {} : { prefix: opts.gcsPrefix }),
          ...(opts.gcsEndpoint === undefined ? {} : { endpoint: opts.gcsEndpoint }),
        },
      },
      credentialsJson ? { gcsCredentialsJson: credentialsJson } : {},
    );
  }
  const accessKeyId = process.env[JOB_ENV.s3AccessKeyId];
  const secretAccessKey = process.env[JOB_ENV.s3SecretAccessKey];
  const sessionToken = process.env[JOB_ENV.s3SessionToken];
  return storeForDestination(
    {
      s3: {
        bucket: opts.s3Bucket as string,
        ...(opts.s3Prefix === undefined ? {} : { prefix: opts.s3Prefix }),
        ...(opts.s3Endpoint === undefined ? {} : { endpoint: opts.s3Endpoint }),
        ...(opts.s3Region === undefined ? {} : { region: opts.s3Region }),
        forcePathStyle: opts.s3ForcePathStyle === true,
      },
    },
    accessKeyId && secretAccessKey
      ? { s3: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {},
  );
}

type Engine =
  | { kind: "postgres"; connection: PostgresConnection }
  | { kind: "cockroach"; connect: Connect; collection: Collection };

function engineFrom(opts: CommonOptions, location: BackupLocation): Engine {
  if (opts.engine !== "cockroachdb") return { kind: "postgres", connection: connectionFrom(opts) };
  if (opts.crdbHost === undefined || opts.crdbCertsDir === undefined)
    throw new Error("--engine cockroachdb needs --crdb-host and --crdb-certs-dir");
  const connect = cockroachConnector({
    host: opts.crdbHost,
    port: portOf(opts.crdbPort, "--crdb-port"),
    certsDir: opts.crdbCertsDir,
  });
  const accessKeyId = process.env[JOB_ENV.s3AccessKeyId];
  const secretAccessKey = process.env[JOB_ENV.s3SecretAccessKey];
  const sessionToken = process.env[JOB_ENV.s3SessionToken];
  const gcsCredentials = process.env[JOB_ENV.gcsCredentials];
  const collection = backupCollection(
    opts.s3Bucket !== undefined
      ? {
          s3: {
            bucket: opts.s3Bucket,
            ...(opts.s3Prefix === undefined ? {} : { prefix: opts.s3Prefix }),
            ...(opts.s3Endpoint === undefined ? {} : { endpoint: opts.s3Endpoint }),
            ...(opts.s3Region === undefined ? {} : { region: opts.s3Region }),
            forcePathStyle: opts.s3ForcePathStyle === true,
            ...(accessKeyId && secretAccessKey
              ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
              : {}),
          },
        }
      : opts.gcsBucket !== undefined
        ? {
            gcs: {
              bucket: opts.gcsBucket,
              ...(opts.gcsPrefix === undefined ? {} : { prefix: opts.gcsPrefix }),
              ...(gcsCredentials ? { credentialsJson: gcsCredentials } : {}),
            },
          }
        : {},
    location,
  );
  return { kind: "cockroach", connect, collection };
}

function portOf(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${flag} ${value} is not a port`);
  return port;
}

function connectionFrom(opts: CommonOptions): PostgresConnection {
  if (opts.pgHost === undefined || opts.pgUser === undefined)
    throw new Error("--engine postgresql needs --pg-host and --pg-user");
  const port = portOf(opts.pgPort, "--pg-port");
  const password = process.env[JOB_ENV.pgPassword];
  return {
    host: opts.pgHost,
    port,
    user: opts.pgUser,
    sslMode: opts.pgSslmode,
    ...(password ? { password } : {}),
    ...(opts.pgCaFile === undefined ? {} : { caFile: opts.pgCaFile }),
  };
}

/**
 * Whether the data about to be restored can be used with a masterkey: "matches" when the Zitadel's current masterkey
 * (ZITADEL_MASTERKEY) is the backup's, "written" when the backup's was decrypted with AGE_IDENTITY into
 * --masterkey-out, "none" for a backup without one. Anything else fails the restore: data without its key is
 * no restore at all.
 */
async function recoverMasterkey(
  store: ObjectStore,
  location: BackupLocation,
  manifest: { masterkey?: { keyId: string }; objects: Record<string, { size: number; sha256: string }> },
  masterkeyOut: string | undefined,
): Promise<
  { ok: true; state: "matches" | "written" | "none" } | { ok: false; reason: string; message: string }
> {
  if (manifest.masterkey === undefined) return { ok: true, state: "none" };
  const current = process.env[JOB_ENV.masterkey];
  if (masterkeyOut === undefined && current !== undefined && sameMasterkey(current, manifest.masterkey.keyId))
    return { ok: true, state: "matches" };
  const identity = process.env[JOB_ENV.ageIdentity];
  const entry = manifest.objects[MASTERKEY_OBJECT];
  if (identity === undefined || identity === "" || masterkeyOut === undefined || entry === undefined)
    return fail(
      "MasterkeyMismatch",
      `nothing was restored: the backup was taken with masterkey ${manifest.masterkey.keyId}, which is not the ` +
        `current one (${JOB_ENV.masterkey}); give ${JOB_ENV.ageIdentity} and --masterkey-out to recover it from ` +
        MASTERKEY_OBJECT,
    );
  const encrypted = await readAll(await readVerified(store, objectKey(location, MASTERKEY_OBJECT), entry));
  const decrypted = await decryptMasterkey(
    encrypted,
    identity.split(/\s+/).filter(Boolean),
    manifest.masterkey.keyId,
  );
  if (!decrypted.ok) return decrypted;
  await writeFile(masterkeyOut, decrypted.masterkey, { mode: 0o600 });
  return { ok: true, state: "written" };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function fail(reason: string, message: string): { ok: false; reason: string; message: string } {
  return { ok: false, reason, message };
}
