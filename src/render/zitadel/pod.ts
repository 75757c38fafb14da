// What every ZITADEL pod shares, whether it serves (Deployment) or migrates (setup Job): the image, the files it
// reads its configuration from, the masterkey, and how it is locked down and scheduled.

import type { Scheduling } from "../../api/scheduling.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { certsDirItems, clientSecretName, MOUNTED_KEY_FILE_MODE } from "../../pki/secret-layout.ts";
import { CONFIG_KEY, DATABASE_CA_FILE, PATHS, STEPS_KEY, USER_SECRET_FILE } from "./config.ts";
import { type ContentHashes, LABEL, names } from "./meta.ts";
import { masterkeySecretRef } from "./secrets.ts";

const DEFAULT_IMAGE = "ghcr.io/zitadel/zitadel";
const DEFAULT_LOGIN_IMAGE = "ghcr.io/zitadel/zitadel-login";
/** The images' non-root user (the Helm chart runs them as 1000 too). */
const RUN_AS = 1000;

/**
 * The image of `version`. spec.image must contain spec.version, so while setup for a new version runs the old one
 * is found by putting the old version in its place.
 */
export function zitadelImage(zitadel: Zitadel, version: string): string {
  return imageFor(zitadel.spec.image, zitadel.spec.version, version, DEFAULT_IMAGE);
}

export function loginImage(zitadel: Zitadel, version: string): string {
  return imageFor(zitadel.spec.login.image, zitadel.spec.version, version, DEFAULT_LOGIN_IMAGE);
}

function imageFor(override: string | undefined, specVersion: string, version: string, repository: string) {
  if (override === undefined) return `${repository}:${version}`;
  return override.includes(specVersion) ? override.replaceAll(specVersion, version) : override;
}

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: RUN_AS,
  runAsGroup: RUN_AS,
  // Mounted key files are root-owned with this group, readable through MOUNTED_KEY_FILE_MODE.
  fsGroup: RUN_AS,
  seccompProfile: { type: "RuntimeDefault" },
};

export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

/** The pod fields every ZITADEL and login pod has: no token, no Service links, locked-down security context. */
export function basePodFields(zitadel: Zitadel): Record<string, unknown> {
  return {
    serviceAccountName: names.serviceAccount(zitadel),
    automountServiceAccountToken: false,
    // A Service named like the Zitadel would otherwise inject ZITADEL_PORT=tcp://..., which ZITADEL reads as its
    // Port setting (it takes every ZITADEL_* variable as configuration).
    enableServiceLinks: false,
    securityContext: POD_SECURITY_CONTEXT,
  };
}

/** The config files a ZITADEL command reads, in merge order: later files override earlier ones. */
export function configFiles(zitadel: Zitadel): string[] {
  return [
    `${PATHS.config}/${CONFIG_KEY}`,
    `${PATHS.secrets}/${CONFIG_KEY}`,
    ...(zitadel.spec.configSecretRef === undefined ? [] : [`${PATHS.userSecrets}/${USER_SECRET_FILE}`]),
  ];
}

export function masterkeyEnv(zitadel: Zitadel) {
  const ref = masterkeySecretRef(zitadel);
  return { name: "ZITADEL_MASTERKEY", valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
}

/** Volumes and mounts for ZITADEL's files; `withSteps` adds steps.yaml, which only the setup Job reads. */
export function zitadelVolumes(zitadel: Zitadel, withSteps: boolean, config: ContentHashes) {
  const volumes: Record<string, unknown>[] = [
    {
      name: "config",
      configMap: { name: names.configMap(zitadel, config), items: [{ key: CONFIG_KEY, path: CONFIG_KEY }] },
    },
    {
      name: "secrets",
      secret: {
        secretName: names.configSecret(zitadel, config),
        defaultMode: 0o440,
        items: [
          { key: CONFIG_KEY, path: CONFIG_KEY },
          ...(withSteps ? [{ key: STEPS_KEY, path: STEPS_KEY }] : []),
        ],
      },
    },
  ];
  const mounts: Record<string, unknown>[] = [
    { name: "config", mountPath: PATHS.config, readOnly: true },
    { name: "secrets", mountPath: PATHS.secrets, readOnly: true },
  ];
  const userSecret = zitadel.spec.configSecretRef;
  if (userSecret !== undefined) {
    volumes.push({
      name: "user-secrets",
      secret: {
        secretName: userSecret.name,
        defaultMode: 0o440,
        items: [{ key: userSecret.key, path: USER_SECRET_FILE }],
      },
    });
    mounts.push({ name: "user-secrets", mountPath: PATHS.userSecrets, readOnly: true });
  }
  const tls = databaseTlsVolume(zitadel);
  if (tls !== undefined) {
    volumes.push(tls);
    mounts.push({ name: "database-tls", mountPath: PATHS.databaseTls, readOnly: true });
  }
  return { volumes, mounts };
}

function databaseTlsVolume(zitadel: Zitadel): Record<string, unknown> | undefined {
  const { cockroach, postgres } = zitadel.spec.database;
  if (cockroach !== undefined) {
    // Only this user's certificate and key, mounted straight from the Secret so a renewal reaches the files.
    const items = certsDirItems({ user: cockroach.user }, MOUNTED_KEY_FILE_MODE);
    return {
      name: "database-tls",
      secret: {
        secretName: clientSecretName(cockroach.clusterRef.name, cockroach.user),
        defaultMode: 0o440,
        items,
      },
    };
  }
  if (postgres?.caSecretRef !== undefined) {
    return {
      name: "database-tls",
      secret: {
        secretName: postgres.caSecretRef.name,
        defaultMode: 0o444,
        items: [{ key: postgres.caSecretRef.key, path: DATABASE_CA_FILE }],
      },
    };
  }
  return undefined;
}

/** Labels a ZITADEL pod needs beyond its own: the CockroachCluster's NetworkPolicy admits only its clients. */
export function databaseClientLabels(zitadel: Zitadel): Record<string, string> {
  const cockroach = zitadel.spec.database.cockroach;
  return cockroach === undefined ? {} : { [LABEL.cockroachClient]: cockroach.clusterRef.name };
}

/**
 * Pod fields from spec.scheduling and spec.imagePullSecrets; with `selector` (long-running pods) also the
 * anti-affinity and zone spread of the pods it selects.
 */
export function schedulingFields(
  zitadel: Zitadel,
  selector?: Record<string, string>,
): Record<string, unknown> {
  const scheduling: Scheduling = zitadel.spec.scheduling;
  const fields: Record<string, unknown> = {};
  if (zitadel.spec.imagePullSecrets !== undefined) {
    fields.imagePullSecrets = zitadel.spec.imagePullSecrets.map((ref) => ({ name: ref.name }));
  }
  if (scheduling.nodeSelector !== undefined) fields.nodeSelector = scheduling.nodeSelector;
  if (scheduling.tolerations !== undefined) fields.tolerations = scheduling.tolerations;
  if (scheduling.priorityClassName !== undefined) fields.priorityClassName = scheduling.priorityClassName;
  if (selector === undefined) return fields;
  // Copies, not shared references: each object stands alone for whoever serializes or mutates it.
  const term = () => ({
    labelSelector: { matchLabels: { ...selector } },
    topologyKey: "kubernetes.io/hostname",
  });
  if (scheduling.podAntiAffinity === "Required") {
    fields.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term()] } };
  } else if (scheduling.podAntiAffinity === "Preferred") {
    fields.affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term() }],
      },
    };
  }
  // Spread over zones where there are several; pod-template-hash keeps a rollout's new pods spread among themselves.
  fields.topologySpreadConstraints = [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: { ...selector } },
      matchLabelKeys: ["pod-template-hash"],
    },
  ];
  return fields;
}
