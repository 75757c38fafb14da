// How ZITADEL is reached and watched, all optional: Ingress (spec.ingress), HorizontalPodAutoscaler and
// ServiceMonitor (ctx: the API has no field for them yet, and the ServiceMonitor CRD may not be installed).

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { LOGIN_BASE_PATH, tlsMode } from "./config.ts";
import type { AutoscalingOptions, ZitadelRenderContext } from "./context.ts";
import { LOGIN_PORT_NAME } from "./login.ts";
import { COMPONENT, childMeta, names, selectorLabels } from "./meta.ts";
import { PORT_NAME } from "./zitadel.ts";

function ingress(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  options: { name: string; component: string; path: string; service: string; port: string },
  annotations: Record<string, string> | undefined,
): KubeObject {
  const { spec } = zitadel;
  const tls = spec.ingress.tlsSecretName ?? (spec.externalSecure ? null : undefined);
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: childMeta(zitadel, ctx, {
      name: options.name,
      component: options.component,
      ...(annotations === undefined || Object.keys(annotations).length === 0 ? {} : { annotations }),
    }),
    spec: {
      ...(spec.ingress.className === undefined ? {} : { ingressClassName: spec.ingress.className }),
      // HTTPS without a Secret: the controller's default certificate.
      ...(tls === undefined
        ? {}
        : { tls: [{ hosts: [spec.externalDomain], ...(tls === null ? {} : { secretName: tls }) }] }),
      rules: [
        {
          host: spec.externalDomain,
          http: {
            paths: [
              {
                path: options.path,
                pathType: "Prefix",
                backend: { service: { name: options.service, port: { name: options.port } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * The Ingress for externalDomain (gRPC and HTTP on one host), and with the login UI a second one for its path: one
 * Ingress per backend protocol, since annotations such as nginx's backend-protocol apply to a whole Ingress.
 */
export function renderIngresses(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  withLogin: boolean,
): KubeObject[] {
  const { annotations } = zitadel.spec.ingress;
  const objects = [
    ingress(
      zitadel,
      ctx,
      {
        name: names.ingress(zitadel),
        component: COMPONENT.api,
        path: "/",
        service: names.service(zitadel),
        port: PORT_NAME,
      },
      annotations,
    ),
  ];
  if (withLogin) {
    // The login UI speaks HTTP/1.1: gRPC or h2c backend annotations meant for ZITADEL would break it.
    const loginAnnotations = Object.fromEntries(
      Object.entries(annotations ?? {}).filter(([key]) => !/backend-protocol|serversscheme/i.test(key)),
    );
    objects.push(
      ingress(
        zitadel,
        ctx,
        {
          name: names.login(zitadel),
          component: COMPONENT.login,
          path: LOGIN_BASE_PATH,
          service: names.login(zitadel),
          port: LOGIN_PORT_NAME,
        },
        loginAnnotations,
      ),
    );
  }
  return objects;
}

export function renderHorizontalPodAutoscaler(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  options: AutoscalingOptions,
): KubeObject {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: childMeta(zitadel, ctx, {
      name: names.horizontalPodAutoscaler(zitadel),
      component: COMPONENT.api,
    }),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names.deployment(zitadel) },
      minReplicas: options.minReplicas,
      maxReplicas: options.maxReplicas,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: options.targetCPUUtilizationPercentage },
          },
        },
      ],
    },
  };
}

/** Prometheus Operator's ServiceMonitor for /debug/metrics (https://zitadel.com/docs/self-hosting/manage/metrics). */
export function renderServiceMonitor(zitadel: Zitadel, ctx: ZitadelRenderContext): KubeObject {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: childMeta(zitadel, ctx, { name: names.serviceMonitor(zitadel), component: COMPONENT.api }),
    spec: {
      selector: { matchLabels: selectorLabels(zitadel, COMPONENT.api) },
      endpoints: [
        {
          port: PORT_NAME,
          path: "/debug/metrics",
          scheme: tlsMode(zitadel.spec) === "enabled" ? "https" : "http",
          ...(tlsMode(zitadel.spec) === "enabled"
            ? { tlsConfig: { serverName: zitadel.spec.externalDomain } }
            : {}),
        },
      ],
    },
  };
}
