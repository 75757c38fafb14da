// The Login v2 UI (ZITADEL v3 and later): a Next.js app beside ZITADEL, served under /ui/v2/login.
//
// It calls ZITADEL's API as a system user whose key the operator made: ZITADEL has the public key in
// SystemAPIUsers (config.ts), the login pods the private key from <name>-login-key, and the app signs its own
// tokens with it (AUDIENCE, SYSTEM_USER_ID, SYSTEM_USER_PRIVATE_KEY; apps/login/VIRTUAL_INSTANCES.md in
// zitadel/zitadel). So no login-client PAT has to come out of `zitadel setup`: nothing needs a kubectl sidecar or
// the right to write Secrets, and the credential never expires or goes stale on a re-run (zitadel/zitadel-charts#446).

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import {
  externalUrl,
  LOGIN_BASE_PATH,
  LOGIN_PORT,
  LOGIN_SYSTEM_USER,
  tlsMode,
  ZITADEL_PORT,
} from "./config.ts";
import type { ZitadelRenderContext } from "./context.ts";
import { COMPONENT, childMeta, labels, names, selectorLabels, zitadelNamespace } from "./meta.ts";
import { basePodFields, CONTAINER_SECURITY_CONTEXT, loginImage, schedulingFields } from "./pod.ts";
import { LOGIN_PRIVATE_KEY_KEY } from "./secrets.ts";

export const LOGIN_PORT_NAME = "http";

const DEFAULT_RESOURCES = { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "256Mi" } };

export function renderLoginDeployment(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  version: string,
): KubeObject {
  const selector = selectorLabels(zitadel, COMPONENT.login);
  const { spec } = zitadel;
  const scheme = tlsMode(spec) === "enabled" ? "https" : "http";
  const api = `${scheme}://${names.service(zitadel)}.${zitadelNamespace(zitadel, ctx)}.svc:${ZITADEL_PORT}`;
  const probe = (path: string) => ({ httpGet: { path: `${LOGIN_BASE_PATH}${path}`, port: LOGIN_PORT_NAME } });
  const container = {
    name: "login",
    image: loginImage(zitadel, version),
    ...(spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: spec.imagePullPolicy }),
    env: [
      { name: "NEXT_PUBLIC_BASE_PATH", value: LOGIN_BASE_PATH },
      { name: "ZITADEL_API_URL", value: api },
      // ZITADEL picks the instance by host: the in-cluster call must name the public one (as the Helm chart does).
      {
        name: "CUSTOM_REQUEST_HEADERS",
        value: `Host:${spec.externalDomain},X-Zitadel-Public-Host:${spec.externalDomain}`,
      },
      { name: "AUDIENCE", value: externalUrl(spec) },
      { name: "SYSTEM_USER_ID", value: LOGIN_SYSTEM_USER },
      {
        name: "SYSTEM_USER_PRIVATE_KEY",
        valueFrom: { secretKeyRef: { name: names.loginKeySecret(zitadel), key: LOGIN_PRIVATE_KEY_KEY } },
      },
    ],
    ports: [{ name: LOGIN_PORT_NAME, containerPort: LOGIN_PORT, protocol: "TCP" }],
    // The Helm chart's probes: /healthy answers alone, /security needs ZITADEL.
    livenessProbe: { ...probe("/healthy"), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
    readinessProbe: { ...probe("/security"), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    resources: DEFAULT_RESOURCES,
    securityContext: CONTAINER_SECURITY_CONTEXT,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMeta(zitadel, ctx, { name: names.login(zitadel), component: COMPONENT.login, version }),
    spec: {
      replicas: spec.login.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { ...selector } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: labels(zitadel, COMPONENT.login, version) },
        spec: { ...basePodFields(zitadel), ...schedulingFields(zitadel, selector), containers: [container] },
      },
    },
  };
}

export function renderLoginService(zitadel: Zitadel, ctx: ZitadelRenderContext): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(zitadel, ctx, { name: names.login(zitadel), component: COMPONENT.login }),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(zitadel, COMPONENT.login),
      ports: [
        {
          name: LOGIN_PORT_NAME,
          port: LOGIN_PORT,
          targetPort: LOGIN_PORT_NAME,
          protocol: "TCP",
          appProtocol: "http",
        },
      ],
    },
  };
}
