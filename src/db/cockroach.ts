// Every SQL statement the operator sends to CockroachDB, as exact text. Identifiers and literals always go through
// quoteIdent and quoteLiteral; nothing from a spec is concatenated into SQL unquoted. The statements run in Jobs
// (render/cockroach/jobs.ts); unit tests pin each one.

// ---------------------------------------------------------------------------------------------------------------
// Quoting

/**
 * A double-quoted identifier ("zitadel", "my""db"). Always quoted, so reserved words (user, role) and any other
 * name are taken literally. https://www.cockroachlabs.com/docs/v26.1/keywords-and-identifiers
 */
export function quoteIdent(name: string): string {
  assertText(name, "identifier");
  if (name === "") throw new Error("an SQL identifier cannot be empty");
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A standard string literal ('it''s'). Backslashes are ordinary characters in standard strings, so only the quote
 * needs doubling. https://www.cockroachlabs.com/docs/v26.1/sql-constants#string-literals
 */
export function quoteLiteral(value: string): string {
  assertText(value, "string literal");
  return `'${value.replaceAll("'", "''")}'`;
}

function assertText(value: string, what: string): void {
  // A NUL byte cannot travel through pgwire; refusing it beats a confusing server error.
  if (value.includes("\0")) throw new Error(`an SQL ${what} cannot contain a NUL byte`);
}

// ---------------------------------------------------------------------------------------------------------------
// Databases, users and grants

export function createDatabase(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)}`;
}

/** A user without a password: it authenticates with its client certificate (CN = user). */
export function createUser(user: string): string {
  return `CREATE USER IF NOT EXISTS ${quoteIdent(user)}`;
}

export function grantAllOnDatabase(database: string, user: string): string {
  return `GRANT ALL ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(user)}`;
}

export function grantSystemViewActivity(user: string): string {
  return `GRANT SYSTEM VIEWACTIVITY TO ${quoteIdent(user)}`;
}

export function setDefaultIsolationReadCommitted(user: string, database: string): string {
  return `ALTER ROLE ${quoteIdent(user)} IN DATABASE ${quoteIdent(database)} SET default_transaction_isolation = 'read committed'`;
}

/**
 * What ZITADEL v2's `zitadel init` does on CockroachDB before it creates its schemas, in its order: the user, the
 * database, all privileges on it, the VIEWACTIVITY system privilege, and READ COMMITTED as the user's default
 * isolation in that database (ZITADEL technical advisory A10009). Idempotent, so it can run on every reconcile. https://github.com/zitadel/zitadel/tree/v2.71.6/cmd/initialise/sql/cockroach
 * https://zitadel.com/docs/support/advisory/a10009
 */
export function zitadelBootstrapStatements(database: string, user: string): string[] {
  return [
    createUser(user),
    createDatabase(database),
    grantAllOnDatabase(database, user),
    grantSystemViewActivity(user),
    setDefaultIsolationReadCommitted(user, database),
  ];
}

/**
 * What deletionPolicy.database: Delete runs for a Zitadel on CockroachDB. DROP DATABASE ... CASCADE takes ZITADEL's
 * tables, the grants on them and the database's grant to the user; the user still holds VIEWACTIVITY, and a user
 * with privileges cannot be dropped, so that is revoked first. CREATE USER IF NOT EXISTS makes the REVOKE valid
 * when the user is gone already (an earlier run of the same statements, or by hand), so running them again is
 * harmless. Without `user` (another Zitadel connects as the same user) only the database goes.
 * https://www.cockroachlabs.com/docs/stable/drop-user
 */
export function zitadelDropStatements(database: string, user?: string): string[] {
  const statements = [dropDatabase(database, "CASCADE")];
  if (user === undefined) return statements;
  return [
    ...statements,
    createUser(user),
    `REVOKE SYSTEM VIEWACTIVITY FROM ${quoteIdent(user)}`,
    `DROP USER IF EXISTS ${quoteIdent(user)}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Versions and upgrades

const MAJOR_VERSION = /^[0-9]{2}\.[0-9]$/;

/**
 * Keeps a major upgrade from finalizing, so the cluster can still roll back to `majorVersion` ("24.3").
 * https://www.cockroachlabs.com/docs/v26.1/upgrade-cockroach-version#step-3-decide-how-the-upgrade-will-be-finalized
 */
export function setPreserveDowngradeOption(majorVersion: string): string {
  // The same check the official operator makes (pkg/update): anything else is a bug in the caller.
  if (!MAJOR_VERSION.test(majorVersion))
    throw new Error(`"${majorVersion}" is not a major version such as 24.3`);
  return `SET CLUSTER SETTING cluster.preserve_downgrade_option = ${quoteLiteral(majorVersion)}`;
}

/** Finalizes the upgrade: CockroachDB then runs its upgrade migrations; no rollback after this. */
export function resetPreserveDowngradeOption(): string {
  return "RESET CLUSTER SETTING cluster.preserve_downgrade_option";
}

export function showPreserveDowngradeOption(): string {
  return "SHOW CLUSTER SETTING cluster.preserve_downgrade_option";
}

/** The cluster version ("25.2"): the major version the cluster finalized. */
export function showClusterVersion(): string {
  return "SHOW CLUSTER SETTING version";
}

// ---------------------------------------------------------------------------------------------------------------
// Nodes

/**
 * One row per node: id, address (the --advertise-addr, which names its pod), version, membership (active,
 * decommissioning, decommissioned), draining and liveness. The same tables `cockroach node status` reads.
 * https://www.cockroachlabs.com/docs/v26.1/cockroach-node#node-status
 */
export function nodeMembershipQuery(): string {
  return (
    "SELECT node_id, address, build_tag, membership, draining, ifnull(is_live, false) AS is_live " +
    "FROM crdb_internal.gossip_liveness LEFT JOIN crdb_internal.gossip_nodes USING (node_id) " +
    "ORDER BY node_id"
  );
}

/** Ranges with fewer replicas than they should have, and ranges without quorum, over the whole cluster. */
export function replicationHealthQuery(): string {
  return (
    "SELECT ifnull(sum(under_replicated_ranges), 0)::INT8 AS under_replicated, " +
    "ifnull(sum(unavailable_ranges), 0)::INT8 AS unavailable FROM system.replication_stats"
  );
}

export interface NodeStatusRow {
  readonly nodeId: number;
  readonly address: string;
  readonly buildTag: string;
  readonly membership: "active" | "decommissioning" | "decommissioned";
  readonly draining: boolean;
  readonly isLive: boolean;
}

/**
 * Reads the CSV that `cockroach sql --format=csv` prints for nodeMembershipQuery. Rows it cannot read are
 * reported, not skipped silently: a decommission must never act on a half-read table.
 */
export function parseNodeMembership(csv: string): { rows: NodeStatusRow[]; problems: string[] } {
  const lines = csv.split(/\r?\n/).filter((line) => line.trim() !== "");
  const header = lines[0]?.split(",") ?? [];
  const column = (name: string) => header.indexOf(name);
  const columns = ["node_id", "address", "build_tag", "membership", "draining", "is_live"].map(column);
  if (columns.some((index) => index < 0))
    return { rows: [], problems: [`unexpected header: ${lines[0] ?? "(empty)"}`] };
  const [id, address, build, membership, draining, live] = columns as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const rows: NodeStatusRow[] = [];
  const problems: string[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(",");
    const nodeId = Number(cells[id]);
    const state = cells[membership];
    if (
      !Number.isInteger(nodeId) ||
      (state !== "active" && state !== "decommissioning" && state !== "decommissioned")
    ) {
      problems.push(`unreadable row: ${line}`);
      continue;
    }
    rows.push({
      nodeId,
      address: cells[address] ?? "",
      buildTag: cells[build] ?? "",
      membership: state,
      draining: cells[draining] === "true",
      isLive: cells[live] === "true",
    });
  }
  return { rows, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Backup and restore

/** Where a backup collection lives. Credentials are values, read from a Secret by the caller. */
export type StorageLocation =
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly prefix?: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly forcePathStyle?: boolean;
      /** Static credentials; the workload's ambient credentials (AUTH=implicit) when unset. */
      readonly credentials?: {
        readonly accessKeyId: string;
        readonly secretAccessKey: string;
        readonly sessionToken?: string;
      };
    }
  | {
      readonly kind: "gcs";
      readonly bucket: string;
      readonly prefix?: string;
      /** A service account JSON key; Workload Identity (AUTH=implicit) when unset. */
      readonly credentialsJson?: string;
    }
  /** A node's external I/O directory (<store>/extern): for tests only, it shares the fate of that node. */
  | { readonly kind: "nodelocal"; readonly nodeId: number; readonly path: string }
  /** An external connection made with CREATE EXTERNAL CONNECTION, which keeps the credentials in the cluster. */
  | { readonly kind: "external"; readonly name: string };

/**
 * The URI CockroachDB's BACKUP and RESTORE take for `location`. It can carry credentials: log it only through
 * redactUri. https://www.cockroachlabs.com/docs/v26.1/use-cloud-storage
 */
export function storageUri(location: StorageLocation): string {
  switch (location.kind) {
    case "s3": {
      const params: [string, string][] = [];
      if (location.credentials) {
        params.push(["AWS_ACCESS_KEY_ID", location.credentials.accessKeyId]);
        params.push(["AWS_SECRET_ACCESS_KEY", location.credentials.secretAccessKey]);
        if (location.credentials.sessionToken !== undefined)
          params.push(["AWS_SESSION_TOKEN", location.credentials.sessionToken]);
      } else {
        params.push(["AUTH", "implicit"]);
      }
      if (location.region !== undefined) params.push(["AWS_REGION", location.region]);
      if (location.endpoint !== undefined) params.push(["AWS_ENDPOINT", location.endpoint]);
      if (location.forcePathStyle === true) params.push(["AWS_USE_PATH_STYLE", "true"]);
      return `s3://${location.bucket}${pathPart(location.prefix)}${query(params)}`;
    }
    case "gcs": {
      const params: [string, string][] =
        location.credentialsJson === undefined
          ? [["AUTH", "implicit"]]
          : [
              ["AUTH", "specified"],
              ["CREDENTIALS", Buffer.from(location.credentialsJson, "utf8").toString("base64")],
            ];
      return `gs://${location.bucket}${pathPart(location.prefix)}${query(params)}`;
    }
    case "nodelocal":
      return `nodelocal://${location.nodeId}${pathPart(location.path)}`;
    case "external":
      return `external://${encodeURIComponent(location.name)}`;
  }
}

function pathPart(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `/${trimmed.split("/").map(encodeURIComponent).join("/")}`;
}

function query(params: readonly [string, string][]): string {
  return params.length === 0 ? "" : `?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`;
}

// The query parameters CockroachDB itself treats as secret when it shows a URI (pkg/cloud: SanitizeExternalStorageURI).
const SECRET_PARAMS = new Set([
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "CREDENTIALS",
  "BEARER_TOKEN",
  "AZURE_ACCOUNT_KEY",
  "AZURE_CLIENT_SECRET",
]);
const REDACTED = "redacted";

/** `uri` with every secret query parameter and any password in it replaced by "redacted", for logs and Events. */
export function redactUri(uri: string): string {
  const withoutPassword = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, `$1:${REDACTED}@`);
  const queryStart = withoutPassword.indexOf("?");
  if (queryStart < 0) return withoutPassword;
  const [base, rest] = [withoutPassword.slice(0, queryStart), withoutPassword.slice(queryStart + 1)];
  const hashStart = rest.indexOf("#");
  const params = hashStart < 0 ? rest : rest.slice(0, hashStart);
  const fragment = hashStart < 0 ? "" : rest.slice(hashStart);
  const redacted = params
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const key = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && SECRET_PARAMS.has(decodeURIComponent(key).toUpperCase())
        ? `${key}=${REDACTED}`
        : pair;
    })
    .join("&");
  return `${base}?${redacted}${fragment}`;
}

/** A statement with the URIs in its string literals redacted: what may go into a log line or a condition. */
export function redactStatement(statement: string): string {
  return statement.replace(/'((?:[^']|'')*)'/g, (literal, body: string) => {
    const value = body.replaceAll("''", "'");
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? quoteLiteral(redactUri(value)) : literal;
  });
}

export interface BackupOptions {
  /** AS OF SYSTEM TIME; '-10s' keeps the backup off the newest, most contended data. */
  readonly asOf?: string;
  readonly revisionHistory?: boolean;
  /** Return at once with the job ID instead of waiting for the backup to finish. */
  readonly detached?: boolean;
}

/**
 * A full backup of the cluster, or of `database`, into a new subdirectory of the collection at `uri`.
 * https://www.cockroachlabs.com/docs/v26.1/backup
 */
export function backup(uri: string, options: BackupOptions & { readonly database?: string } = {}): string {
  const what = options.database === undefined ? "BACKUP" : `BACKUP DATABASE ${quoteIdent(options.database)}`;
  return `${what} INTO ${quoteLiteral(uri)}${asOf(options.asOf)}${backupWith(options)}`;
}

/** An incremental backup on top of the latest full backup in the collection. */
export function incrementalBackup(
  uri: string,
  options: BackupOptions & { readonly database?: string } = {},
): string {
  const what = options.database === undefined ? "BACKUP" : `BACKUP DATABASE ${quoteIdent(options.database)}`;
  return `${what} INTO LATEST IN ${quoteLiteral(uri)}${asOf(options.asOf)}${backupWith(options)}`;
}

export interface RestoreOptions {
  /** A subdirectory from SHOW BACKUPS, such as "2025/01/02-030405.00"; the latest backup when unset. */
  readonly backup?: string;
  readonly asOf?: string;
  readonly detached?: boolean;
}

/**
 * Restores the whole cluster (into an empty cluster) or one database, optionally under a new name.
 * https://www.cockroachlabs.com/docs/v26.1/restore
 */
export function restore(
  uri: string,
  options: RestoreOptions & { readonly database?: string; readonly newDatabaseName?: string } = {},
): string {
  const what =
    options.database === undefined ? "RESTORE" : `RESTORE DATABASE ${quoteIdent(options.database)}`;
  const from = options.backup === undefined ? "LATEST" : quoteLiteral(options.backup);
  const withOptions = [
    ...(options.newDatabaseName === undefined
      ? []
      : [`new_db_name = ${quoteLiteral(options.newDatabaseName)}`]),
    ...(options.detached ? ["detached"] : []),
  ];
  const withClause = withOptions.length === 0 ? "" : ` WITH ${withOptions.join(", ")}`;
  return `${what} FROM ${from} IN ${quoteLiteral(uri)}${asOf(options.asOf)}${withClause}`;
}

export function showBackups(uri: string): string {
  return `SHOW BACKUPS IN ${quoteLiteral(uri)}`;
}

function asOf(time: string | undefined): string {
  return time === undefined ? "" : ` AS OF SYSTEM TIME ${quoteLiteral(time)}`;
}

function backupWith(options: BackupOptions): string {
  const items = [
    ...(options.revisionHistory ? ["revision_history"] : []),
    ...(options.detached ? ["detached"] : []),
  ];
  return items.length === 0 ? "" : ` WITH ${items.join(", ")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// What the backup engine reads around BACKUP and RESTORE (src/backup/cockroach.ts)

/**
 * The cluster's current HLC timestamp (a decimal "<wall nanos>.<logical>") and its version string. The backup
 * picks its AS OF SYSTEM TIME from it, so the statistics and the BACKUP read the very same snapshot.
 * https://www.cockroachlabs.com/docs/v26.1/functions-and-operators#system-info-functions
 */
export function clusterTimestampQuery(): string {
  return "SELECT cluster_logical_timestamp()::STRING AS ts, version() AS version";
}

/** A read-only transaction that reads everything as of `timestamp` (an HLC decimal or a TIMESTAMP literal). */
export function beginAsOf(timestamp: string): string {
  return `BEGIN TRANSACTION AS OF SYSTEM TIME ${quoteLiteral(timestamp)}`;
}

/** Every database but `system`, which a cluster backup holds but no RESTORE DATABASE can target. */
export function userDatabasesQuery(): string {
  return "SELECT database_name FROM [SHOW DATABASES] WHERE database_name <> 'system' ORDER BY 1";
}

/** Whether a database of that name exists: one row with n = 0 or 1. The name travels as parameter $1. */
export function databaseExistsQuery(): string {
  return "SELECT count(*)::INT8 AS n FROM [SHOW DATABASES] WHERE database_name = $1";
}

/** The ordinary tables of `database`, as schema and name. */
export function tablesQuery(database: string): string {
  return (
    `SELECT table_schema AS schema, table_name AS name FROM ${quoteIdent(database)}.information_schema.tables ` +
    "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN " +
    "('crdb_internal', 'information_schema', 'pg_catalog', 'pg_extension') ORDER BY 1, 2"
  );
}

/** The exact row count of one table, as text (tables can outgrow a JavaScript number). */
export function rowCountQuery(database: string, schema: string, table: string): string {
  return `SELECT count(*)::STRING AS rows FROM ${quoteIdent(database)}.${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * RESTRICT refuses a database that still holds tables, so dropping a database believed empty can never destroy
 * data that appeared meanwhile; CASCADE is for the engine's own scratch and replaced copies only.
 */
export function dropDatabase(database: string, mode: "RESTRICT" | "CASCADE"): string {
  return `DROP DATABASE IF EXISTS ${quoteIdent(database)} ${mode}`;
}

export function renameDatabase(from: string, to: string): string {
  return `ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`;
}

/**
 * Reads the newest backup's metadata and checks that every file it names exists in the store, without restoring.
 * https://www.cockroachlabs.com/docs/v26.1/show-backup#validate-a-backups-files
 */
export function showBackupCheckFiles(uri: string): string {
  return `SHOW BACKUP FROM LATEST IN ${quoteLiteral(uri)} WITH check_files`;
}
