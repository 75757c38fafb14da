// The CockroachCluster reconciler, read top to bottom in the order things happen:
// validate the spec → certificates (CA, node, clients) → status. The node lifecycle (StatefulSets, init, scaling,
// upgrades; rendered by src/render/cockroach) joins after the certificates step, which it depends on.
import type { CockroachCluster } from "../../api/index.ts";
import { LABEL } from "../../render/cockroach/meta.ts";
import { Controller } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { KubeClient, ResourceType } from "../../runtime/kube.ts";
import type { Logger } from "../../runtime/log.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import { AWAITING_CONTROLLER, ourType } from "../pending.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import { reconcileCertificates, type SecretObject } from "./certificates.ts";

const SECRET: ResourceType = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
/** Renewal is time-driven: look again by the next due time, but at least hourly (and timers cap at ~24 days). */
const MAX_REQUEUE_MS = 60 * 60_000;

export function cockroachClusterController(opts: {
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
  now?: () => Date;
}): Controller<WithStatus> {
  const now = opts.now ?? (() => new Date());
  const controller: Controller<WithStatus> = new Controller<WithStatus>({
    name: "cockroachcluster",
    client: opts.client,
    log: opts.log,
    for: ourType("CockroachCluster", "cockroachclusters"),
    watches: [
      {
        // Our Secrets carry the cluster's name in a label; the CA Secret has no owner reference (see
        // certificates.ts), so labels, not owners, map Secrets to their cluster.
        type: SECRET,
        labelSelector: `${LABEL.managedBy}=zitadel-operator,${LABEL.cluster}`,
        map: (secret) => {
          const cluster = secret.metadata?.labels?.[LABEL.cluster];
          return cluster ? [`${secret.metadata?.namespace}/${cluster}`] : [];
        },
      },
    ],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("cockroachcluster"),
    reconcile: async ({ object, log }) => {
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "CockroachCluster") return undefined;
      const cluster = resource as CockroachCluster;
      const at = now();
      const generation = object.metadata?.generation;

      const certs = await reconcileCertificates({
        cluster,
        client: opts.client,
        events: opts.events,
        secrets: (ns, name) => controller.get<SecretObject>(SECRET, ns, name),
        now: at,
      });
      let conditions = object.status?.conditions;
      if (!certs.ok) {
        const message = certs.message;
        conditions = setCondition(
          conditions,
          { type: "CertificatesReady", status: "False", reason: certs.reason, message },
          generation,
          at,
        );
        conditions = setCondition(
          conditions,
          { type: "Ready", status: "False", reason: certs.reason, message },
          generation,
          at,
        );
        for (const c of certs.expiring) {
          await opts.events.record(object, {
            type: "Warning",
            reason: "CertificateExpiring",
            action: "RenewCertificate",
            note: `${c.name} in Secret ${c.secretName} expires at ${c.notAfter} and cannot be renewed: ${message}`,
          });
        }
        if (
          await applyStatus(opts.client, object, {
            ...object.status,
            observedGeneration: generation,
            conditions,
          })
        ) {
          await opts.events.record(object, {
            type: "Warning",
            reason: certs.reason,
            action: "IssueCertificate",
            note: message,
          });
        }
        log.warn("certificates cannot be issued", { reason: certs.reason });
        // A missing Secret does not bring an event we watch; look again soon (sooner when leaves are expiring).
        return { requeueAfterMs: certs.expiring.length > 0 ? 5_000 : 30_000 };
      }
      conditions = setCondition(
        conditions,
        {
          type: "CertificatesReady",
          status: "True",
          reason: "Issued",
          message: `the CA, the node certificate and ${certs.certificates.filter((c) => c.name.startsWith("client.")).length} client certificates are valid; next check at ${certs.nextCheckAt.toISOString()}`,
        },
        generation,
        at,
      );
      conditions = setCondition(
        conditions,
        {
          type: "Ready",
          status: "Unknown",
          reason: AWAITING_CONTROLLER,
          message:
            "certificates are issued and renewed; this version of the operator does not run CockroachDB nodes yet",
        },
        generation,
        at,
      );
      await applyStatus(opts.client, object, {
        ...object.status,
        observedGeneration: generation,
        conditions,
        certificates: certs.certificates,
      });
      const dueIn = certs.nextCheckAt.getTime() - at.getTime();
      return { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, dueIn)) };
    },
  });
  return controller;
}
