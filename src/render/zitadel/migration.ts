// The migration Job: `zitadel init zitadel` then `zitadel setup`, for one version and one configuration.
//
// Setup must complete for a version before any pod of it starts; both commands are idempotent and setup resumes
// where a failed run stopped (https://zitadel.com/docs/self-hosting/manage/updating_scaling). One Job, init as its
// init container: the kubelet runs setup only after init succeeded, with no ordering state in the controller.
// The name carries the target version and a hash of what setup reads, so a new version or configuration makes a
// new Job and a reconcile that finds the Job already there (running, failed or done) never starts a second one.
//
// `init zitadel` (alias of `init schema` in recent versions) only creates ZITADEL's schemas and tables as
// ZITADEL's own role; creating the role and the database is the operator's (src/db/postgres-bootstrap.ts), so no
// ZITADEL pod ever holds the database admin's credentials.

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { PATHS, type RenderedConfig, STEPS_KEY } from "./config.ts";
import type { ZitadelRenderContext } from "./context.ts";
import { ANNOTATION, COMPONENT, childMeta, labels, sha256, zitadelName } from "./meta.ts";
import {
  basePodFields,
  CONTAINER_SECURITY_CONTEXT,
  configFiles,
  databaseClientLabels,
  masterkeyEnv,
  schedulingFields,
  zitadelImage,
  zitadelVolumes,
} from "./pod.ts";

// Job names become the pods' job-name label, which is at most 63 characters.
const MAX_JOB_NAME = 63;
const HASH_LENGTH = 8;

const DEFAULT_RESOURCES = { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "512Mi" } };

/**
 * <name>-setup-<version>-<hash8>: the version with dots as dashes (shortened if the name would pass 63
 * characters; the hash covers the full version), the hash over the version and RenderedConfig.migrationHash.
 */
export function setupJobName(zitadel: Zitadel, config: Pick<RenderedConfig, "migrationHash">): string {
  const { version } = zitadel.spec;
  // The image is part of what runs: fixing a broken image override must make a new Job, not find the failed one.
  const image = zitadelImage(zitadel, version);
  const hash = sha256(JSON.stringify({ version, image, config: config.migrationHash })).slice(0, HASH_LENGTH);
  const prefix = `${zitadelName(zitadel)}-setup-`;
  const room = MAX_JOB_NAME - prefix.length - HASH_LENGTH - 1;
  const slug = version
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, Math.max(room, 0))
    .replace(/-+$/, "");
  return slug === "" ? `${prefix}${hash}` : `${prefix}${slug}-${hash}`;
}

export function renderSetupJob(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  config: RenderedConfig,
): KubeObject {
  const { version } = zitadel.spec;
  const image = zitadelImage(zitadel, version);
  const { volumes, mounts } = zitadelVolumes(zitadel, true, config);
  const files = configFiles(zitadel);
  const pullPolicy =
    zitadel.spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: zitadel.spec.imagePullPolicy };
  const resources = zitadel.spec.resources ?? DEFAULT_RESOURCES;
  const init = {
    name: "init",
    image,
    ...pullPolicy,
    args: ["init", "zitadel", ...files.flatMap((file) => ["--config", file])],
    resources,
    securityContext: CONTAINER_SECURITY_CONTEXT,
    volumeMounts: mounts,
  };
  const setup = {
    name: "setup",
    image,
    ...pullPolicy,
    args: [
      "setup",
      "--masterkeyFromEnv",
      // Fill projections now rather than in the first minutes after start (zitadel/zitadel-charts#168).
      "--init-projections=true",
      // The Helm chart passes every file as both: FirstInstance settings in spec.config reach setup this way.
      ...files.flatMap((file) => ["--config", file, "--steps", file]),
      "--steps",
      `${PATHS.secrets}/${STEPS_KEY}`,
    ],
    env: [masterkeyEnv(zitadel)],
    resources,
    securityContext: CONTAINER_SECURITY_CONTEXT,
    volumeMounts: mounts,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: childMeta(zitadel, ctx, {
      name: setupJobName(zitadel, config),
      component: COMPONENT.migration,
      version,
      annotations: {
        [ANNOTATION.migrationVersion]: version,
        [ANNOTATION.migrationConfigHash]: config.migrationHash,
      },
    }),
    spec: {
      // Setup resumes where it stopped; a few retries ride out a database restart. No deadline: filling projections
      // of a large installation takes as long as it takes, and the controller reports a Job that keeps failing.
      backoffLimit: 3,
      template: {
        metadata: {
          labels: { ...labels(zitadel, COMPONENT.migration, version), ...databaseClientLabels(zitadel) },
        },
        spec: {
          ...basePodFields(zitadel),
          ...schedulingFields(zitadel),
          restartPolicy: "Never",
          initContainers: [init],
          containers: [setup],
          volumes,
        },
      },
    },
  };
}
