// Names, labels and owner references of everything a Zitadel owns, and the hash used in annotations and names.

import { createHash } from "node:crypto";
import { API_VERSION, GROUP } from "../../api/group.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import type { ObjectMeta, OwnerReference } from "../../runtime/kube.ts";
import { LABEL as COCKROACH_LABEL } from "../cockroach/meta.ts";
import type { ZitadelRenderContext } from "./context.ts";

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  version: "app.kubernetes.io/version",
  /** Lets the pod through the CockroachCluster's NetworkPolicy (value: the cluster's name). */
  cockroachClient: COCKROACH_LABEL.cockroachClient,
} as const;

export const ANNOTATION = {
  /** sha256 of the ConfigMap's zitadel.yaml. */
  config: `${GROUP}/config-sha256`,
  /** sha256 of what the pod mounts from the operator's config Secret. */
  secretConfig: `${GROUP}/secret-config-sha256`,
  /** sha256 of the data of spec.configSecretRef's Secret. */
  userSecretConfig: `${GROUP}/user-secret-config-sha256`,
  /** sha256 of the database TLS material (client certificate or CA). */
  databaseTls: `${GROUP}/database-tls-sha256`,
  /** The version and configuration hash a setup Job migrates to. */
  migrationVersion: `${GROUP}/migration-version`,
  migrationConfigHash: `${GROUP}/migration-config-sha256`,
} as const;

export const COMPONENT = {
  api: "api",
  login: "login",
  migration: "migration",
  config: "config",
  credentials: "credentials",
} as const;

const MANAGER = "zitadel-operator";

export function zitadelName(zitadel: Zitadel): string {
  const name = zitadel.metadata.name;
  if (name === undefined) throw new Error("a Zitadel to render needs metadata.name");
  return name;
}

export function zitadelNamespace(zitadel: Zitadel, ctx: Pick<ZitadelRenderContext, "namespace">): string {
  return zitadel.metadata.namespace ?? ctx.namespace ?? "default";
}

/** Object names, all prefixed with the Zitadel's name (at most 40 characters, so every suffix fits 63). */
/** What names the config objects: the hashes of their content (and the steps file, which lives in the Secret). */
export interface ContentHashes {
  readonly runtimeHash: string;
  readonly secretHash: string;
  readonly steps: string;
}

export const names = {
  serviceAccount: (z: Zitadel) => zitadelName(z),
  deployment: (z: Zitadel) => zitadelName(z),
  service: (z: Zitadel) => zitadelName(z),
  podDisruptionBudget: (z: Zitadel) => zitadelName(z),
  ingress: (z: Zitadel) => zitadelName(z),
  horizontalPodAutoscaler: (z: Zitadel) => zitadelName(z),
  serviceMonitor: (z: Zitadel) => zitadelName(z),
  // Named by content: a new configuration is a new object, so pods that still run the old version keep
  // reading the old configuration (also after a restart) until setup for the new one has succeeded and the
  // Deployment moves. Superseded ones are deleted once the rollout is complete.
  configMap: (z: Zitadel, config: ContentHashes) =>
    `${zitadelName(z)}-config-${config.runtimeHash.slice(0, 8)}`,
  configSecret: (z: Zitadel, config: ContentHashes) =>
    `${zitadelName(z)}-config-secrets-${createHash("sha256").update(`${config.secretHash}\0${config.steps}`).digest("hex").slice(0, 8)}`,
  /** The default when spec.masterkeySecretRef is unset (the API's promise: "<name>-masterkey"). */
  masterkeySecret: (z: Zitadel) => `${zitadelName(z)}-masterkey`,
  initialAdminSecret: (z: Zitadel) => `${zitadelName(z)}-initial-admin`,
  loginKeySecret: (z: Zitadel) => `${zitadelName(z)}-login-key`,
  operatorKeySecret: (z: Zitadel) => `${zitadelName(z)}-operator-key`,
  /** The operator-generated credentials of ZITADEL's PostgreSQL role when spec.database.postgres.userSecretRef is unset. */
  postgresUserSecret: (z: Zitadel) => `${zitadelName(z)}-postgres-user`,
  login: (z: Zitadel) => `${zitadelName(z)}-login`,
} as const;

/** The labels that select the pods of one component; immutable in a Deployment's selector. */
export function selectorLabels(zitadel: Zitadel, component: string): Record<string, string> {
  return {
    [LABEL.name]: component === COMPONENT.login ? "zitadel-login" : "zitadel",
    [LABEL.instance]: zitadelName(zitadel),
    [LABEL.component]: component,
  };
}

export function labels(zitadel: Zitadel, component: string, version?: string): Record<string, string> {
  return {
    ...selectorLabels(zitadel, component),
    [LABEL.managedBy]: MANAGER,
    [LABEL.partOf]: "zitadel",
    ...(version === undefined ? {} : { [LABEL.version]: version }),
  };
}

/**
 * Metadata of a child: in the Zitadel's namespace, with a controller reference when the Zitadel has a uid (was read
 * from the API server), so Kubernetes removes children with it. `owned: false` leaves the reference off for what
 * must outlive the Zitadel (the masterkey).
 */
export function childMeta(
  zitadel: Zitadel,
  ctx: Pick<ZitadelRenderContext, "namespace">,
  options: {
    readonly name: string;
    readonly component: string;
    readonly version?: string;
    readonly annotations?: Record<string, string>;
    readonly owned?: boolean;
  },
): ObjectMeta {
  const owner = options.owned === false ? undefined : ownerReference(zitadel);
  return {
    name: options.name,
    namespace: zitadelNamespace(zitadel, ctx),
    labels: labels(zitadel, options.component, options.version),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    ...(owner === undefined ? {} : { ownerReferences: [owner] }),
  };
}

function ownerReference(zitadel: Zitadel): OwnerReference | undefined {
  const uid = zitadel.metadata.uid;
  if (uid === undefined || uid === "") return undefined;
  return {
    apiVersion: API_VERSION,
    kind: "Zitadel",
    name: zitadelName(zitadel),
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** status.selector for the scale subresource. */
export function podSelectorString(zitadel: Zitadel): string {
  return Object.entries(selectorLabels(zitadel, COMPONENT.api))
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}
