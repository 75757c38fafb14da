// How the CockroachDB engine reaches the cluster: node-postgres over pgwire, as root, authenticated by the root
// client certificate the Job mounts from <cluster>-client-root (never a password). The engine only sees the
// SqlSession interface, so its decisions can be unit-tested with a scripted session where no CockroachDB runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { CA_BUNDLE_KEY, clientCertKey, clientKeyKey } from "../pki/secret-layout.ts";

export interface CockroachConnection {
  /** The cluster's public Service (<cluster>-public), which the node certificates name. */
  readonly host: string;
  readonly port: number;
  /** Directory with ca.crt, client.root.crt and client.root.key, as the Job mounts them. */
  readonly certsDir: string;
  readonly user?: string;
}

/** One SQL session: statements run in order, on one connection, so a transaction spans several of them. */
export interface SqlSession {
  query<Row extends Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export type Connect = (database: string) => Promise<SqlSession>;

const CONNECT_TIMEOUT_MS = 10_000;

export function cockroachClientConfig(connection: CockroachConnection, database: string): pg.ClientConfig {
  const user = connection.user ?? "root";
  const file = (name: string) => readFileSync(join(connection.certsDir, name), "utf8");
  return {
    host: connection.host,
    port: connection.port,
    user,
    database,
    // verify-full: the node certificates carry the public Service's names.
    ssl: {
      rejectUnauthorized: true,
      ca: file(CA_BUNDLE_KEY),
      cert: file(clientCertKey(user)),
      key: file(clientKeyKey(user)),
    },
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "zitadel-operator-backup",
  };
}

/** A Connect over node-postgres for a Job's mounted root certificate. */
export function cockroachConnector(connection: CockroachConnection): Connect {
  return async (database) => {
    const client = new pg.Client(cockroachClientConfig(connection, database));
    // An idle client whose server goes away emits 'error'; without a listener that would crash the Job.
    client.on("error", () => {});
    await client.connect();
    return {
      query: async <Row extends Record<string, unknown>>(text: string, params?: readonly unknown[]) =>
        (await client.query<Row>(text, params === undefined ? undefined : [...params])).rows,
      close: () => client.end(),
    };
  };
}
