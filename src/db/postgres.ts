// The SQL that prepares a PostgreSQL server for ZITADEL, as text: quoting, the login role, its database and
// grants, and the plan that turns what exists into what should exist. Pure: src/db/postgres-bootstrap.ts runs it.
//
// Least privilege. ZITADEL's runtime user needs to create schemas in its database and own what it creates
// there; nothing on the rest of the server. ZITADEL's own recipe for running without its admin user is
// `CREATE ROLE zitadel LOGIN; CREATE DATABASE zitadel; GRANT CONNECT, CREATE ON DATABASE zitadel TO zitadel;`
// (https://zitadel.com/docs/self-hosting/manage/database), and its `init` grants `ALL ON DATABASE`, which for a
// database is exactly CONNECT, CREATE and TEMPORARY (cmd/initialise/sql/03_grant_user.sql). So the role gets
// those three and nothing else: no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, and it does not own
// the database (an owner may drop it, rename it, change its settings and grant it to others). `zitadel init
// zitadel` then runs as that role: it creates the schemas eventstore, projections, system... and owns them
// (cmd/initialise/verify_zitadel.go). PUBLIC loses its default CONNECT and TEMPORARY on a database we create,
// so other login roles on a shared server cannot connect to it.
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

/** Privileges the ZITADEL role holds on its database, in the spelling of aclexplode(). */
export const ZITADEL_DATABASE_PRIVILEGES = ["CONNECT", "CREATE", "TEMPORARY"] as const;

/** Role attributes as pg_roles reports them. */
export interface RoleAttributes {
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  readonly replication: boolean;
  readonly bypassrls: boolean;
}

/** The ZITADEL role may log in and nothing more. */
export const ZITADEL_ROLE_ATTRIBUTES: RoleAttributes = {
  login: true,
  superuser: false,
  createdb: false,
  createrole: false,
  replication: false,
  bypassrls: false,
};

// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1), which could address another object.
const MAX_IDENTIFIER_BYTES = 63;

/** `name` as a quoted SQL identifier: always quoted, so case and keywords survive; `"` is doubled. */
export function quoteIdent(name: string): string {
  if (name === "") throw new Error("an SQL identifier must not be empty");
  if (name.includes("\0")) throw new Error("an SQL identifier must not contain NUL");
  if (Buffer.byteLength(name, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw new Error(`SQL identifier is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `value` as an SQL string literal, the way PostgreSQL's quote_literal() writes it: `'` doubled, and with any
 * backslash the E'' form with backslashes doubled, so the result means the same whatever
 * standard_conforming_strings is. The error message never repeats the value: literals carry passwords.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new Error("an SQL string literal must not contain NUL");
  const quoted = value.replaceAll("'", "''");
  return value.includes("\\") ? `E'${quoted.replaceAll("\\", "\\\\")}'` : `'${quoted}'`;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677 as in PostgreSQL's
 * scram_build_secret): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Sending it instead of the
 * password keeps the password out of the server's statement log and pg_stat_statements
 * (https://www.postgresql.org/docs/current/sql-createrole.html, "PASSWORD"). PostgreSQL normalizes passwords
 * with SASLprep, which changes nothing for printable ASCII; use it only for such passwords.
 */
export function scramSha256Verifier(password: string, salt: Uint8Array, iterations = 4096): string {
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** Printable ASCII, which SASLprep leaves unchanged. */
export function isPrintableAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/**
 * The PASSWORD clause's literal: the SCRAM verifier for printable-ASCII passwords, else the password itself
 * (the server then applies SASLprep and hashes it; it may show up in a statement log).
 */
export function passwordLiteral(password: string, salt: Uint8Array): string {
  return quoteLiteral(isPrintableAscii(password) ? scramSha256Verifier(password, salt) : password);
}

export function roleAttributesClause(attributes: RoleAttributes): string {
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  return [
    flag(attributes.login, "LOGIN"),
    flag(attributes.superuser, "SUPERUSER"),
    flag(attributes.createdb, "CREATEDB"),
    flag(attributes.createrole, "CREATEROLE"),
    flag(attributes.replication, "REPLICATION"),
    flag(attributes.bypassrls, "BYPASSRLS"),
  ].join(" ");
}

export function createRoleSql(role: string, passwordSql: string): string {
  return `CREATE ROLE ${quoteIdent(role)} WITH ${roleAttributesClause(ZITADEL_ROLE_ATTRIBUTES)} PASSWORD ${passwordSql}`;
}

export function alterRoleAttributesSql(role: string): string {
  return `ALTER ROLE ${quoteIdent(role)} WITH ${roleAttributesClause(ZITADEL_ROLE_ATTRIBUTES)}`;
}

export function alterRolePasswordSql(role: string, passwordSql: string): string {
  return `ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${passwordSql}`;
}

/** Owned by the role that runs it (the admin), not by ZITADEL's role: see the note at the top. */
export function createDatabaseSql(database: string): string {
  return `CREATE DATABASE ${quoteIdent(database)}`;
}

export function revokePublicOnDatabaseSql(database: string): string {
  return `REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`;
}

export function grantOnDatabaseSql(database: string, role: string, privileges: readonly string[]): string {
  return `GRANT ${privileges.join(", ")} ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`;
}

/** A catalog query with its parameters (catalog reads are parameterized; DDL cannot be, hence the quoting). */
export interface Query {
  readonly text: string;
  readonly values: readonly string[];
}

export function roleQuery(role: string): Query {
  return {
    text:
      "SELECT rolcanlogin AS login, rolsuper AS superuser, rolcreatedb AS createdb, rolcreaterole AS createrole, " +
      "rolreplication AS replication, rolbypassrls AS bypassrls FROM pg_catalog.pg_roles WHERE rolname = $1",
    values: [role],
  };
}

/**
 * The database's owner and the privileges `role` holds on it directly or as its owner (not through PUBLIC).
 * A NULL datacl means the default ACL, which acldefault() spells out.
 */
export function databaseQuery(database: string, role: string): Query {
  return {
    text:
      "SELECT pg_catalog.pg_get_userbyid(d.datdba) AS owner, ARRAY(SELECT a.privilege_type::text " +
      "FROM pg_catalog.aclexplode(COALESCE(d.datacl, pg_catalog.acldefault('d', d.datdba))) AS a " +
      "WHERE a.grantee = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $2) " +
      "ORDER BY 1) AS privileges FROM pg_catalog.pg_database d WHERE d.datname = $1",
    values: [database, role],
  };
}

/** What the server has now, as the queries above read it. */
export interface ObservedPostgres {
  readonly role: RoleAttributes | undefined;
  readonly database: { readonly owner: string; readonly privileges: readonly string[] } | undefined;
}

export interface DesiredPostgres {
  readonly database: string;
  readonly role: string;
  readonly password: string;
  /** 16 random bytes for the SCRAM verifier of a new role (ignored when the role exists). */
  readonly salt: Uint8Array;
}

/** One statement and what it does, in words for Events and errors (never the SQL: it may hold a verifier). */
export interface BootstrapStep {
  readonly action: string;
  readonly sql: string;
}

/**
 * The statements that make the server match `desired`, in order; none when it already does. Existing roles and
 * databases are adopted, never dropped or recreated: a role keeps its password here (the caller checks it by
 * logging in and resets it with passwordResetStep), a database keeps its owner, its data and every grant to
 * others; only missing privileges of ZITADEL's role are added and wrong role attributes corrected.
 */
export function planPostgresBootstrap(observed: ObservedPostgres, desired: DesiredPostgres): BootstrapStep[] {
  const steps: BootstrapStep[] = [];
  const { role, database } = desired;
  if (observed.role === undefined) {
    steps.push({
      action: `create role "${role}"`,
      sql: createRoleSql(role, passwordLiteral(desired.password, desired.salt)),
    });
  } else if (!sameAttributes(observed.role, ZITADEL_ROLE_ATTRIBUTES)) {
    steps.push({
      action: `set the attributes of role "${role}" to ${roleAttributesClause(ZITADEL_ROLE_ATTRIBUTES)}`,
      sql: alterRoleAttributesSql(role),
    });
  }
  if (observed.database === undefined) {
    steps.push({ action: `create database "${database}"`, sql: createDatabaseSql(database) });
    steps.push({
      action: `revoke the default privileges of PUBLIC on database "${database}"`,
      sql: revokePublicOnDatabaseSql(database),
    });
  }
  const held = new Set(observed.database?.privileges ?? []);
  const missing = ZITADEL_DATABASE_PRIVILEGES.filter((privilege) => !held.has(privilege));
  if (missing.length > 0) {
    steps.push({
      action: `grant ${missing.join(", ")} on database "${database}" to role "${role}"`,
      sql: grantOnDatabaseSql(database, role, missing),
    });
  }
  return steps;
}

/** Sets the password of an existing role that cannot log in with it. */
export function passwordResetStep(role: string, password: string, salt: Uint8Array): BootstrapStep {
  return {
    action: `reset the password of role "${role}"`,
    sql: alterRolePasswordSql(role, passwordLiteral(password, salt)),
  };
}

function sameAttributes(a: RoleAttributes, b: RoleAttributes): boolean {
  return (
    a.login === b.login &&
    a.superuser === b.superuser &&
    a.createdb === b.createdb &&
    a.createrole === b.createrole &&
    a.replication === b.replication &&
    a.bypassrls === b.bypassrls
  );
}
