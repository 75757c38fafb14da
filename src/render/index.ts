// Resource -> the Kubernetes objects it consists of. Pure: `zitadel-operator render` and the reconcilers call the
// same functions, so what a pull request's CI renders is what the operator applies.

import { stringify } from "yaml";
import type { CockroachCluster } from "../api/cockroachcluster.ts";
import type { KindName, Resource, ResourceOf } from "../api/kinds.ts";
import type { KubeObject } from "../runtime/kube.ts";
import {
  type CockroachRenderContext,
  type RemoteClusterLocation,
  renderCockroachCluster,
} from "./cockroach/index.ts";
import { renderZitadelResource } from "./zitadel/index.ts";

export interface RenderContext {
  /**
   * Resources rendered together with this one (the same files, or the reconciler's cache), from which a renderer
   * takes what a reference names: the RemoteClusters of a CockroachCluster's regions.
   */
  readonly related?: readonly Resource[];
  /** What a CockroachCluster's rendering needs beyond its spec; `related` fills in remoteClusters. */
  readonly cockroach?: CockroachRenderContext;
}

type Renderer<K extends KindName> = (resource: ResourceOf<K>, ctx: RenderContext) => KubeObject[];

// One line per kind that becomes Kubernetes objects. Kinds without a line render nothing: RemoteCluster is an input
// of other kinds, and the reconcilers of Backup, BackupSchedule, Restore and GitSource create what they need.
const RENDERERS: { readonly [K in KindName]?: Renderer<K> } = {
  CockroachCluster: (cluster, ctx) => renderCockroachCluster(cluster, cockroachContext(cluster, ctx)),
  Zitadel: (zitadel, ctx) => renderZitadelResource(zitadel, ctx),
};

/** The objects `resource` consists of, in apply order; [] for kinds that render nothing. */
export function renderResource(resource: Resource, ctx: RenderContext = {}): KubeObject[] {
  const render = RENDERERS[resource.kind] as Renderer<KindName> | undefined;
  return render === undefined ? [] : render(resource, ctx);
}

/** Whether `kind` renders to Kubernetes objects. */
export function hasRenderer(kind: KindName): boolean {
  return RENDERERS[kind] !== undefined;
}

/** Objects as one multi-document YAML stream, as `zitadel-operator render` prints them. */
export function objectsToYaml(objects: readonly KubeObject[]): string {
  // No line folding (commands and scripts stay as written) and no anchors (kubectl and some tools reject them).
  return objects
    .map((obj) => `---\n${stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false })}`)
    .join("");
}

/** Objects as a kubectl-style List, as `zitadel-operator render -o json` prints them. */
export function objectsToJson(objects: readonly KubeObject[]): string {
  return `${JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2)}\n`;
}

function cockroachContext(cluster: CockroachCluster, ctx: RenderContext): CockroachRenderContext {
  const namespace = cluster.metadata.namespace;
  const remoteClusters: Record<string, RemoteClusterLocation> = {};
  for (const related of ctx.related ?? []) {
    // clusterRef names a RemoteCluster in the CockroachCluster's own namespace.
    if (related.kind !== "RemoteCluster" || related.metadata.namespace !== namespace) continue;
    const name = related.metadata.name;
    if (name === undefined) continue;
    remoteClusters[name] = {
      ...(related.spec.namespace === undefined ? {} : { namespace: related.spec.namespace }),
      clusterDomain: related.spec.clusterDomain,
      ...(related.spec.dnsSuffix === undefined ? {} : { dnsSuffix: related.spec.dnsSuffix }),
      ...(related.spec.advertisedAddresses === undefined
        ? {}
        : { advertisedAddresses: related.spec.advertisedAddresses }),
    };
  }
  return {
    ...ctx.cockroach,
    remoteClusters: { ...remoteClusters, ...ctx.cockroach?.remoteClusters },
  };
}
