// Where a CockroachCluster's nodes live and what they are called: one StatefulSet per region (one in total without
// regions), the Kubernetes cluster and namespace each runs in, and the DNS names nodes use to find each other.
// Everything else in render/cockroach builds on these names, and so do the node certificates (nodeCertificateNames)
// so that a name in --join or --advertise-addr is always a name the certificate carries.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { nodeSANs, type ServiceLocation, type SubjectAltNames } from "../../pki/names.ts";
import { clientSecretName, nodeSecretName } from "../../pki/secret-layout.ts";

/** The port CockroachDB serves both inter-node RPC and SQL on (the default of `cockroach start`). */
export const GRPC_PORT = 26257;
/** DB Console and the /health endpoints. */
export const HTTP_PORT = 8080;
/** Namespace of the operator's own pods when ctx does not say otherwise (src/install's default). */
export const DEFAULT_OPERATOR_NAMESPACE = "zitadel-operator";
// CockroachDB asks for 3-5 join addresses, more than one per region. Three per region, always (as the CockroachDB
// Helm chart does), means scaling never changes --join, which would restart every pod; the address of a pod that
// does not exist yet is harmless, a joining node tries the others.
// https://www.cockroachlabs.com/docs/v26.1/cockroach-start#networking
const JOIN_ADDRESSES_PER_REGION = 3;

/** What a RemoteCluster says about reaching the pods in it (its spec, or the defaults when none is known). */
export interface RemoteClusterLocation {
  /** Namespace the operator uses there; the CockroachCluster's namespace when unset. */
  readonly namespace?: string;
  /** The other cluster's DNS domain; cluster.local when unset. */
  readonly clusterDomain?: string;
  /** Suffix under which its Services resolve from elsewhere; svc.<clusterDomain> when unset. */
  readonly dnsSuffix?: string;
  /** Reachable addresses of its nodes (load balancers), used for --join instead of DNS names. */
  readonly advertisedAddresses?: readonly string[];
}

/** What the rendering needs that is not in the CockroachCluster spec. Every field is optional. */
export interface CockroachRenderContext {
  /** Namespace of the CockroachCluster when metadata.namespace is unset (render from files); default "default". */
  readonly namespace?: string;
  /**
   * RollingUpdate partition per StatefulSet name during an upgrade: pods with an ordinal at or above it get the new
   * template (rollingUpdateStep decides it). 0 when unset: the StatefulSet controller rolls every pod.
   */
  readonly partitions?: Readonly<Record<string, number>>;
  /**
   * Replicas per StatefulSet name when they must differ from the spec: during a scale-down the departing pods stay
   * until their nodes are decommissioned (scaleDownPlan decides when to lower it).
   */
  readonly replicas?: Readonly<Record<string, number>>;
  /** Secret names when they differ from pki's layout (<cluster>-node-certs, <cluster>-client-root). */
  readonly certificateSecrets?: { readonly node?: string; readonly rootClient?: string };
  /** RemoteCluster specs by name, for regions whose clusterRef names one. */
  readonly remoteClusters?: Readonly<Record<string, RemoteClusterLocation>>;
  /** Namespace the operator runs in, admitted by the NetworkPolicy; default "zitadel-operator". */
  readonly operatorNamespace?: string;
}

/** One StatefulSet: a region (or the whole cluster without regions) and where it runs. */
export interface Placement {
  /** The region's name; undefined for a cluster without regions. */
  readonly region: string | undefined;
  readonly zone: string | undefined;
  /** The RemoteCluster it runs in; undefined for this Kubernetes cluster. */
  readonly remoteCluster: string | undefined;
  readonly namespace: string;
  /** StatefulSet name, also the name of its headless Service (so a pod is <sts>-<i>.<sts>.<ns>.<dnsSuffix>). */
  readonly statefulSet: string;
  /** How the pods' DNS names end, as seen from every cluster: svc.<clusterDomain> unless the RemoteCluster says. */
  readonly dnsSuffix: string;
  readonly clusterDomain: string;
  /** Nodes the spec asks for. */
  readonly nodes: number;
  readonly advertisedAddresses: readonly string[];
}

/** A Kubernetes cluster (and namespace) that runs some of the placements; it gets its own Services, PDB and policy. */
export interface Target {
  readonly remoteCluster: string | undefined;
  readonly namespace: string;
  readonly placements: readonly Placement[];
}

export function clusterName(cluster: CockroachCluster): string {
  // The schema requires a name or a generateName; children need a fixed name, and render is called on stored
  // objects, which always have one.
  return cluster.metadata.name ?? "";
}

export function clusterNamespace(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): string {
  return cluster.metadata.namespace ?? ctx.namespace ?? "default";
}

export function publicServiceName(cluster: CockroachCluster): string {
  return `${clusterName(cluster)}-public`;
}

export function nodeCertificateSecretName(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
): string {
  return ctx.certificateSecrets?.node ?? nodeSecretName(clusterName(cluster));
}

export function rootClientSecretName(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): string {
  return ctx.certificateSecrets?.rootClient ?? clientSecretName(clusterName(cluster), "root");
}

/** Every StatefulSet of the cluster, in spec order (regions as listed). */
export function placements(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): Placement[] {
  const name = clusterName(cluster);
  const namespace = clusterNamespace(cluster, ctx);
  const domain = cluster.spec.clusterDomain;
  if (cluster.spec.regions === undefined) {
    return [
      {
        region: undefined,
        zone: undefined,
        remoteCluster: undefined,
        namespace,
        statefulSet: name,
        dnsSuffix: `svc.${domain}`,
        clusterDomain: domain,
        nodes: cluster.spec.nodes ?? 0,
        advertisedAddresses: [],
      },
    ];
  }
  return cluster.spec.regions.map((region): Placement => {
    const remoteName = region.clusterRef?.name;
    const remote = remoteName === undefined ? undefined : (ctx.remoteClusters?.[remoteName] ?? {});
    const remoteDomain = remote?.clusterDomain ?? "cluster.local";
    return {
      region: region.name,
      zone: region.zone,
      remoteCluster: remoteName,
      namespace: remote?.namespace ?? namespace,
      statefulSet: `${name}-${region.name}`,
      dnsSuffix: remote === undefined ? `svc.${domain}` : (remote.dnsSuffix ?? `svc.${remoteDomain}`),
      clusterDomain: remote === undefined ? domain : remoteDomain,
      nodes: region.nodes,
      advertisedAddresses: remote?.advertisedAddresses ?? [],
    };
  });
}

/** The placements grouped by the Kubernetes cluster they run in: this one first, then RemoteClusters by name. */
export function targets(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): Target[] {
  const byKey = new Map<string, Placement[]>();
  for (const placement of placements(cluster, ctx)) {
    const key = placement.remoteCluster ?? "";
    byKey.set(key, [...(byKey.get(key) ?? []), placement]);
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => (a === b ? 0 : a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1))
    .map(([, group]) => {
      const first = group[0] as Placement;
      return { remoteCluster: first.remoteCluster, namespace: first.namespace, placements: group };
    });
}

/**
 * Where operations (the init Job, SQL Jobs) run: next to the first region in this Kubernetes cluster, else next to
 * the first region. `cockroach init` must target a node listed in --join, which pod 0 of every region is.
 */
export function operationsPlacement(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): Placement {
  const all = placements(cluster, ctx);
  return (all.find((p) => p.remoteCluster === undefined) ?? all[0]) as Placement;
}

/** The fully qualified DNS name of one pod, as every cluster resolves it. */
export function podAddress(placement: Placement, ordinal: number): string {
  return `${placement.statefulSet}-${ordinal}.${placement.statefulSet}.${placement.namespace}.${placement.dnsSuffix}`;
}

/**
 * --advertise-addr: the pod's own name, filled in by the kubelet from the POD_NAME variable. Pods of a RemoteCluster
 * with advertisedAddresses advertise those instead (statefulset.ts picks one per ordinal).
 */
export function advertiseAddress(placement: Placement): string {
  return `$(POD_NAME).${placement.statefulSet}.${placement.namespace}.${placement.dnsSuffix}:${GRPC_PORT}`;
}

/** --join: three addresses per region, the same list for every StatefulSet, so all regions find each other. */
export function joinAddresses(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): string[] {
  const addresses: string[] = [];
  for (const placement of placements(cluster, ctx)) {
    if (placement.advertisedAddresses.length > 0) {
      for (const address of placement.advertisedAddresses.slice(0, JOIN_ADDRESSES_PER_REGION))
        addresses.push(withPort(address));
      continue;
    }
    for (let ordinal = 0; ordinal < JOIN_ADDRESSES_PER_REGION; ordinal++)
      addresses.push(`${podAddress(placement, ordinal)}:${GRPC_PORT}`);
  }
  return addresses;
}

// RemoteCluster.advertisedAddresses are host names or bare IP addresses (the API has no ports in them).
export function withPort(address: string): string {
  return address.includes(":") ? `[${address}]:${GRPC_PORT}` : `${address}:${GRPC_PORT}`;
}

/**
 * Service locations for pki's nodeSANs: each region's headless Service and the public Service next to it, as the
 * certificate must name them. Regions whose pods resolve under a custom dnsSuffix are covered by extra names
 * (nodeCertificateNames).
 */
export function nodeServiceLocations(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
): ServiceLocation[] {
  return placements(cluster, ctx).map((placement) => ({
    namespace: placement.namespace,
    publicService: publicServiceName(cluster),
    headlessService: placement.statefulSet,
    clusterDomain: placement.clusterDomain,
  }));
}

/** Every name the shared node certificate must carry for the addresses render/cockroach uses. */
export function nodeCertificateNames(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext = {},
): SubjectAltNames {
  const extraNames: string[] = [];
  for (const placement of placements(cluster, ctx)) {
    if (placement.dnsSuffix !== `svc.${placement.clusterDomain}`)
      extraNames.push(`*.${placement.statefulSet}.${placement.namespace}.${placement.dnsSuffix}`);
    for (const address of placement.advertisedAddresses) extraNames.push(address);
  }
  extraNames.push(...(cluster.spec.tls.extraSANs ?? []));
  return nodeSANs({ services: nodeServiceLocations(cluster, ctx), extraNames });
}
