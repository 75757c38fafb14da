import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapPostgres, type PostgresConnectionSettings } from "../../src/db/postgres-bootstrap.ts";
import { freePort, type PrivateServer, startPrivateServer } from "../support/postgres-server.ts";

const SHARED: PostgresConnectionSettings = {
  host: "127.0.0.1",
  port: 5432,
  user: "postgres",
  password: "",
  sslMode: "disable",
};
const RUN = `${process.pid}_${Date.now().toString(36)}`;
const PASSWORD = "Zitadel-DB-password-0123456789";

async function withClient<T>(settings: PostgresConnectionSettings, fn: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database ?? "postgres",
    ssl: false,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function sql<Row = Record<string, unknown>>(
  settings: PostgresConnectionSettings,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  return withClient(settings, async (client) => (await client.query(text, values)).rows as Row[]);
}

// Everything bootstrap can touch, including the row versions (xmin): a statement that rewrites a row without
// changing it still shows up there.
async function catalogSnapshot(settings: PostgresConnectionSettings, database: string, role: string) {
  const [roleRow] = await sql(
    settings,
    "SELECT xmin::text, rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, " +
      "rolinherit, rolpassword FROM pg_authid WHERE rolname = $1",
    [role],
  );
  const [databaseRow] = await sql(
    settings,
    "SELECT xmin::text, oid::text, datname, pg_get_userbyid(datdba) AS owner, datacl::text FROM pg_database " +
      "WHERE datname = $1",
    [database],
  );
  const memberships = await sql(
    settings,
    "SELECT roleid::regrole::text AS role, member::regrole::text AS member FROM pg_auth_members " +
      "WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1) OR roleid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
    [role],
  );
  return { roleRow, databaseRow, memberships };
}

const created = { databases: [] as string[], roles: [] as string[] };

async function cleanUp(settings: PostgresConnectionSettings) {
  for (const database of created.databases) {
    await sql(settings, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
  for (const role of created.roles) await sql(settings, `DROP ROLE IF EXISTS "${role}"`);
}

function names(label: string) {
  const database = `zop_${label}_${RUN}`;
  const role = `zop_${label}_user_${RUN}`;
  created.databases.push(database);
  created.roles.push(role);
  return { database, role };
}

describe("bootstrapPostgres on a trust-authenticated server", () => {
  afterAll(() => cleanUp(SHARED));

  it("creates a login role with no other attribute and a database it may only connect to, create schemas in and use temp tables in", async () => {
    const { database, role } = names("fresh");
    const result = await bootstrapPostgres({ admin: SHARED, database, user: role, password: PASSWORD });
    expect(result).toEqual({
      ok: true,
      actions: [
        `create role "${role}"`,
        `create database "${database}"`,
        `revoke the default privileges of PUBLIC on database "${database}"`,
        `grant CONNECT, CREATE, TEMPORARY on database "${database}" to role "${role}"`,
      ],
    });

    const { roleRow, databaseRow, memberships } = await catalogSnapshot(SHARED, database, role);
    expect(roleRow).toMatchObject({
      rolcanlogin: true,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
    });
    // The password went over the wire as a SCRAM verifier, never as text.
    expect(roleRow?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(memberships).toEqual([]);
    // Owned by the admin; the ZITADEL role holds exactly CONNECT (c), CREATE (C) and TEMPORARY (T); PUBLIC nothing.
    expect(databaseRow?.owner).toBe("postgres");
    expect(databaseRow?.datacl).toBe(`{postgres=CTc/postgres,${role}=CTc/postgres}`);
  });

  it("lets the role do what `zitadel init` does and nothing beyond its database", async () => {
    const { database, role } = names("rights");
    expect((await bootstrapPostgres({ admin: SHARED, database, user: role, password: PASSWORD })).ok).toBe(
      true,
    );
    const asRole = { ...SHARED, user: role, password: PASSWORD, database };

    // What `zitadel init zitadel` runs as this role (cmd/initialise/sql/0[4-6]_*.sql): its own schemas and tables.
    await sql(asRole, "CREATE SCHEMA IF NOT EXISTS eventstore");
    await sql(asRole, "CREATE TABLE eventstore.events2 (id bigint PRIMARY KEY)");
    await sql(asRole, "GRANT ALL ON ALL TABLES IN SCHEMA eventstore TO CURRENT_USER");
    await sql(asRole, "CREATE TEMPORARY TABLE scratch (id int)");
    const [owner] = await sql(
      asRole,
      "SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'eventstore'",
    );
    expect(owner?.owner).toBe(role);

    const [rights] = await sql(
      SHARED,
      "SELECT has_schema_privilege($1, 'public', 'CREATE') AS public_create",
      [role],
    );
    // PostgreSQL 15 took CREATE on public away from PUBLIC; the role gets nothing there either.
    expect(rights?.public_create).toBe(false);

    await expect(sql(asRole, `CREATE ROLE "zop_escalate_${RUN}"`)).rejects.toMatchObject({ code: "42501" });
    await expect(sql(asRole, `CREATE DATABASE "zop_escalate_${RUN}"`)).rejects.toMatchObject({
      code: "42501",
    });
    await expect(sql(asRole, `ALTER ROLE "${role}" CREATEDB`)).rejects.toMatchObject({ code: "42501" });
    await expect(sql(asRole, `DROP DATABASE "${database}"`)).rejects.toMatchObject({ code: "42501" });
    await expect(sql(asRole, `ALTER DATABASE "${database}" SET work_mem = '1GB'`)).rejects.toMatchObject({
      code: "42501",
    });
  });

  it("changes nothing on a second run", async () => {
    const { database, role } = names("rerun");
    expect((await bootstrapPostgres({ admin: SHARED, database, user: role, password: PASSWORD })).ok).toBe(
      true,
    );
    const before = await catalogSnapshot(SHARED, database, role);

    const again = await bootstrapPostgres({ admin: SHARED, database, user: role, password: PASSWORD });

    expect(again).toEqual({ ok: true, actions: [] });
    expect(await catalogSnapshot(SHARED, database, role)).toEqual(before);
  });

  it("adopts an existing role and database: corrects attributes, adds grants, keeps data, owner and password", async () => {
    const { database, role } = names("adopt");
    await sql(SHARED, `CREATE ROLE "${role}" LOGIN CREATEDB CREATEROLE PASSWORD 'chosen-by-a-human'`);
    await sql(SHARED, `CREATE DATABASE "${database}"`);
    await sql(SHARED, `GRANT CONNECT ON DATABASE "${database}" TO "${role}"`);
    await sql(
      { ...SHARED, database },
      "CREATE TABLE precious (v text); INSERT INTO precious VALUES ('keep me')",
    );
    const before = await catalogSnapshot(SHARED, database, role);

    const result = await bootstrapPostgres({ admin: SHARED, database, user: role, password: PASSWORD });

    expect(result).toEqual({
      ok: true,
      actions: [
        `set the attributes of role "${role}" to LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
        `grant CREATE, TEMPORARY on database "${database}" to role "${role}"`,
      ],
    });
    const after = await catalogSnapshot(SHARED, database, role);
    expect(after.databaseRow?.oid).toBe(before.databaseRow?.oid);
    expect(after.roleRow?.rolpassword).toBe(before.roleRow?.rolpassword);
    expect(after.roleRow).toMatchObject({ rolcreatedb: false, rolcreaterole: false });
    // PUBLIC keeps its default privileges on a database someone else created: others may rely on them.
    expect(after.databaseRow?.datacl).toBe(`{=Tc/postgres,postgres=CTc/postgres,${role}=CTc/postgres}`);
    expect(await sql({ ...SHARED, database }, "SELECT v FROM precious")).toEqual([{ v: "keep me" }]);
  });

  it("says the admin role does not exist, without the password", async () => {
    const { database, role } = names("noadmin");
    const result = await bootstrapPostgres({
      admin: { ...SHARED, user: `zop_nobody_${RUN}`, password: "admin-password-that-must-not-leak" },
      database,
      user: role,
      password: PASSWORD,
    });
    expect(result).toEqual({
      ok: false,
      reason: "AdminAuthenticationFailed",
      message: `PostgreSQL at 127.0.0.1:5432 refused admin user "zop_nobody_${RUN}": role "zop_nobody_${RUN}" does not exist`,
    });
  });

  it("says the host is unreachable", async () => {
    const result = await bootstrapPostgres({
      admin: { ...SHARED, port: await freePort(), password: "admin-password-that-must-not-leak" },
      database: "zitadel",
      user: "zitadel",
      password: PASSWORD,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("DatabaseUnreachable");
    expect(result.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:\d+: connection refused$/);
  });

  it("says which privilege the admin lacks", async () => {
    const { database, role } = names("weak");
    const weak = `zop_weak_admin_${RUN}`;
    created.roles.push(weak);
    await sql(SHARED, `CREATE ROLE "${weak}" LOGIN NOCREATEROLE NOCREATEDB`);

    const result = await bootstrapPostgres({
      admin: { ...SHARED, user: weak },
      database,
      user: role,
      password: PASSWORD,
    });

    expect(result).toEqual({
      ok: false,
      reason: "AdminPrivilegesMissing",
      message:
        `admin user "${weak}" lacks a privilege to create role "${role}": permission denied to create role ` +
        "(it needs CREATEROLE and CREATEDB, or ownership of an existing database)",
    });
    expect(await sql(SHARED, "SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).toEqual([]);
  });

  it("says when the admin may create roles but not databases, after creating the role", async () => {
    const { database, role } = names("nocreatedb");
    const admin = `zop_rolesonly_admin_${RUN}`;
    created.roles.push(admin);
    await sql(SHARED, `CREATE ROLE "${admin}" LOGIN CREATEROLE NOCREATEDB`);

    const result = await bootstrapPostgres({
      admin: { ...SHARED, user: admin },
      database,
      user: role,
      password: PASSWORD,
    });

    expect(result).toMatchObject({ ok: false, reason: "AdminPrivilegesMissing" });
    if (result.ok) return;
    expect(result.message).toContain(`create database "${database}": permission denied to create database`);
  });
});

// A server of our own where passwords are checked: trust authentication on the shared server accepts any.
describe("bootstrapPostgres where passwords are checked (scram-sha-256)", () => {
  const ADMIN_PASSWORD = "Admin-password-9876543210";
  let server: PrivateServer | undefined;
  let skipReason = "";

  beforeAll(async () => {
    try {
      server = await startPrivateServer(ADMIN_PASSWORD);
    } catch (error) {
      skipReason = error instanceof Error ? error.message : String(error);
    }
  }, 120_000);
  afterAll(async () => server?.stop());

  function admin(password = ADMIN_PASSWORD): PostgresConnectionSettings {
    if (!server) throw new Error(`no private PostgreSQL server: ${skipReason}`);
    return { host: "127.0.0.1", port: server.port, user: "postgres", password, sslMode: "disable" };
  }

  it("refuses a wrong admin password with a message that names the cause and not the password", async () => {
    const wrong = "Wrong-admin-password-that-must-not-leak";
    const result = await bootstrapPostgres({
      admin: admin(wrong),
      database: "zitadel",
      user: "zitadel",
      password: PASSWORD,
    });
    expect(result).toEqual({
      ok: false,
      reason: "AdminAuthenticationFailed",
      message: `PostgreSQL at 127.0.0.1:${server?.port} rejected the password of admin user "postgres"`,
    });
    expect(JSON.stringify(result)).not.toContain(wrong);
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
  });

  it("creates a role whose SCRAM verifier, computed by us, lets it log in with the password", async () => {
    const result = await bootstrapPostgres({
      admin: admin(),
      database: "zitadel",
      user: "zitadel",
      password: PASSWORD,
    });
    expect(result.ok).toBe(true);
    const [row] = await sql(
      { ...admin(), user: "zitadel", password: PASSWORD, database: "zitadel" },
      "SELECT current_user AS me",
    );
    expect(row?.me).toBe("zitadel");
    await expect(
      sql({ ...admin(), user: "zitadel", password: "not-the-password", database: "zitadel" }, "SELECT 1"),
    ).rejects.toMatchObject({ code: "28P01" });
  });

  it("resets the password of an adopted role that cannot log in with it, once", async () => {
    await sql(admin(), "CREATE ROLE adopted LOGIN PASSWORD 'someone-elses-password'");

    const first = await bootstrapPostgres({
      admin: admin(),
      database: "adopted",
      user: "adopted",
      password: PASSWORD,
    });
    expect(first).toEqual({
      ok: true,
      actions: [
        'create database "adopted"',
        'revoke the default privileges of PUBLIC on database "adopted"',
        'grant CONNECT, CREATE, TEMPORARY on database "adopted" to role "adopted"',
        'reset the password of role "adopted"',
      ],
    });
    const [row] = await sql(
      { ...admin(), user: "adopted", password: PASSWORD, database: "adopted" },
      "SELECT current_user AS me",
    );
    expect(row?.me).toBe("adopted");

    const second = await bootstrapPostgres({
      admin: admin(),
      database: "adopted",
      user: "adopted",
      password: PASSWORD,
    });
    expect(second).toEqual({ ok: true, actions: [] });
  });
});
