// The SQL that describes a database's contents for verification: which tables there are, and per table the exact
// row count and an order-independent checksum of the rows. Pure text; postgres.ts runs it.
//
// The checksum is the sum of the first 64 bits of md5(row::text) over all rows: independent of row order (a
// restore may store rows in another physical order), constant in memory however large the table, and changed
// by any edit, insert or delete of a row. A row's text depends on session settings, so SESSION_SETTINGS pins
// every one that changes how a value prints; the backup and the check use the same ones.
import { quoteIdent } from "../db/postgres.ts";

export const SESSION_SETTINGS = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET extra_float_digits = 3",
  "SET bytea_output = 'hex'",
] as const;

/** Ordinary tables (partitions included, partitioned parents not: their rows are in the partitions). */
export const TABLE_LIST_QUERY =
  "SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c " +
  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' " +
  "ORDER BY 1, 2";

export function tableStatsQuery(schema: string, table: string): string {
  return (
    "SELECT count(*)::text AS rows, " +
    "coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text AS checksum " +
    `FROM ${quoteIdent(schema)}.${quoteIdent(table)} AS t`
  );
}

/** Whether a database holds anything of its users: a restore refuses to write over such a database. */
export const USER_RELATION_COUNT_QUERY =
  "SELECT count(*)::int AS relations FROM pg_catalog.pg_class c " +
  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";
