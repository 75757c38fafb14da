// The ZITADEL server: its ServiceAccount (no API rights, no token), Deployment, Service and PodDisruptionBudget.

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { type RenderedConfig, type TlsMode, tlsMode, ZITADEL_PORT } from "./config.ts";
import type { ZitadelRenderContext } from "./context.ts";
import { ANNOTATION, COMPONENT, childMeta, labels, names, selectorLabels } from "./meta.ts";
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

export const PORT_NAME = "http2-server";

// Without spec.resources: enough for a small installation; memory limit = request, so no OOM kill under pressure.
const DEFAULT_RESOURCES = { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "512Mi" } };

/** ZITADEL's pods talk to no Kubernetes API: no RBAC, no token (the Helm chart's Secret-writing Role is not needed). */
export function renderServiceAccount(zitadel: Zitadel, ctx: ZitadelRenderContext): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: childMeta(zitadel, ctx, { name: names.serviceAccount(zitadel), component: COMPONENT.api }),
    automountServiceAccountToken: false,
  };
}

/** Probes of ZITADEL's /debug endpoints (https://zitadel.com/docs/apis/observability/health). */
function probes(zitadel: Zitadel, mode: TlsMode) {
  const httpGet = (path: string) => ({
    path,
    port: PORT_NAME,
    scheme: mode === "enabled" ? "HTTPS" : "HTTP",
    // As the Helm chart does: requests carry the instance's domain, as they would through the ingress.
    httpHeaders: [{ name: "Host", value: zitadel.spec.externalDomain }],
  });
  return {
    startupProbe: {
      httpGet: httpGet("/debug/ready"),
      periodSeconds: 2,
      timeoutSeconds: 2,
      failureThreshold: 60,
    },
    livenessProbe: {
      httpGet: httpGet("/debug/healthz"),
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: httpGet("/debug/ready"),
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
  };
}

/** Checksums of everything the pods read only at start: a change makes a new ReplicaSet. */
export function checksumAnnotations(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  config: RenderedConfig,
): Record<string, string> {
  return {
    [ANNOTATION.config]: config.runtimeHash,
    [ANNOTATION.secretConfig]: config.secretHash,
    ...(zitadel.spec.configSecretRef !== undefined && ctx.configSecretHash !== undefined
      ? { [ANNOTATION.userSecretConfig]: ctx.configSecretHash }
      : {}),
    ...(ctx.database.tlsHash === undefined ? {} : { [ANNOTATION.databaseTls]: ctx.database.tlsHash }),
  };
}

/**
 * `zitadel start` of `version`: the spec's version once its setup succeeded, the previous one until then
 * (https://zitadel.com/docs/self-hosting/manage/updating_scaling: setup runs before the new version starts).
 */
export function renderDeployment(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  config: RenderedConfig,
  version: string,
): KubeObject {
  const selector = selectorLabels(zitadel, COMPONENT.api);
  const { volumes, mounts } = zitadelVolumes(zitadel, false, config);
  const container = {
    name: "zitadel",
    image: zitadelImage(zitadel, version),
    ...(zitadel.spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: zitadel.spec.imagePullPolicy }),
    args: ["start", "--masterkeyFromEnv", ...configFiles(zitadel).flatMap((file) => ["--config", file])],
    env: [masterkeyEnv(zitadel)],
    ports: [{ name: PORT_NAME, containerPort: ZITADEL_PORT, protocol: "TCP" }],
    ...probes(zitadel, tlsMode(zitadel.spec)),
    resources: zitadel.spec.resources ?? DEFAULT_RESOURCES,
    securityContext: CONTAINER_SECURITY_CONTEXT,
    volumeMounts: mounts,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMeta(zitadel, ctx, { name: names.deployment(zitadel), component: COMPONENT.api, version }),
    spec: {
      // With an autoscaler the replica count is its to set; applying ours would fight it.
      ...(ctx.autoscaling === undefined ? { replicas: zitadel.spec.replicas } : {}),
      revisionHistoryLimit: 5,
      selector: { matchLabels: { ...selector } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { ...labels(zitadel, COMPONENT.api, version), ...databaseClientLabels(zitadel) },
          annotations: checksumAnnotations(zitadel, ctx, config),
        },
        spec: {
          ...basePodFields(zitadel),
          ...schedulingFields(zitadel, selector),
          containers: [container],
          volumes,
        },
      },
    },
  };
}

/** h2c: gRPC and HTTP on one port without TLS, so proxies must speak HTTP/2 to it (Kubernetes' appProtocol). */
export function renderService(zitadel: Zitadel, ctx: ZitadelRenderContext): KubeObject {
  const mode = tlsMode(zitadel.spec);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(zitadel, ctx, { name: names.service(zitadel), component: COMPONENT.api }),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(zitadel, COMPONENT.api),
      ports: [
        {
          name: PORT_NAME,
          port: ZITADEL_PORT,
          targetPort: PORT_NAME,
          protocol: "TCP",
          appProtocol: mode === "enabled" ? "https" : "kubernetes.io/h2c",
        },
      ],
    },
  };
}

/** One pod at a time through a drain: with two or more replicas ZITADEL stays up; with one a drain still proceeds. */
export function renderPodDisruptionBudget(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  name: string,
  component: string,
): KubeObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMeta(zitadel, ctx, { name, component }),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(zitadel, component) } },
  };
}
