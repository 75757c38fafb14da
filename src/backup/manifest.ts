// What a backup holds and where its objects live, as data: the object layout, the manifest written next to the
// dump, and the comparison of table statistics that verify and the tests use. Pure: no I/O.
//
// The manifest is written last, so its presence marks a complete backup; a directory without one is the remains
// of a failed run. It never holds a credential: the masterkey is only referenced by its key id, and its
// encrypted copy is a separate object (see README.md).
import { z } from "zod";

/** Object names inside one backup's directory. */
export const DUMP_OBJECT = "dump";
export const MANIFEST_OBJECT = "manifest.json";
export const MASTERKEY_OBJECT = "masterkey.age";

/** One backup inside a store; the store itself is rooted at the destination's prefix or path. */
export interface BackupLocation {
  readonly namespace: string;
  /** The backed-up Zitadel or CockroachCluster. */
  readonly source: string;
  /** The Backup resource's name. */
  readonly backupName: string;
}

const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * `<namespace>/<source>/<backupName>/` under the store's prefix, i.e. `<prefix>/<namespace>/<source>/<backupName>/`
 * in the bucket: one directory per backup, so deleting one is a prefix delete.
 */
export function backupDirectory(location: BackupLocation): string {
  const segments = [location.namespace, location.source, location.backupName];
  for (const segment of segments) {
    // Kubernetes names never contain '/', '..' or spaces; anything else is a bug in the caller.
    if (!PATH_SEGMENT.test(segment) || segment === "." || segment === "..")
      throw new Error(`"${segment}" cannot be a backup path segment`);
  }
  return `${segments.join("/")}/`;
}

export function objectKey(location: BackupLocation, object: string): string {
  return `${backupDirectory(location)}${object}`;
}

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const StoredObjectSchema = z.strictObject({
  size: z.int().min(0),
  sha256: Sha256,
});

export const TableStatsSchema = z.strictObject({
  schema: z.string(),
  name: z.string(),
  /** Exact row count, as a decimal string: tables can outgrow a JavaScript number. */
  rows: z.string().regex(/^[0-9]+$/),
  /** Order-independent checksum of the rows' text (see tableStatsQuery). */
  checksum: z.string(),
});

export const ManifestSchema = z.strictObject({
  formatVersion: z.literal(1),
  engine: z.enum(["PostgreSQL", "CockroachDB"]),
  namespace: z.string(),
  source: z.string(),
  backupName: z.string(),
  database: z.string(),
  serverVersion: z.string(),
  startedAt: z.iso.datetime(),
  completedAt: z.iso.datetime(),
  objects: z.record(z.string(), StoredObjectSchema),
  /** Statistics of every table, computed in the snapshot the dump was taken from. */
  tables: z.array(TableStatsSchema),
  /**
   * CockroachDB only: the backup is CockroachDB's own (BACKUP INTO the collection in this directory), so `objects`
   * lists only what we wrote next to it. `asOf` is the HLC timestamp the backup and the statistics both read.
   */
  cockroach: z
    .strictObject({
      asOf: z.string().regex(/^[0-9]+(\.[0-9]+)?$/),
      jobId: z.string(),
      bytes: z.string().regex(/^[0-9]+$/),
      rows: z.string().regex(/^[0-9]+$/),
      /** The databases the backup holds; the whole cluster's user databases for a cluster backup. */
      databases: z.array(z.string()),
      /** Whether it is a cluster backup (BACKUP INTO) rather than one database's (BACKUP DATABASE ... INTO). */
      cluster: z.boolean(),
      /** Taken WITH revision_history: a restore may choose an earlier point in time (AS OF SYSTEM TIME). */
      revisionHistory: z.boolean().optional(),
    })
    .optional(),
  /** The ZITADEL masterkey that goes with this data: its id, and the recipients its encrypted copy is for. */
  masterkey: z
    .strictObject({
      keyId: z.string(),
      recipients: z.array(z.string()).min(1),
      object: z.literal(MASTERKEY_OBJECT),
    })
    .optional(),
});

export type StoredObject = z.output<typeof StoredObjectSchema>;
export type TableStats = z.output<typeof TableStatsSchema>;
export type Manifest = z.output<typeof ManifestSchema>;

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(ManifestSchema.parse(manifest), null, 2)}\n`;
}

export type ParsedManifest = { ok: true; manifest: Manifest } | { ok: false; message: string };

export function parseManifest(text: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `manifest.json is not JSON: ${(err as Error).message}` };
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      ok: false,
      message: `manifest.json is not a backup manifest: ${first?.path.join(".") ?? ""} ${first?.message ?? ""}`,
    };
  }
  return { ok: true, manifest: parsed.data };
}

export interface TableDifference {
  readonly table: string;
  readonly problem: "missing" | "unexpected" | "rows" | "checksum";
  readonly expected?: string;
  readonly actual?: string;
}

export function tableName(stats: Pick<TableStats, "schema" | "name">): string {
  return `${stats.schema}.${stats.name}`;
}

/** Every way `actual` differs from `expected`, table by table, in a stable order; empty when they are equal. */
export function compareTableStats(
  expected: readonly TableStats[],
  actual: readonly TableStats[],
): TableDifference[] {
  const byName = (list: readonly TableStats[]) => new Map(list.map((t) => [tableName(t), t]));
  const want = byName(expected);
  const have = byName(actual);
  const differences: TableDifference[] = [];
  for (const name of [...new Set([...want.keys(), ...have.keys()])].sort()) {
    const e = want.get(name);
    const a = have.get(name);
    if (a === undefined) differences.push({ table: name, problem: "missing", expected: e?.rows });
    else if (e === undefined) differences.push({ table: name, problem: "unexpected", actual: a.rows });
    else if (e.rows !== a.rows)
      differences.push({ table: name, problem: "rows", expected: e.rows, actual: a.rows });
    else if (e.checksum !== a.checksum)
      differences.push({ table: name, problem: "checksum", expected: e.checksum, actual: a.checksum });
  }
  return differences;
}

/** The differences in words, at most `limit` of them, for a status message or a termination log. */
export function describeDifferences(differences: readonly TableDifference[], limit = 10): string {
  const says: Record<TableDifference["problem"], (d: TableDifference) => string> = {
    missing: (d) => `${d.table} is missing`,
    unexpected: (d) => `${d.table} is not in the backup`,
    rows: (d) => `${d.table} has ${d.actual} rows instead of ${d.expected}`,
    checksum: (d) => `${d.table} has the same row count but different contents`,
  };
  const words = differences.slice(0, limit).map((d) => says[d.problem](d));
  const more = differences.length > limit ? `; and ${differences.length - limit} more` : "";
  return `${words.join("; ")}${more}`;
}
