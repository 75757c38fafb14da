// The CockroachDB engine: backup (BACKUP ... INTO a collection of its own), restore (RESTORE, beside the target
// and swapped in only after it matched), and verification (SHOW BACKUP ... WITH check_files, then a RESTORE into a
// scratch database that is compared with the manifest and dropped).
//
// CockroachDB writes and reads the backup files itself, from every node, straight to the object store: nothing
// flows through the Job. What the Job adds is what CockroachDB does not know about, next to the backup files and
// in the same layout as a PostgreSQL backup (README.md): the ZITADEL masterkey, encrypted (masterkey.age), and
// manifest.json, written last, with the row count of every table.
//
// Consistency: the engine reads the cluster's HLC clock, goes back 10 seconds (CockroachDB's advice, to stay off
// the newest, most contended data) and uses that one timestamp for both: `BEGIN TRANSACTION AS OF SYSTEM TIME`
// for the row counts and `BACKUP ... AS OF SYSTEM TIME` for the backup. So the counts describe exactly the backed
// up data, whatever writes meanwhile.
//
// The per-table check is the exact row count. The contents are protected by CockroachDB itself (every backup file
// carries a checksum that RESTORE verifies, and check_files finds missing ones); a datum-level fingerprint
// (SHOW EXPERIMENTAL_FINGERPRINTS) is experimental in CockroachDB and is therefore not relied on.
//
// The backup collection's URI carries the store's credentials: it is passed in by the caller, never logged, and
// every message built from a server error goes through `scrub`.
//
// Failures are values ({ ok: false, reason, message }), as in postgres.ts.
import { randomBytes } from "node:crypto";
import {
  backup as backupStatement,
  beginAsOf,
  clusterTimestampQuery,
  databaseExistsQuery,
  dropDatabase,
  redactUri,
  renameDatabase,
  restore as restoreStatement,
  rowCountQuery,
  showBackupCheckFiles,
  tablesQuery,
  userDatabasesQuery,
} from "../db/cockroach.ts";
import type { Connect, SqlSession } from "./crdb-connection.ts";
import {
  type BackupLocation,
  backupDirectory,
  compareTableStats,
  describeDifferences,
  MANIFEST_OBJECT,
  MASTERKEY_OBJECT,
  type Manifest,
  objectKey,
  type StoredObject,
  serializeManifest,
  type TableDifference,
  type TableStats,
} from "./manifest.ts";
import { checkMasterkeyInputs, storeMasterkey } from "./masterkey.ts";
import type { Failure, VerificationResult } from "./postgres.ts";
import { deletePrefix, type ObjectStore, readAll, readVerified } from "./store.ts";

/** What the connection opens when no particular database is meant: every cluster has it. */
const MAINTENANCE_DATABASE = "defaultdb";
/** CockroachDB's advice: a backup 10 s in the past does not contend with foreground traffic. */
const AS_OF_SECONDS_AGO = 10;
/** Row counts of unchanged data; see the header. */
const NO_CHECKSUM = "count-only";

/** Where the backup collection is: the URI CockroachDB gets (with credentials) and its description (without). */
export interface Collection {
  readonly uri: string;
  readonly description: string;
}

export interface BackupCockroachParams {
  readonly connect: Connect;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  readonly collection: Collection;
  /** One database (a Zitadel's); the whole cluster when unset. */
  readonly database?: string;
  readonly masterkey?: { readonly value: string; readonly recipients: readonly string[] };
  /** WITH revision_history, so a restore can pick a point in time within the GC window before the backup. */
  readonly revisionHistory?: boolean;
  readonly now?: () => Date;
}

export type BackupCockroachResult = { readonly ok: true; readonly manifest: Manifest } | Failure;

export async function backupCockroach(params: BackupCockroachParams): Promise<BackupCockroachResult> {
  const { store, location, collection } = params;
  const now = params.now ?? (() => new Date());
  const scrub = scrubber(collection);
  if (params.masterkey !== undefined) {
    const checked = checkMasterkeyInputs(params.masterkey.value, params.masterkey.recipients);
    if (!checked.ok) return checked;
  }
  const startedAt = now().toISOString();
  const directory = backupDirectory(location);
  if ((await store.list(directory)).length > 0)
    return fail(
      "BackupExists",
      `${store.description}${directory} already holds a backup; names are never reused`,
    );

  let step = "connect to CockroachDB";
  let session: SqlSession | undefined;
  let wroteAnything = false;
  try {
    session = await params.connect(MAINTENANCE_DATABASE);
    step = "read the cluster's clock";
    const [clock] = await session.query<{ ts: string; version: string }>(clusterTimestampQuery());
    if (clock === undefined) throw new Error("cluster_logical_timestamp() returned no row");
    const asOf = hlcSecondsBefore(clock.ts, AS_OF_SECONDS_AGO);

    step = "count the rows of every table";
    const databases =
      params.database === undefined
        ? await listDatabases(session, asOf)
        : await existingDatabase(session, params.database);
    if (databases.length === 0)
      return fail("SourceNotFound", `database "${params.database}" does not exist in the cluster`);
    const tables = await statsAsOf(session, databases, asOf);

    step = "run BACKUP";
    wroteAnything = true;
    const rows = await session.query<Record<string, unknown>>(
      backupStatement(collection.uri, {
        asOf,
        ...(params.database === undefined ? {} : { database: params.database }),
        ...(params.revisionHistory ? { revisionHistory: true } : {}),
      }),
    );
    const result = backupJobRow(rows[0]);
    if (result.status !== "succeeded")
      return await failAndClean(
        store,
        directory,
        "BackupFailed",
        `BACKUP job ${result.jobId} ended with status "${result.status}"`,
      );

    const objects: Record<string, StoredObject> = {};
    let masterkey: Manifest["masterkey"];
    if (params.masterkey !== undefined) {
      step = "store the encrypted masterkey";
      const stored = await storeMasterkey(store, location, params.masterkey);
      objects[MASTERKEY_OBJECT] = stored.object;
      masterkey = stored.entry;
    }

    step = "write the manifest";
    const manifest: Manifest = {
      formatVersion: 1,
      engine: "CockroachDB",
      namespace: location.namespace,
      source: location.source,
      backupName: location.backupName,
      database: params.database ?? "",
      serverVersion: clock.version,
      startedAt,
      completedAt: now().toISOString(),
      objects,
      tables,
      cockroach: {
        asOf,
        jobId: result.jobId,
        bytes: result.bytes,
        rows: result.rows,
        databases,
        cluster: params.database === undefined,
        ...(params.revisionHistory ? { revisionHistory: true } : {}),
      },
      ...(masterkey === undefined ? {} : { masterkey }),
    };
    // Last: a directory with a manifest is a complete backup.
    await store.put(objectKey(location, MANIFEST_OBJECT), serializeManifest(manifest));
    return { ok: true, manifest };
  } catch (err) {
    const message = `could not ${step}: ${scrub(errorText(err))}`;
    return wroteAnything
      ? await failAndClean(store, directory, "BackupFailed", message)
      : fail("BackupFailed", message);
  } finally {
    await session?.close().catch(() => {});
  }
}

export interface RestoreCockroachParams {
  readonly connect: Connect;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  readonly collection: Collection;
  readonly manifest: Manifest;
  /** Database of the backup to restore; the backup's own for a database backup. Unset for a cluster backup. */
  readonly database?: string;
  /** Restore under this name; the backed-up name when unset. */
  readonly targetDatabase?: string;
  readonly overwrite?: boolean;
  /**
   * An earlier point in time (RFC 3339) to restore, from a backup taken with revision history. The manifest's row
   * counts describe the backup's own time, so the restored copy is then not compared with them.
   */
  readonly asOf?: string;
  /** A random suffix for the names of the copy and of the replaced original (tests pin it). */
  readonly random?: () => string;
}

export type RestoreCockroachResult =
  | { readonly ok: true; readonly database: string; readonly tables: TableStats[] }
  | Failure;

/**
 * Restores one database of the backup. What happens depends on the target, as in the PostgreSQL engine:
 * - missing, or empty: RESTORE straight into it (an empty one is dropped first, with RESTRICT, so a table that
 *   appeared meanwhile stops the drop);
 * - holding tables, without `overwrite`: refused, reason TargetExists;
 * - holding tables, with `overwrite`: RESTORE beside it under a scratch name, compare the copy with the manifest,
 *   and only if it matches rename the original away, the copy into its place, and drop the original. A failure
 *   at any point leaves the original as it was (and renames it back if the swap itself fails halfway).
 * A whole-cluster restore (RESTORE FROM LATEST, only into a cluster without user data) is left to CockroachDB's
 * own checks and is requested by giving no database for a cluster backup.
 */
export async function restoreCockroach(params: RestoreCockroachParams): Promise<RestoreCockroachResult> {
  const { manifest, collection } = params;
  const scrub = scrubber(collection);
  const random = params.random ?? (() => randomBytes(4).toString("hex"));
  if (manifest.engine !== "CockroachDB" || manifest.cockroach === undefined)
    return fail("EngineMismatch", `the backup was taken from ${manifest.engine}, not CockroachDB`);
  const source = params.database ?? (manifest.cockroach.cluster ? undefined : manifest.database);
  let asOf: string | undefined;
  if (params.asOf !== undefined) {
    if (manifest.cockroach.revisionHistory !== true)
      return fail(
        "AsOfUnsupported",
        "the backup was taken without revision history: it holds only its own point in time, " +
          `${hlcToIso(manifest.cockroach.asOf)}; restore without asOf, or take backups with revisionHistory`,
      );
    const when = Date.parse(params.asOf);
    if (Number.isNaN(when)) return fail("InvalidAsOf", `asOf "${params.asOf}" is not an RFC 3339 time`);
    if (when > Date.parse(hlcToIso(manifest.cockroach.asOf)))
      return fail(
        "AsOfUnsupported",
        `asOf ${params.asOf} is after the backup's own time ${hlcToIso(manifest.cockroach.asOf)}: take a newer backup`,
      );
    asOf = sqlTimestamp(new Date(when));
  }
  // A point in time before the backup's has no counts in the manifest to compare with.
  const check = (tables: readonly TableStats[], expected: readonly TableStats[]) =>
    asOf === undefined ? compareTableStats(expected, tables) : [];
  let step = "connect to CockroachDB";
  let session: SqlSession | undefined;
  try {
    session = await params.connect(MAINTENANCE_DATABASE);
    if (source === undefined) {
      step = "restore the whole cluster";
      await session.query(restoreStatement(collection.uri, asOf === undefined ? {} : { asOf }));
      const restored = await statsNow(session, manifest.cockroach.databases);
      const differences = check(restored, manifest.tables);
      if (differences.length > 0) return fail("DataDiffers", describeDifferences(differences));
      return { ok: true, database: "", tables: restored };
    }
    if (!manifest.cockroach.databases.includes(source))
      return fail(
        "DatabaseNotInBackup",
        `the backup holds ${manifest.cockroach.databases.map((d) => `"${d}"`).join(", ")}, not "${source}"`,
      );
    const target = params.targetDatabase ?? source;
    const expected = tablesOf(manifest.tables, source);

    step = `look at database "${target}"`;
    const exists = await databaseExists(session, target);
    const populated = exists && (await tableCount(session, target)) > 0;
    if (populated && !params.overwrite)
      return fail(
        "TargetExists",
        `database "${target}" holds tables; set overwrite to replace it, or restore under a new name`,
      );

    if (!populated) {
      if (exists) {
        step = `drop the empty database "${target}"`;
        await session.query(dropDatabase(target, "RESTRICT"));
      }
      step = `restore into "${target}"`;
      await session.query(restoreInto(collection.uri, source, target, asOf));
      const restored = await statsNow(session, [target]);
      const differences = check(renamed(restored, target, source), expected);
      if (differences.length > 0) {
        // The target was missing or empty: leaving a copy that differs from the backup helps nobody.
        await session.query(dropDatabase(target, "CASCADE"));
        return fail(
          "DataDiffers",
          `the restored data differs from the backup: ${describeDifferences(differences)}`,
        );
      }
      return { ok: true, database: target, tables: restored };
    }

    // Overwrite: beside the original first.
    const suffix = random();
    const copy = `${target}_restore_${suffix}`;
    const replaced = `${target}_replaced_${suffix}`;
    step = `restore beside "${target}" as "${copy}"`;
    await session.query(restoreInto(collection.uri, source, copy, asOf));
    const restored = await statsNow(session, [copy]);
    const differences = check(renamed(restored, copy, source), expected);
    if (differences.length > 0) {
      await session.query(dropDatabase(copy, "CASCADE"));
      return fail(
        "DataDiffers",
        `the restored copy differs from the backup, "${target}" is unchanged: ${describeDifferences(differences)}`,
      );
    }
    step = `move "${target}" aside`;
    await session.query(renameDatabase(target, replaced));
    step = `move "${copy}" into place`;
    try {
      await session.query(renameDatabase(copy, target));
    } catch (err) {
      await session.query(renameDatabase(replaced, target));
      await session.query(dropDatabase(copy, "CASCADE"));
      throw err;
    }
    step = `drop the replaced original "${replaced}"`;
    await session.query(dropDatabase(replaced, "CASCADE"));
    return { ok: true, database: target, tables: renamed(restored, copy, target) };
  } catch (err) {
    return fail("RestoreFailed", `could not ${step}: ${scrub(errorText(err))}`);
  } finally {
    await session?.close().catch(() => {});
  }
}

export interface VerifyCockroachParams {
  readonly connect: Connect;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  readonly collection: Collection;
  readonly manifest: Manifest;
  readonly random?: () => string;
  readonly now?: () => Date;
}

/**
 * SHOW BACKUP ... WITH check_files (every file the backup names exists), the masterkey's checksum, then each
 * backed-up database restored into a scratch database, counted, compared with the manifest and dropped (always).
 */
export async function verifyCockroach(params: VerifyCockroachParams): Promise<VerificationResult> {
  const { manifest, collection, store, location } = params;
  const now = params.now ?? (() => new Date());
  const scrub = scrubber(collection);
  const random = params.random ?? (() => randomBytes(4).toString("hex"));
  const result = (reason: string | undefined, message: string, differences: TableDifference[] = []) => ({
    result: reason === undefined ? ("Passed" as const) : ("Failed" as const),
    checkedAt: now().toISOString(),
    message,
    ...(reason === undefined ? {} : { reason }),
    differences,
  });
  if (manifest.engine !== "CockroachDB" || manifest.cockroach === undefined)
    return result("EngineMismatch", `the backup was taken from ${manifest.engine}, not CockroachDB`);
  for (const [name, entry] of Object.entries(manifest.objects)) {
    try {
      // Reading it whole is the check: readVerified fails on a size or sha256 that differs.
      await readAll(await readVerified(store, objectKey(location, name), entry));
    } catch (err) {
      return result("BackupCorrupt", `${name}: ${errorText(err)}`);
    }
  }
  let session: SqlSession | undefined;
  const scratches: string[] = [];
  let step = "connect to CockroachDB";
  try {
    session = await params.connect(MAINTENANCE_DATABASE);
    step = "check the backup's files";
    await session.query(showBackupCheckFiles(collection.uri));
    const all: TableStats[] = [];
    for (const database of manifest.cockroach.databases) {
      const scratch = `${database}_verify_${random()}`;
      step = `restore "${database}" into the scratch database "${scratch}"`;
      scratches.push(scratch);
      await session.query(restoreInto(collection.uri, database, scratch));
      all.push(...renamed(await statsNow(session, [scratch]), scratch, database));
    }
    const differences = compareTableStats(manifest.tables, all);
    if (differences.length > 0) return result("DataDiffers", describeDifferences(differences), differences);
    const databases = manifest.cockroach.databases.length;
    return result(
      undefined,
      `restored ${databases} database(s) into scratch databases: ${all.length} table(s) match the backup's row counts`,
    );
  } catch (err) {
    return result(
      step === "check the backup's files" ? "BackupCorrupt" : "RestoreFailed",
      `could not ${step}: ${scrub(errorText(err))}`,
    );
  } finally {
    for (const scratch of scratches) await session?.query(dropDatabase(scratch, "CASCADE")).catch(() => {});
    await session?.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * `hlc` ("<wall nanos>.<logical>", as cluster_logical_timestamp() prints it) moved `seconds` into the past, as an
 * HLC decimal AS OF SYSTEM TIME accepts. Exact: BigInt, no float rounding of 19-digit nanoseconds.
 */
export function hlcSecondsBefore(hlc: string, seconds: number): string {
  const match = /^([0-9]+)(?:\.([0-9]+))?$/.exec(hlc.trim());
  if (match?.[1] === undefined) throw new Error(`"${hlc}" is not an HLC timestamp`);
  const wall = BigInt(match[1]) - BigInt(seconds) * 1_000_000_000n;
  return `${wall}.0000000000`;
}

/** The wall time of an HLC timestamp as RFC 3339 (millisecond precision), for status.asOf. */
export function hlcToIso(hlc: string): string {
  const wall = /^([0-9]+)/.exec(hlc)?.[1];
  if (wall === undefined) throw new Error(`"${hlc}" is not an HLC timestamp`);
  return new Date(Number(BigInt(wall) / 1_000_000n)).toISOString();
}

function restoreInto(uri: string, database: string, target: string, asOf?: string): string {
  return restoreStatement(uri, {
    database,
    ...(target === database ? {} : { newDatabaseName: target }),
    ...(asOf === undefined ? {} : { asOf }),
  });
}

/** A TIMESTAMPTZ literal AS OF SYSTEM TIME takes: "2026-11-28 09:00:00.000000+00:00". */
export function sqlTimestamp(date: Date): string {
  const iso = date.toISOString(); // 2026-11-28T09:00:00.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

async function listDatabases(session: SqlSession, asOf: string): Promise<string[]> {
  await session.query(beginAsOf(asOf));
  try {
    return (await session.query<{ database_name: string }>(userDatabasesQuery())).map((r) => r.database_name);
  } finally {
    await session.query("COMMIT");
  }
}

async function existingDatabase(session: SqlSession, database: string): Promise<string[]> {
  return (await databaseExists(session, database)) ? [database] : [];
}

async function databaseExists(session: SqlSession, database: string): Promise<boolean> {
  const [row] = await session.query<{ n: string | number }>(databaseExistsQuery(), [database]);
  return Number(row?.n ?? 0) > 0;
}

async function tableCount(session: SqlSession, database: string): Promise<number> {
  return (await session.query(tablesQuery(database))).length;
}

/** Row counts of every table of `databases`, all read at `asOf` in one historical transaction. */
async function statsAsOf(
  session: SqlSession,
  databases: readonly string[],
  asOf: string,
): Promise<TableStats[]> {
  await session.query(beginAsOf(asOf));
  try {
    return await statsNow(session, databases);
  } finally {
    await session.query("COMMIT");
  }
}

/** Row counts of every table of `databases`; table schemas are named "<database>.<schema>". */
async function statsNow(session: SqlSession, databases: readonly string[]): Promise<TableStats[]> {
  const stats: TableStats[] = [];
  for (const database of databases) {
    for (const table of await session.query<{ schema: string; name: string }>(tablesQuery(database))) {
      const [count] = await session.query<{ rows: string }>(
        rowCountQuery(database, table.schema, table.name),
      );
      stats.push({
        schema: `${database}.${table.schema}`,
        name: table.name,
        rows: String(count?.rows ?? "0"),
        checksum: NO_CHECKSUM,
      });
    }
  }
  return stats;
}

function tablesOf(tables: readonly TableStats[], database: string): TableStats[] {
  return tables.filter((t) => t.schema.startsWith(`${database}.`));
}

/** Statistics of a copy named `from`, renamed as if they were of database `to`, so they compare with the manifest. */
function renamed(tables: readonly TableStats[], from: string, to: string): TableStats[] {
  return tables.map((t) =>
    t.schema.startsWith(`${from}.`) ? { ...t, schema: `${to}.${t.schema.slice(from.length + 1)}` } : t,
  );
}

/** The row BACKUP returns: job_id, status, fraction_completed, rows, bytes (older versions add index_entries). */
function backupJobRow(row: Record<string, unknown> | undefined): {
  jobId: string;
  status: string;
  rows: string;
  bytes: string;
} {
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  const digits = (v: unknown) => (/^[0-9]+$/.test(text(v)) ? text(v) : "0");
  return {
    jobId: text(row?.job_id),
    status: text(row?.status),
    rows: digits(row?.rows),
    bytes: digits(row?.bytes),
  };
}

/** Removes the collection's URI, and any other URI's secrets, from a server message. */
function scrubber(collection: Collection): (text: string) => string {
  return (text) =>
    text
      .replaceAll(collection.uri, collection.description)
      .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (uri) => redactUri(uri));
}

async function failAndClean(store: ObjectStore, directory: string, reason: string, message: string) {
  // The whole directory: our objects and whatever the failed BACKUP left. Without a manifest it is no backup of
  // ours, and the next run of the same name must find the directory empty.
  await deletePrefix(store, directory).catch(() => {});
  return fail(reason, message);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fail(reason: string, message: string): Failure {
  return { ok: false, reason, message };
}
