// renderZitadel for callers that have only resources, not a cluster: `zitadel-operator render` and CI. Without the
// reconciler's facts it shows the steady state of spec.version, with placeholders where the operator generates a
// value (passwords, keys). It never invents a masterkey: that Secret is rendered only by the reconciler, once.

import type { Resource } from "../../api/kinds.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { GRPC_PORT } from "../cockroach/topology.ts";
import { loginWanted } from "./config.ts";
import type { ResolvedDatabase, ZitadelRenderContext } from "./context.ts";
import { zitadelNamespace } from "./meta.ts";
import { renderZitadel } from "./render.ts";

/** Stands in for a value the operator generates or reads from a Secret; never a usable credential. */
export const PLACEHOLDER = "<set by zitadel-operator>";

/**
 * Where ZITADEL reaches a CockroachCluster: its public Service (publicServiceName in render/cockroach), by the
 * .svc name that its node certificates carry whatever the cluster's DNS domain (src/pki/names.ts).
 */
export function cockroachEndpoint(zitadel: Zitadel, namespace: string): { host: string; port: number } {
  const cluster = zitadel.spec.database.cockroach?.clusterRef.name ?? "";
  return { host: `${cluster}-public.${namespace}.svc`, port: GRPC_PORT };
}

function previewDatabase(zitadel: Zitadel, namespace: string): ResolvedDatabase {
  if (zitadel.spec.database.cockroach !== undefined) {
    return { kind: "cockroach", ...cockroachEndpoint(zitadel, namespace) };
  }
  const userSecret = zitadel.spec.database.postgres?.userSecretRef;
  return {
    kind: "postgres",
    username: userSecret === undefined ? "zitadel" : PLACEHOLDER,
    password: PLACEHOLDER,
  };
}

export function previewContext(zitadel: Zitadel, namespace?: string): ZitadelRenderContext {
  const ns = zitadelNamespace(zitadel, namespace === undefined ? {} : { namespace });
  return {
    namespace: ns,
    database: previewDatabase(zitadel, ns),
    migration: { migratedVersion: zitadel.spec.version, targetMigrated: true },
    ...(loginWanted(zitadel.spec)
      ? { loginKey: { publicKeyPem: PLACEHOLDER, privateKeyPem: PLACEHOLDER } }
      : {}),
  };
}

/**
 * The objects of a Zitadel for a caller holding resources: ctx.zitadel when the caller has the reconciler's facts,
 * else the preview context. `related` is accepted for symmetry with other kinds; a Zitadel needs none of it yet.
 */
export function renderZitadelResource(
  zitadel: Zitadel,
  ctx: { readonly related?: readonly Resource[]; readonly zitadel?: ZitadelRenderContext } = {},
): KubeObject[] {
  return renderZitadel(zitadel, ctx.zitadel ?? previewContext(zitadel));
}
