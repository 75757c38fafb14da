import { describe, expect, it } from "vitest";
import {
  backup,
  beginAsOf,
  clusterTimestampQuery,
  createDatabase,
  createUser,
  databaseExistsQuery,
  dropDatabase,
  grantAllOnDatabase,
  grantSystemViewActivity,
  incrementalBackup,
  nodeMembershipQuery,
  parseNodeMembership,
  quoteIdent,
  quoteLiteral,
  redactStatement,
  redactUri,
  renameDatabase,
  replicationHealthQuery,
  resetPreserveDowngradeOption,
  restore,
  rowCountQuery,
  setDefaultIsolationReadCommitted,
  setPreserveDowngradeOption,
  showBackupCheckFiles,
  showBackups,
  showClusterVersion,
  showPreserveDowngradeOption,
  storageUri,
  tablesQuery,
  userDatabasesQuery,
  zitadelBootstrapStatements,
  zitadelDropStatements,
} from "../../../src/db/cockroach.ts";

describe("quoting", () => {
  it("double-quotes identifiers and doubles quotes inside them", () => {
    expect(quoteIdent("zitadel")).toBe('"zitadel"');
    expect(quoteIdent("user")).toBe('"user"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteIdent("x; DROP DATABASE y")).toBe('"x; DROP DATABASE y"');
  });

  it("single-quotes literals, doubles quotes, and leaves backslashes alone (standard strings)", () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("a\\b")).toBe("'a\\b'");
    expect(quoteLiteral("'; DROP DATABASE y; --")).toBe("'''; DROP DATABASE y; --'");
  });

  it("refuses what cannot be sent: NUL bytes and empty identifiers", () => {
    expect(() => quoteIdent("")).toThrow(/empty/);
    expect(() => quoteIdent("a\0b")).toThrow(/NUL/);
    expect(() => quoteLiteral("a\0b")).toThrow(/NUL/);
  });
});

describe("ZITADEL's database and user", () => {
  it("pins each statement", () => {
    expect(createUser("zitadel")).toBe('CREATE USER IF NOT EXISTS "zitadel"');
    expect(createDatabase("zitadel")).toBe('CREATE DATABASE IF NOT EXISTS "zitadel"');
    expect(grantAllOnDatabase("zitadel", "zitadel")).toBe('GRANT ALL ON DATABASE "zitadel" TO "zitadel"');
    expect(grantSystemViewActivity("zitadel")).toBe('GRANT SYSTEM VIEWACTIVITY TO "zitadel"');
    expect(setDefaultIsolationReadCommitted("zitadel", "zitadel")).toBe(
      `ALTER ROLE "zitadel" IN DATABASE "zitadel" SET default_transaction_isolation = 'read committed'`,
    );
  });

  it("bootstraps as ZITADEL v2's init does: user, database, grants, isolation", () => {
    expect(zitadelBootstrapStatements("idp", "idp_user")).toEqual([
      'CREATE USER IF NOT EXISTS "idp_user"',
      'CREATE DATABASE IF NOT EXISTS "idp"',
      'GRANT ALL ON DATABASE "idp" TO "idp_user"',
      'GRANT SYSTEM VIEWACTIVITY TO "idp_user"',
      `ALTER ROLE "idp_user" IN DATABASE "idp" SET default_transaction_isolation = 'read committed'`,
    ]);
  });

  it("drops the database, then revokes what the user still holds and drops it; rerunnable", () => {
    expect(zitadelDropStatements("idp", "idp_user")).toEqual([
      'DROP DATABASE IF EXISTS "idp" CASCADE',
      'CREATE USER IF NOT EXISTS "idp_user"',
      'REVOKE SYSTEM VIEWACTIVITY FROM "idp_user"',
      'DROP USER IF EXISTS "idp_user"',
    ]);
    // A user another Zitadel still connects as stays.
    expect(zitadelDropStatements("idp")).toEqual(['DROP DATABASE IF EXISTS "idp" CASCADE']);
  });
});

describe("upgrades", () => {
  it("pins the finalization statements", () => {
    expect(setPreserveDowngradeOption("24.3")).toBe(
      "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.3'",
    );
    expect(resetPreserveDowngradeOption()).toBe("RESET CLUSTER SETTING cluster.preserve_downgrade_option");
    expect(showPreserveDowngradeOption()).toBe("SHOW CLUSTER SETTING cluster.preserve_downgrade_option");
    expect(showClusterVersion()).toBe("SHOW CLUSTER SETTING version");
  });

  it("refuses anything but a major version for preserve_downgrade_option", () => {
    expect(() => setPreserveDowngradeOption("v24.3")).toThrow(/major version/);
    expect(() => setPreserveDowngradeOption("24.3'; RESET ALL; --")).toThrow(/major version/);
  });
});

describe("nodes", () => {
  it("pins the node membership and replication queries", () => {
    expect(nodeMembershipQuery()).toBe(
      "SELECT node_id, address, build_tag, membership, draining, ifnull(is_live, false) AS is_live " +
        "FROM crdb_internal.gossip_liveness LEFT JOIN crdb_internal.gossip_nodes USING (node_id) ORDER BY node_id",
    );
    expect(replicationHealthQuery()).toBe(
      "SELECT ifnull(sum(under_replicated_ranges), 0)::INT8 AS under_replicated, " +
        "ifnull(sum(unavailable_ranges), 0)::INT8 AS unavailable FROM system.replication_stats",
    );
  });

  it("reads the membership table cockroach sql prints as CSV", () => {
    const csv = [
      "node_id,address,build_tag,membership,draining,is_live",
      "1,crdb-0.crdb.identity.svc.cluster.local:26257,v25.2.4,active,false,true",
      "4,crdb-3.crdb.identity.svc.cluster.local:26257,v25.2.4,decommissioned,true,false",
      "",
    ].join("\n");
    expect(parseNodeMembership(csv)).toEqual({
      rows: [
        {
          nodeId: 1,
          address: "crdb-0.crdb.identity.svc.cluster.local:26257",
          buildTag: "v25.2.4",
          membership: "active",
          draining: false,
          isLive: true,
        },
        {
          nodeId: 4,
          address: "crdb-3.crdb.identity.svc.cluster.local:26257",
          buildTag: "v25.2.4",
          membership: "decommissioned",
          draining: true,
          isLive: false,
        },
      ],
      problems: [],
    });
  });

  it("reports what it cannot read instead of skipping it", () => {
    expect(parseNodeMembership("id,status\n1,ok").problems).toEqual(["unexpected header: id,status"]);
    const odd = parseNodeMembership(
      "node_id,address,build_tag,membership,draining,is_live\nx,a,b,gone,false,false",
    );
    expect(odd).toEqual({ rows: [], problems: ["unreadable row: x,a,b,gone,false,false"] });
  });
});

describe("backup and restore", () => {
  const s3 = storageUri({
    kind: "s3",
    bucket: "backups",
    prefix: "/zitadel/prod/",
    region: "eu-central-1",
    endpoint: "https://minio.example.com:9000",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t/+=&" },
  });

  it("builds storage URIs with encoded parameters", () => {
    expect(s3).toBe(
      "s3://backups/zitadel/prod?AWS_ACCESS_KEY_ID=AKIAEXAMPLE&AWS_SECRET_ACCESS_KEY=s3cr3t%2F%2B%3D%26" +
        "&AWS_REGION=eu-central-1&AWS_ENDPOINT=https%3A%2F%2Fminio.example.com%3A9000&AWS_USE_PATH_STYLE=true",
    );
    expect(storageUri({ kind: "s3", bucket: "b" })).toBe("s3://b?AUTH=implicit");
    expect(storageUri({ kind: "gcs", bucket: "b", prefix: "p" })).toBe("gs://b/p?AUTH=implicit");
    expect(storageUri({ kind: "gcs", bucket: "b", credentialsJson: "{}" })).toBe(
      "gs://b?AUTH=specified&CREDENTIALS=e30%3D",
    );
    expect(storageUri({ kind: "nodelocal", nodeId: 1, path: "backups" })).toBe("nodelocal://1/backups");
    expect(storageUri({ kind: "external", name: "backups" })).toBe("external://backups");
  });

  it("redacts secrets from URIs, keeping what identifies the location", () => {
    expect(redactUri(s3)).toBe(
      "s3://backups/zitadel/prod?AWS_ACCESS_KEY_ID=AKIAEXAMPLE&AWS_SECRET_ACCESS_KEY=redacted" +
        "&AWS_REGION=eu-central-1&AWS_ENDPOINT=https%3A%2F%2Fminio.example.com%3A9000&AWS_USE_PATH_STYLE=true",
    );
    expect(redactUri("gs://b?AUTH=specified&CREDENTIALS=e30%3D")).toBe(
      "gs://b?AUTH=specified&CREDENTIALS=redacted",
    );
    expect(redactUri("azure://c/p?AZURE_ACCOUNT_NAME=a&AZURE_ACCOUNT_KEY=k")).toBe(
      "azure://c/p?AZURE_ACCOUNT_NAME=a&AZURE_ACCOUNT_KEY=redacted",
    );
    expect(redactUri("postgres://root:hunter2@host:26257/db")).toBe("postgres://root:redacted@host:26257/db");
    expect(redactUri("s3://b?AUTH=implicit")).toBe("s3://b?AUTH=implicit");
  });

  it("pins the backup statements", () => {
    const uri = "s3://b/p?AUTH=implicit";
    expect(backup(uri, { asOf: "-10s" })).toBe(
      "BACKUP INTO 's3://b/p?AUTH=implicit' AS OF SYSTEM TIME '-10s'",
    );
    expect(backup(uri, { database: "zitadel", revisionHistory: true, detached: true })).toBe(
      `BACKUP DATABASE "zitadel" INTO 's3://b/p?AUTH=implicit' WITH revision_history, detached`,
    );
    expect(incrementalBackup(uri, { asOf: "-10s" })).toBe(
      "BACKUP INTO LATEST IN 's3://b/p?AUTH=implicit' AS OF SYSTEM TIME '-10s'",
    );
    expect(showBackups(uri)).toBe("SHOW BACKUPS IN 's3://b/p?AUTH=implicit'");
  });

  it("pins the restore statements", () => {
    const uri = "s3://b/p?AUTH=implicit";
    expect(restore(uri)).toBe("RESTORE FROM LATEST IN 's3://b/p?AUTH=implicit'");
    expect(restore(uri, { backup: "2025/01/02-030405.00", asOf: "2025-01-02 03:00:00" })).toBe(
      "RESTORE FROM '2025/01/02-030405.00' IN 's3://b/p?AUTH=implicit' AS OF SYSTEM TIME '2025-01-02 03:00:00'",
    );
    expect(restore(uri, { database: "zitadel", newDatabaseName: "zitadel_restored", detached: true })).toBe(
      `RESTORE DATABASE "zitadel" FROM LATEST IN 's3://b/p?AUTH=implicit' WITH new_db_name = 'zitadel_restored', detached`,
    );
  });

  it("redacts the URIs inside a statement for logs, and leaves other literals alone", () => {
    expect(redactStatement(backup(s3, { asOf: "-10s" }))).toBe(
      `BACKUP INTO '${redactUri(s3)}' AS OF SYSTEM TIME '-10s'`,
    );
    expect(
      redactStatement(restore("gs://b?CREDENTIALS=abc", { database: "d", newDatabaseName: "it's" })),
    ).toBe(`RESTORE DATABASE "d" FROM LATEST IN 'gs://b?CREDENTIALS=redacted' WITH new_db_name = 'it''s'`);
    expect(redactStatement("SELECT 'it''s'")).toBe("SELECT 'it''s'");
  });

  it("quotes a URI that contains a quote", () => {
    expect(backup("s3://b/it's")).toBe("BACKUP INTO 's3://b/it''s'");
  });
});

describe("what the backup engine reads around BACKUP and RESTORE", () => {
  it("pins every statement", () => {
    expect(clusterTimestampQuery()).toBe(
      "SELECT cluster_logical_timestamp()::STRING AS ts, version() AS version",
    );
    expect(beginAsOf("1764299990123456789.0000000000")).toBe(
      "BEGIN TRANSACTION AS OF SYSTEM TIME '1764299990123456789.0000000000'",
    );
    expect(userDatabasesQuery()).toBe(
      "SELECT database_name FROM [SHOW DATABASES] WHERE database_name <> 'system' ORDER BY 1",
    );
    expect(databaseExistsQuery()).toBe(
      "SELECT count(*)::INT8 AS n FROM [SHOW DATABASES] WHERE database_name = $1",
    );
    expect(tablesQuery('my"db')).toBe(
      'SELECT table_schema AS schema, table_name AS name FROM "my""db".information_schema.tables ' +
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN " +
        "('crdb_internal', 'information_schema', 'pg_catalog', 'pg_extension') ORDER BY 1, 2",
    );
    expect(rowCountQuery("zitadel", "eventstore", "events2")).toBe(
      'SELECT count(*)::STRING AS rows FROM "zitadel"."eventstore"."events2"',
    );
    expect(dropDatabase("zitadel", "RESTRICT")).toBe('DROP DATABASE IF EXISTS "zitadel" RESTRICT');
    expect(dropDatabase("z_verify_1", "CASCADE")).toBe('DROP DATABASE IF EXISTS "z_verify_1" CASCADE');
    expect(renameDatabase("a", "b")).toBe('ALTER DATABASE "a" RENAME TO "b"');
    expect(showBackupCheckFiles("s3://b/p?AUTH=implicit")).toBe(
      "SHOW BACKUP FROM LATEST IN 's3://b/p?AUTH=implicit' WITH check_files",
    );
  });
});
