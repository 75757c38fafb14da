// How the backup engines reach PostgreSQL, twice: node-postgres for the snapshot and the statistics, and libpq's
// environment for pg_dump and pg_restore. The password only ever travels in PGPASSWORD of the child's own
// environment (never argv, which any user on the node can read in /proc), and is scrubbed from every message.
import { readFileSync } from "node:fs";
import pg from "pg";

export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  /** libpq's sslmode; verify-full unless set. */
  readonly sslMode?: SslMode;
  /** File with the PEM CA bundle for verify-ca and verify-full. */
  readonly caFile?: string;
}

const CONNECT_TIMEOUT_SECONDS = 10;

export function clientConfig(connection: PostgresConnection, database: string): pg.ClientConfig {
  const mode = connection.sslMode ?? "verify-full";
  const ca = connection.caFile === undefined ? undefined : readFileSync(connection.caFile, "utf8");
  const ssl =
    mode === "disable"
      ? false
      : mode === "require"
        ? { rejectUnauthorized: false }
        : {
            rejectUnauthorized: true,
            ...(ca === undefined ? {} : { ca }),
            // verify-ca checks the chain but not the host name, as libpq does.
            ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
          };
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    ...(connection.password === undefined ? {} : { password: connection.password }),
    database,
    ssl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_SECONDS * 1000,
    application_name: "zitadel-operator-backup",
  };
}

/** The environment for pg_dump and pg_restore: libpq reads all of it, so nothing secret goes on argv. */
export function libpqEnvironment(connection: PostgresConnection, database: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGDATABASE: database,
    PGSSLMODE: connection.sslMode ?? "verify-full",
    PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_SECONDS),
    PGAPPNAME: "zitadel-operator-backup",
    // Messages in English whatever the image's locale, so errors read the same everywhere.
    LC_MESSAGES: "C",
  };
  if (connection.password !== undefined) env.PGPASSWORD = connection.password;
  if (connection.caFile !== undefined) env.PGSSLROOTCERT = connection.caFile;
  return env;
}

/** `text` with the connection's password cut out, for messages built from server or tool output. */
export function scrubPassword(connection: PostgresConnection, text: string): string {
  const password = connection.password;
  return password === undefined || password === "" ? text : text.replaceAll(password, "[redacted]");
}

export async function connect(connection: PostgresConnection, database: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(connection, database));
  // An idle client whose server goes away emits 'error'; without a listener that would crash the Job.
  client.on("error", () => {});
  await client.connect();
  return client;
}
