// The certificates step of the CockroachCluster reconcile: read the TLS Secrets, ask src/pki what they should
// hold now, write the ones that changed (server-side apply), and report expiries.
//
// - The CA Secret has no owner reference: deleting the CockroachCluster must not garbage-collect the CA (data
//   encrypted in transit and backups made under it outlive the resource). It carries our labels, so we see it.
// - Node and client Secrets are owned by the CockroachCluster: they are derived data, re-issued at will.
// - CockroachDB re-reads certificates on SIGHUP, so a renewed node Secret needs no restart; the node pods pick
//   the new files up once kubelet has synced the Secret (the lifecycle step that runs the pods sends SIGHUP).
import type { CockroachCluster } from "../../api/index.ts";
import {
  CA_SECRET_TYPE,
  type CurrentTLSSecrets,
  caSecretName,
  certificateInfo,
  clientSecretName,
  desiredSecretData,
  LEAF_SECRET_TYPE,
  nodeSecretName,
  resolveTLSPolicy,
  type SecretData,
  splitPemCertificates,
  type TLSSecretsData,
} from "../../pki/index.ts";
import { childMeta, commonLabels } from "../../render/cockroach/meta.ts";
import { nodeCertificateNames } from "../../render/cockroach/topology.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { needsApply } from "../../runtime/status.ts";

/** The SQL user ZITADEL connects as, unless its Zitadel resource names another (then list it in spec.users). */
export const ZITADEL_CLIENT_USER = "zitadel";

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface CertificateStatus {
  name: string;
  secretName: string;
  notAfter: string;
  dnsNames?: string[];
}

export type CertificatesOutcome =
  | {
      ok: true;
      certificates: CertificateStatus[];
      /** When to look again: the earliest renewal or rotation step. */
      nextCheckAt: Date;
      nodeChanged: boolean;
    }
  | {
      ok: false;
      reason: string;
      message: string;
      /** Certificates in the Secrets now that are inside their renew window: they will expire un-renewed. */
      expiring: CertificateStatus[];
    };

const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };

/** Lets the step read Secrets from the controller's cache. */
export type SecretLookup = (namespace: string, name: string) => SecretObject | undefined;

/** SQL users that get a client certificate: root (operations), ZITADEL's user, and spec.users[]. */
export function clientUsers(cluster: CockroachCluster): string[] {
  return ["root", ZITADEL_CLIENT_USER, ...(cluster.spec.users ?? []).map((u) => u.name)];
}

export async function reconcileCertificates(opts: {
  cluster: CockroachCluster;
  client: KubeClient;
  events: EventRecorder;
  secrets: SecretLookup;
  now: Date;
}): Promise<CertificatesOutcome> {
  const { cluster, client, events, secrets, now } = opts;
  const name = cluster.metadata?.name ?? "";
  const namespace = cluster.metadata?.namespace ?? "default";
  const tls = cluster.spec.tls;
  const policy = resolveTLSPolicy({
    keyAlgorithm: tls?.keyAlgorithm,
    caLifetime: tls?.caLifetime,
    caRenewBefore: tls?.caRenewBefore,
    caOverlap: tls?.caOverlap,
    nodeLifetime: tls?.leafLifetime,
    nodeRenewBefore: tls?.renewBefore,
    clientLifetime: tls?.leafLifetime,
    clientRenewBefore: tls?.renewBefore,
  });
  if (!policy.ok) return { ok: false, reason: "InvalidSpec", message: policy.message, expiring: [] };

  const users = clientUsers(cluster);
  const supplied = tls?.caSecretRef?.name;
  const current: CurrentTLSSecrets = {
    ca: decoded(secrets(namespace, caSecretName(name))),
    // The user's CA Secret carries none of our labels, so it is not in our cache: read it. A change to it is
    // seen at the next reconcile (within the hour, or at once when the CockroachCluster changes).
    suppliedCA: supplied ? decoded(await client.get<SecretObject>(SECRET, namespace, supplied)) : undefined,
    node: decoded(secrets(namespace, nodeSecretName(name))),
    clients: Object.fromEntries(
      users.map((u) => [u, decoded(secrets(namespace, clientSecretName(name, u)))]),
    ),
  };
  const renewWindowMs = policy.policy.node.renewBeforeMs ?? policy.policy.node.lifetimeMs / 3;
  const expiring = () => expiringCertificates(cluster, current, now, renewWindowMs);
  if (supplied && !current.suppliedCA) {
    return {
      ok: false,
      reason: "CASecretMissing",
      message: `spec.tls.caSecretRef: Secret ${namespace}/${supplied} does not exist (it needs ca.crt and ca.key)`,
      expiring: expiring(),
    };
  }
  const result = await desiredSecretData(
    current,
    {
      clusterName: name,
      policy: policy.policy,
      nodeNames: nodeCertificateNames(cluster),
      clientUsers: users,
      suppliedCASecretName: supplied,
    },
    now,
  );
  if (!result.ok) return { ok: false, reason: result.reason, message: result.message, expiring: expiring() };

  const desired = secretObjects(cluster, result.secrets);
  for (const secret of desired) {
    // desiredSecretData says what changed; needsApply also catches a Secret changed or emptied by hand.
    const live = secrets(namespace, secret.metadata?.name ?? "");
    if (needsApply(secret, live)) await client.apply(secret);
  }
  for (const action of result.actions) {
    await events.record(cluster, {
      type: "Normal",
      reason: eventReason(action.action),
      action: "IssueCertificate",
      note: action.message,
    });
  }
  for (const warning of result.warnings) {
    await events.record(cluster, {
      type: "Warning",
      reason: warning.reason,
      action: "CheckCertificate",
      note: warning.message,
    });
  }
  const certificates = certificateStatuses(cluster, result.secrets);
  for (const c of certificates) {
    operatorMetrics.setCertificateExpiry(
      { cluster: `${namespace}/${name}`, secret: `${namespace}/${c.secretName}`, certificate: c.name },
      new Date(c.notAfter),
    );
  }
  return { ok: true, certificates, nextCheckAt: result.nextCheckAt, nodeChanged: result.changed.node };
}

function secretObjects(cluster: CockroachCluster, data: TLSSecretsData): SecretObject[] {
  const name = cluster.metadata?.name ?? "";
  const namespace = cluster.metadata?.namespace ?? "default";
  const secret = (secretName: string, type: string, d: SecretData, owned: boolean): SecretObject => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: owned
      ? childMeta(cluster, {
          name: secretName,
          namespace,
          remoteCluster: undefined,
          component: "certificates",
        })
      : { name: secretName, namespace, labels: commonLabels(cluster, "certificates", undefined) },
    type,
    data: encode(d),
  });
  return [
    secret(caSecretName(name), CA_SECRET_TYPE, data.ca, false),
    secret(nodeSecretName(name), LEAF_SECRET_TYPE, data.node, true),
    ...Object.entries(data.clients).map(([user, d]) =>
      secret(clientSecretName(name, user), LEAF_SECRET_TYPE, d, true),
    ),
  ];
}

/** What status.certificates shows: every certificate file, its Secret, expiry and names. Never a key. */
function certificateStatuses(cluster: CockroachCluster, data: TLSSecretsData): CertificateStatus[] {
  const name = cluster.metadata?.name ?? "";
  const out: CertificateStatus[] = [];
  const add = (label: string, secretName: string, pem: string | undefined) => {
    if (!pem) return;
    const info = certificateInfo(pem);
    const names = [...info.dnsNames, ...info.ipAddresses];
    out.push({
      name: label,
      secretName,
      notAfter: info.notAfter.toISOString().replace(/\.\d+Z$/, "Z"),
      ...(names.length ? { dnsNames: names } : {}),
    });
  };
  // ca.crt holds every trusted CA: one, or two while a rotation overlaps them.
  const cas = splitPemCertificates(data.node["ca.crt"] ?? "");
  const caSecret = cluster.spec.tls?.caSecretRef?.name ?? caSecretName(name);
  for (const [i, pem] of cas.entries()) add(i === 0 ? "ca" : `ca.${i + 1}`, caSecret, pem);

  add("node", nodeSecretName(name), data.node["node.crt"]);
  for (const [user, d] of Object.entries(data.clients).sort(([a], [b]) => (a < b ? -1 : 1))) {
    add(`client.${user}`, clientSecretName(name, user), d[`client.${user}.crt`]);
  }
  return out;
}

/** The leaves in the current Secrets whose renewal is due (or past): what will break if nothing renews them. */
function expiringCertificates(
  cluster: CockroachCluster,
  current: CurrentTLSSecrets,
  now: Date,
  windowMs: number,
): CertificateStatus[] {
  const name = cluster.metadata?.name ?? "";
  const leaves: [string, string, string | undefined][] = [
    ["node", nodeSecretName(name), current.node?.["node.crt"]],
    ...Object.entries(current.clients ?? {}).map(([user, d]): [string, string, string | undefined] => [
      `client.${user}`,
      clientSecretName(name, user),
      d?.[`client.${user}.crt`],
    ]),
  ];
  const out: CertificateStatus[] = [];
  for (const [label, secretName, pem] of leaves) {
    if (!pem) continue;
    const notAfter = certificateInfo(pem).notAfter;
    if (notAfter.getTime() - now.getTime() <= windowMs) {
      out.push({ name: label, secretName, notAfter: notAfter.toISOString().replace(/\.\d+Z$/, "Z") });
    }
  }
  return out;
}

function eventReason(action: string): string {
  const reasons: Record<string, string> = {
    generated: "CAGenerated",
    issued: "CertificateIssued",
    renewed: "CertificateRenewed",
    "rotation-started": "CARotationStarted",
    promoted: "CARotationPromoted",
    retired: "CARotationFinished",
    "dropped-expired": "ExpiredCADropped",
    adopted: "CAAdopted",
  };
  return reasons[action] ?? "CertificateChanged";
}

function decoded(secret: SecretObject | undefined): SecretData | undefined {
  if (!secret) return undefined;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
}

function encode(data: SecretData): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
  );
}
