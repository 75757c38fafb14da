import { canonicalIp } from "./ip-address.ts";

/** Where one region's CockroachDB pods live, as seen from inside a Kubernetes cluster. */
export interface ServiceLocation {
  readonly namespace: string;
  /** The Service clients use (load-balanced over all pods). */
  readonly publicService: string;
  /** The headless Service that gives each pod a name (<pod>.<headless>.<ns>.svc.<domain>). */
  readonly headlessService: string;
  /** The cluster's DNS domain, usually "cluster.local". */
  readonly clusterDomain: string;
}

export interface NodeNameParams {
  /** This region's Services, then those of every other region that joins the same CockroachDB cluster. */
  readonly services: readonly ServiceLocation[];
  /** Extra DNS names or IP addresses from the spec: load balancers, ingress hosts, cross-cluster DNS names. */
  readonly extraNames?: readonly string[];
}

export interface SubjectAltNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/**
 * Every name a node answers to. Clients reach a node through the public Service and peers through the pod's
 * name under the headless Service (CockroachDB's --advertise-addr), at whichever level of qualification their
 * resolver uses, so each appears short, with namespace, with .svc and fully qualified. localhost and the loopback
 * addresses serve `cockroach` commands run inside the pod. Names are lower-case, unique, in a stable order.
 */
export function nodeSANs(params: NodeNameParams): SubjectAltNames {
  const dnsNames = new Set<string>(["localhost"]);
  const ipAddresses = new Set<string>(["127.0.0.1", "::1"]);
  for (const location of params.services) {
    for (const suffix of qualifications(location))
      dnsNames.add(`${location.publicService}${suffix}`.toLowerCase());
    for (const suffix of qualifications(location)) {
      dnsNames.add(`*.${location.headlessService}${suffix}`.toLowerCase());
    }
  }
  for (const name of params.extraNames ?? []) {
    const ip = canonicalIp(name);
    if (ip !== undefined) ipAddresses.add(ip);
    else dnsNames.add(name.toLowerCase());
  }
  return { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] };
}

function qualifications(location: ServiceLocation): string[] {
  const ns = location.namespace;
  return ["", `.${ns}`, `.${ns}.svc`, `.${ns}.svc.${location.clusterDomain}`];
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The entries of `names` that are neither an IP address nor a DNS name (optionally with a leading "*."). */
export function invalidNames(names: readonly string[]): string[] {
  return names.filter((name) => canonicalIp(name) === undefined && !isDnsName(name));
}

function isDnsName(name: string): boolean {
  const lower = name.toLowerCase();
  const body = lower.startsWith("*.") ? lower.slice(2) : lower;
  return body.length > 0 && lower.length <= 253 && body.split(".").every((label) => LABEL.test(label));
}

/** Whether two name sets are equal, ignoring order, letter case and IP spelling. */
export function sameNames(a: SubjectAltNames, b: SubjectAltNames): boolean {
  return sameSet(normalize(a), normalize(b));
}

function normalize(names: SubjectAltNames): Set<string> {
  return new Set([
    ...names.dnsNames.map((name) => `dns:${name.toLowerCase()}`),
    ...names.ipAddresses.map((ip) => `ip:${canonicalIp(ip) ?? ip}`),
  ]);
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}
