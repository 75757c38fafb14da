// Whole-database operations the restore and the verification need: existence, emptiness, create, drop, rename,
// and carrying the owner and database-level grants over when a restored copy replaces the original. Run on a
// connection to the maintenance database (postgres), never to the database being changed.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { quoteIdent } from "../db/postgres.ts";

const MAX_NAME_BYTES = 63;

/** `<base>_<purpose>_<8 hex>` within PostgreSQL's 63 bytes: a database no one else uses, found by its name. */
export function scratchDatabaseName(
  base: string,
  purpose: string,
  random = randomBytes(4).toString("hex"),
): string {
  const suffix = `_${purpose}_${random}`;
  let head = base;
  while (Buffer.byteLength(head + suffix, "utf8") > MAX_NAME_BYTES) head = head.slice(0, -1);
  return `${head}${suffix}`;
}

export async function databaseExists(admin: pg.Client, database: string): Promise<boolean> {
  const result = await admin.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [database]);
  return (result.rowCount ?? 0) > 0;
}

export async function createDatabase(admin: pg.Client, database: string): Promise<void> {
  // template0: a restore must start from nothing, not from whatever someone added to template1.
  await admin.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`);
}

/** Drops the database, ending its sessions first (PostgreSQL 13+). */
export async function dropDatabase(admin: pg.Client, database: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
}

export async function renameDatabase(admin: pg.Client, from: string, to: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
}

interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
}

/**
 * Gives `to` the owner and the database-level privileges of `from` (CONNECT, CREATE, TEMPORARY per role, PUBLIC's
 * included or revoked), so ZITADEL's role can log into the restored database just as before.
 */
export async function copyDatabaseAccess(admin: pg.Client, from: string, to: string): Promise<void> {
  const owner = await admin.query<{ owner: string }>(
    "SELECT pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database WHERE datname = $1",
    [from],
  );
  const grants = await admin.query<Grant>(
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END AS grantee, " +
      "a.privilege_type AS privilege, a.is_grantable AS grantable FROM pg_catalog.pg_database d, " +
      "pg_catalog.aclexplode(COALESCE(d.datacl, pg_catalog.acldefault('d', d.datdba))) AS a WHERE d.datname = $1",
    [from],
  );
  const target = quoteIdent(to);
  const ownerName = owner.rows[0]?.owner;
  if (ownerName !== undefined)
    await admin.query(`ALTER DATABASE ${target} OWNER TO ${quoteIdent(ownerName)}`);
  await admin.query(`REVOKE ALL ON DATABASE ${target} FROM PUBLIC`);
  for (const grant of grants.rows) {
    if (!["CONNECT", "CREATE", "TEMPORARY"].includes(grant.privilege)) continue;
    const grantee = grant.grantee === "PUBLIC" ? "PUBLIC" : quoteIdent(grant.grantee);
    await admin.query(
      `GRANT ${grant.privilege} ON DATABASE ${target} TO ${grantee}${grant.grantable ? " WITH GRANT OPTION" : ""}`,
    );
  }
}
