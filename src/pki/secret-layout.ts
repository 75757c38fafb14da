import { createHash } from "node:crypto";
import type { PrivateKey } from "./keys.ts";

// Which Secrets hold what, under which keys, and the file modes their keys need once mounted.
//
// Layout (one Secret per consumer, so each pod mounts exactly the credentials it needs):
//   <cluster>-ca            Opaque. The CA and its rotation state. Never mounted into pods, never deleted by us.
//   <cluster>-node-certs    kubernetes.io/tls. ca.crt, node.crt, node.key (+ tls.crt/tls.key) for CockroachDB pods.
//   <cluster>-client-<user> kubernetes.io/tls. ca.crt, client.<user>.crt/.key (+ tls.*) for one SQL user: root for
//                           the init Job and operator commands, the IAM server's user for ZITADEL, spec.users[].
// Values are text (PEM); the reconciler base64-encodes them into `data`. Each Secret is written whole in one
// update and kubelet swaps mounted Secret files atomically, so a pod never sees a certificate next to the key of
// another one. CockroachDB picks the new files up on SIGHUP.

/** Secret data as text values, keyed like the files they become. */
export type SecretData = Readonly<Record<string, string>>;

/** Keys of the CA Secret. The CA key is only present when the operator generated the CA. */
export const CA_SECRET_KEYS = {
  certificate: "ca.crt",
  key: "ca.key",
  /** The CA a rotation introduces: already trusted, not yet signing. */
  nextCertificate: "next-ca.crt",
  nextKey: "next-ca.key",
  /** CAs a rotation replaced: still trusted until every leaf has moved off them. */
  previousCertificates: "previous-ca.crt",
  /** When the current rotation phase began (RFC 3339), so the overlap can be timed across restarts. */
  phaseStartedAt: "rotation-phase-started-at",
} as const;

/** The trust bundle in every leaf Secret: all CAs currently trusted, newest first. */
export const CA_BUNDLE_KEY = "ca.crt";
export const NODE_CERT_KEY = "node.crt";
export const NODE_KEY_KEY = "node.key";
/** The kubernetes.io/tls names, duplicated so that other tools (Ingress, cert-manager consumers) can use them. */
export const TLS_CERT_KEY = "tls.crt";
export const TLS_KEY_KEY = "tls.key";

export function clientCertKey(user: string): string {
  return `client.${user}.crt`;
}

export function clientKeyKey(user: string): string {
  return `client.${user}.key`;
}

export const CA_SECRET_TYPE = "Opaque";
export const LEAF_SECRET_TYPE = "kubernetes.io/tls";

// CockroachDB refuses a key file that others can read: at most 0700 when the file belongs to the process's user,
// at most 0740 when it belongs to root and to the process's group (pkg/security/certificate_loader.go,
// owner_unix.go). Kubelet writes Secret volume files as root, with the pod's fsGroup as group.
/** For key files owned by the process user (copied by an init container, or the process runs as root). */
export const KEY_FILE_MODE = 0o400;
/**
 * For keys mounted straight from the Secret (root-owned, group = fsGroup = the container's runAsGroup). This is
 * the mode to use with SIGHUP rotation: a copy made at pod start would never see a renewed certificate.
 */
export const MOUNTED_KEY_FILE_MODE = 0o440;
export const CERT_FILE_MODE = 0o444;

export function caSecretName(cluster: string): string {
  return `${cluster}-ca`;
}

export function nodeSecretName(cluster: string): string {
  return `${cluster}-node-certs`;
}

/**
 * The client Secret for `user`. SQL user names may hold "_", which Secret names may not; such names get a short
 * hash of the real name so that "app_user" and "app-user" never share a Secret.
 */
export function clientSecretName(cluster: string, user: string): string {
  const safe = user.toLowerCase().replace(/[^a-z0-9.-]/g, "-");
  if (safe === user) return `${cluster}-client-${user}`;
  const hash = createHash("sha256").update(user).digest("hex").slice(0, 6);
  return `${cluster}-client-${safe}-${hash}`;
}

/** A volume item: which Secret key becomes which file, with which mode. */
export interface CertsDirItem {
  readonly key: string;
  readonly path: string;
  readonly mode: number;
}

/**
 * The items that make a Secret volume a CockroachDB --certs-dir: only the files CockroachDB knows (it warns about
 * every other *.crt, such as tls.crt), keys with `keyMode` (MOUNTED_KEY_FILE_MODE for a direct mount).
 */
export function certsDirItems(
  owner: { readonly node: true } | { readonly user: string },
  keyMode: number,
): CertsDirItem[] {
  const [cert, key] =
    "node" in owner ? [NODE_CERT_KEY, NODE_KEY_KEY] : [clientCertKey(owner.user), clientKeyKey(owner.user)];
  return [
    { key: CA_BUNDLE_KEY, path: CA_BUNDLE_KEY, mode: CERT_FILE_MODE },
    { key: cert, path: cert, mode: CERT_FILE_MODE },
    { key, path: key, mode: keyMode },
  ];
}

/** A leaf's certificate and key as they go into a Secret. */
export interface LeafMaterial {
  readonly certificatePem: string;
  readonly key: PrivateKey;
}

export function nodeSecretData(leaf: LeafMaterial, bundlePem: string): SecretData {
  const key = leaf.key.toPem();
  return {
    [CA_BUNDLE_KEY]: bundlePem,
    [NODE_CERT_KEY]: leaf.certificatePem,
    [NODE_KEY_KEY]: key,
    [TLS_CERT_KEY]: leaf.certificatePem,
    [TLS_KEY_KEY]: key,
  };
}

export function clientSecretData(user: string, leaf: LeafMaterial, bundlePem: string): SecretData {
  const key = leaf.key.toPem();
  return {
    [CA_BUNDLE_KEY]: bundlePem,
    [clientCertKey(user)]: leaf.certificatePem,
    [clientKeyKey(user)]: key,
    [TLS_CERT_KEY]: leaf.certificatePem,
    [TLS_KEY_KEY]: key,
  };
}

/** The CA Secret's contents, in the shape the CA Secret stores. */
export interface CASecretContents {
  readonly certificatePem: string;
  readonly key: PrivateKey | undefined;
  readonly next: { readonly certificatePem: string; readonly key: PrivateKey | undefined } | undefined;
  readonly previousPems: readonly string[];
  readonly phaseStartedAt: Date | undefined;
}

export function caSecretData(contents: CASecretContents): SecretData {
  const data: Record<string, string> = { [CA_SECRET_KEYS.certificate]: contents.certificatePem };
  if (contents.key) data[CA_SECRET_KEYS.key] = contents.key.toPem();
  if (contents.next) {
    data[CA_SECRET_KEYS.nextCertificate] = contents.next.certificatePem;
    if (contents.next.key) data[CA_SECRET_KEYS.nextKey] = contents.next.key.toPem();
  }
  if (contents.previousPems.length > 0)
    data[CA_SECRET_KEYS.previousCertificates] = contents.previousPems.join("");
  if (contents.phaseStartedAt) data[CA_SECRET_KEYS.phaseStartedAt] = contents.phaseStartedAt.toISOString();
  return data;
}
