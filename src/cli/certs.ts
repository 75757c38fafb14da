// `zitadel-operator certs status <cluster>`: every certificate of a CockroachCluster, read from its Secrets
// (not from status, which could lag), with names and expiry. Private keys are never read into the output.
import { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "commander";
import type { CockroachCluster } from "../api/index.ts";
import { API_VERSION } from "../api/index.ts";
import { clientUsers } from "../controllers/cockroachcluster/certificates.ts";

import {
  type CertificateInfo,
  caSecretName,
  certificateInfo,
  clientSecretName,
  formatDuration,
  nodeSecretName,
  splitPemCertificates,
} from "../pki/index.ts";
import { KubeClient, type KubeObject } from "../runtime/kube.ts";

const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };

export interface CertificateRow {
  certificate: string;
  secret: string;
  issuer: string;
  notAfter: string;
  expiresIn: string;
  names: string[];
}

export function registerCertsCommand(program: Command): void {
  const certs = program.command("certs").description("certificates of CockroachClusters");
  certs
    .command("status <cluster>")
    .description("print every certificate of a CockroachCluster: its Secret, issuer, names and expiry")
    .option("-n, --namespace <ns>", "namespace of the CockroachCluster (default: the kubeconfig context's)")
    .option("--kubeconfig <path>", "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config)")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (name: string, opts: { namespace?: string; kubeconfig?: string; output: string }) => {
      const kc = new KubeConfig();
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
      const namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
      const rows = await certificateRows(new KubeClient(kc), namespace, name, new Date());
      if (opts.output === "json") console.log(JSON.stringify(rows, null, 2));
      else printTable(rows);
    });
}

export async function certificateRows(
  client: KubeClient,
  namespace: string,
  name: string,
  now: Date,
): Promise<CertificateRow[]> {
  const type = await client.resourceType(API_VERSION, "CockroachCluster");
  const cluster = await client.get<KubeObject>(type, namespace, name);
  if (!cluster) throw new Error(`CockroachCluster ${namespace}/${name} not found`);
  const spec = cluster as unknown as CockroachCluster;
  const read = async (secret: string, key: string) => {
    const s = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, namespace, secret);
    const value = s?.data?.[key];
    return value ? Buffer.from(value, "base64").toString("utf8") : undefined;
  };
  const rows: CertificateRow[] = [];
  const add = (label: string, secret: string, info: CertificateInfo) =>
    rows.push({
      certificate: label,
      secret,
      issuer: /CN=([^,]*)/.exec(info.issuer)?.[1] ?? info.issuer,
      notAfter: info.notAfter.toISOString().replace(/\.\d+Z$/, "Z"),
      expiresIn: info.notAfter > now ? formatDuration(info.notAfter.getTime() - now.getTime()) : "EXPIRED",
      names: [...info.dnsNames, ...info.ipAddresses],
    });
  const nodeSecret = nodeSecretName(name);
  const bundle = (await read(nodeSecret, "ca.crt")) ?? "";
  const caSecret = spec.spec?.tls?.caSecretRef?.name ?? caSecretName(name);
  for (const [i, pem] of splitPemCertificates(bundle).entries()) {
    add(i === 0 ? "ca" : `ca.${i + 1}`, caSecret, certificateInfo(pem));
  }
  const node = await read(nodeSecret, "node.crt");
  if (node) add("node", nodeSecret, certificateInfo(node));
  for (const user of clientUsers(spec).sort()) {
    const secret = clientSecretName(name, user);
    const pem = await read(secret, `client.${user}.crt`);
    if (pem) add(`client.${user}`, secret, certificateInfo(pem));
  }
  if (rows.length === 0) throw new Error(`CockroachCluster ${namespace}/${name} has no certificates yet`);
  return rows;
}

function printTable(rows: CertificateRow[]): void {
  const table = [
    ["CERTIFICATE", "SECRET", "ISSUER", "NOT AFTER", "EXPIRES IN", "NAMES"],
    ...rows.map((r) => [
      r.certificate,
      r.secret,
      r.issuer,
      r.notAfter,
      r.expiresIn,
      r.names.length > 3
        ? `${r.names.slice(0, 3).join(",")} (+${r.names.length - 3} more)`
        : r.names.join(","),
    ]),
  ];
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of table)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}
