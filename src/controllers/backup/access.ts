// How a backup, verify or restore Job reaches the database it works on, for both engines, and the lookups that
// find it: a Zitadel's PostgreSQL (host and credentials from its spec), a Zitadel's CockroachCluster, or a
// CockroachCluster itself. Only names travel into the Job: passwords, certificates and keys are mounted or set from
// their Secrets by the kubelet, never read into the Job spec.
import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { parseResource } from "../../api/index.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import {
  clusterName,
  GRPC_PORT,
  publicServiceName,
  rootClientSecretName,
} from "../../render/cockroach/topology.ts";
import { names } from "../../render/zitadel/meta.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { ourType } from "../our-type.ts";
import { type PostgresAccess, postgresAccess } from "./job.ts";

export interface Failure {
  reason: string;
  message: string;
}

/** How a Job reaches a CockroachCluster: as root, with the root client certificate mounted from its Secret. */
export interface CockroachAccess {
  /** The cluster's name: the NetworkPolicy admits pods labelled as its SQL clients. */
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly certsSecret: string;
  /** One database; the whole cluster when unset. */
  readonly database?: string;
  /** A Zitadel's masterkey, which travels with a backup of its database. */
  readonly masterkeySecret?: { name: string; key: string };
}

export type DatabaseAccess =
  | { readonly engine: "PostgreSQL"; readonly postgres: PostgresAccess }
  | { readonly engine: "CockroachDB"; readonly cockroach: CockroachAccess };

export type Resolved = { access: DatabaseAccess } | { wait: Failure } | { failure: Failure };

const TYPES = {
  zitadel: ourType("Zitadel", "zitadels"),
  cockroach: ourType("CockroachCluster", "cockroachclusters"),
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
};

/** The masterkey Secret a Zitadel runs with: the user's, or the one the operator generated. */
export function masterkeySecretOf(zitadel: Zitadel): { name: string; key: string } {
  return zitadel.spec.masterkeySecretRef
    ? { name: zitadel.spec.masterkeySecretRef.name, key: zitadel.spec.masterkeySecretRef.key }
    : { name: names.masterkeySecret(zitadel), key: "masterkey" };
}

/** The Zitadel named `name`, parsed, or why not (yet). */
export async function zitadelNamed(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<{ zitadel: Zitadel } | { wait: Failure }> {
  const raw = await client.get<KubeObject>(TYPES.zitadel, namespace, name);
  if (raw === undefined)
    return { wait: { reason: "SourceNotFound", message: `Zitadel ${name} does not exist (yet)` } };
  const parsed = parseResource(raw);
  if (!parsed.ok || parsed.resource.kind !== "Zitadel")
    return { wait: { reason: "SourceInvalid", message: `Zitadel ${name} has an invalid spec` } };
  return { zitadel: parsed.resource as Zitadel };
}

/** How a Job reaches the database of `zitadel`, whichever engine it uses. */
export async function accessOfZitadel(
  client: KubeClient,
  zitadel: Zitadel,
  namespace: string,
): Promise<Resolved> {
  const crdb = zitadel.spec.database.cockroach;
  if (crdb !== undefined) {
    const cluster = await accessOfCluster(client, namespace, crdb.clusterRef.name, crdb.database);
    if (!("access" in cluster) || cluster.access.engine !== "CockroachDB") return cluster;
    return {
      access: {
        engine: "CockroachDB",
        cockroach: { ...cluster.access.cockroach, masterkeySecret: masterkeySecretOf(zitadel) },
      },
    };
  }
  const pg = zitadel.spec.database.postgres;
  if (pg === undefined)
    return {
      failure: { reason: "SourceUnsupported", message: `Zitadel ${zitadel.metadata.name} has no database` },
    };
  // The user name is not a credential; the Job gets the password from the Secret by itself.
  const credentials = pg.adminSecretRef ?? pg.userSecretRef;
  const secretName = credentials?.name ?? names.postgresUserSecret(zitadel);
  const usernameKey = credentials?.usernameKey ?? "username";
  const secret = await client.get<KubeObject & { data?: Record<string, string> }>(
    TYPES.secret,
    namespace,
    secretName,
  );
  const encoded = secret?.data?.[usernameKey];
  if (encoded === undefined)
    return {
      wait: {
        reason: "SecretNotFound",
        message: `Secret ${secretName} with key "${usernameKey}" does not exist (yet)`,
      },
    };
  const access = postgresAccess(zitadel, Buffer.from(encoded, "base64").toString("utf8"));
  return access
    ? { access: { engine: "PostgreSQL", postgres: access } }
    : { failure: { reason: "SourceUnsupported", message: "no PostgreSQL settings" } };
}

/** How a Job reaches the CockroachCluster `name` (and, optionally, one of its databases). */
export async function accessOfCluster(
  client: KubeClient,
  namespace: string,
  name: string,
  database?: string,
): Promise<Resolved> {
  const raw = await client.get<KubeObject>(TYPES.cockroach, namespace, name);
  if (raw === undefined)
    return { wait: { reason: "SourceNotFound", message: `CockroachCluster ${name} does not exist (yet)` } };
  const parsed = parseResource(raw);
  if (!parsed.ok || parsed.resource.kind !== "CockroachCluster")
    return { wait: { reason: "SourceInvalid", message: `CockroachCluster ${name} has an invalid spec` } };
  const cluster = parsed.resource as CockroachCluster;
  const certsSecret = rootClientSecretName(cluster);
  // The certificates step makes the root client Secret; until then no Job could authenticate.
  if ((await client.get<KubeObject>(TYPES.secret, namespace, certsSecret)) === undefined)
    return {
      wait: {
        reason: "SecretNotFound",
        message: `Secret ${certsSecret} (the root client certificate) does not exist (yet)`,
      },
    };
  return {
    access: {
      engine: "CockroachDB",
      cockroach: {
        cluster: clusterName(cluster),
        host: publicServiceName(cluster),
        port: GRPC_PORT,
        certsSecret,
        ...(database === undefined ? {} : { database }),
      },
    },
  };
}
