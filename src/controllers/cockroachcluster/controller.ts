// The CockroachCluster reconciler, read top to bottom in the order things happen:
// deletion (finalizer) → pause → validate the spec → finalizer → certificates (CA, node, clients) → is the version
// change allowed → observe the nodes → scale (decommission before lowering replicas) → upgrade (one pod at a time)
// → apply the children (ServiceAccount, Services, PDB, NetworkPolicy, StatefulSet, init Job) → init → finalize a
// major upgrade → status. Each step is a file of its own and returns a condition-ready {reason, message}; what must
// survive a restart lives in the cluster (status, the StatefulSet, the Jobs), never only in this process.

import type { Condition } from "../../api/conditions.ts";
import { type CockroachCluster, parseDuration } from "../../api/index.ts";
import {
  LABEL,
  podSelectorString,
  renderCockroachCluster,
  upgradePath,
} from "../../render/cockroach/index.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import { addFinalizer, hasFinalizer } from "../../runtime/finalizers.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";
import type { Logger } from "../../runtime/log.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { INVALID_SPEC, validSpecOrReport, type WithStatus } from "../spec.ts";
import {
  type CertificateStatus,
  type CertificatesOutcome,
  reconcileCertificates,
  type SecretObject,
} from "./certificates.ts";
import { applyChildren } from "./children.ts";
import type { StepContext } from "./context.ts";
import { reconcileDeletion } from "./deletion.ts";
import { finalizeStep } from "./finalize.ts";
import { initStep } from "./init.ts";
import { JOB, NETWORK_POLICY, PDB, POD, SECRET, SERVICE, SERVICE_ACCOUNT, STATEFULSET } from "./kinds.ts";
import { observeStatefulSets } from "./nodes.ts";
import { isPaused, NOT_PAUSED, reportPaused } from "./pause.ts";
import { scaleStep } from "./scale.ts";
import { lifecycleConditions } from "./status.ts";
import { upgradeStep } from "./upgrade.ts";
import { usersStep } from "./users.ts";

/** Renewal is time-driven: look again by the next due time, but at least hourly (and timers cap at ~24 days). */
const MAX_REQUEUE_MS = 60 * 60_000;

/** Maps an object carrying our cluster label (Secrets, node and Job pods) to its cluster's key. */
const byClusterLabel = (obj: KubeObject): string[] => {
  const cluster = obj.metadata?.labels?.[LABEL.cluster];
  return cluster ? [`${obj.metadata?.namespace}/${cluster}`] : [];
};

export function cockroachClusterController(opts: ControllerOptions): Controller<WithStatus> {
  const now = opts.now ?? (() => new Date());
  const ours = `${LABEL.managedBy}=zitadel-operator,${LABEL.cluster}`;
  const controller: Controller<WithStatus> = new Controller<WithStatus>({
    name: "cockroachcluster",
    client: opts.client,
    log: opts.log,
    for: ourType("CockroachCluster", "cockroachclusters"),
    owns: [STATEFULSET, SERVICE, PDB, SERVICE_ACCOUNT, NETWORK_POLICY, JOB],
    watches: [
      // The CA Secret has no owner reference (see certificates.ts), so labels, not owners, map Secrets.
      { type: SECRET, labelSelector: ours, map: byClusterLabel },
      // Node pods belong to the StatefulSet and Job pods to their Job: labels map them to the cluster, so a pod
      // becoming ready (or a Job pod printing its answer) wakes the reconcile.
      { type: POD, labelSelector: ours, map: byClusterLabel },
    ],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("cockroachcluster"),
    reconcile: async ({ object, log }) => {
      if (!object) return undefined;
      const at = now();
      if (object.metadata?.deletionTimestamp) {
        if (!hasFinalizer(object)) return undefined;
        const parsed = await validSpecOrReport(opts.client, opts.events, object);
        await reconcileDeletion({
          object,
          cluster: parsed?.kind === "CockroachCluster" ? (parsed as CockroachCluster) : undefined,
          client: opts.client,
          events: opts.events,
        });
        return undefined;
      }
      if (isPaused(object)) {
        await reportPaused(opts.client, opts.events, object, at);
        return undefined;
      }
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "CockroachCluster") return undefined;
      const cluster = resource as CockroachCluster;
      const generation = object.metadata?.generation;
      const status = object.status ?? {};
      // Before anything is created, so that a deletion always passes through reconcileDeletion.
      await addFinalizer(opts.client, object);

      const certs = await reconcileCertificates({
        cluster,
        client: opts.client,
        events: opts.events,
        secrets: (ns, name) => controller.get<SecretObject>(SECRET, ns, name),
        now: at,
      });
      let conditions = setCondition(status.conditions, NOT_PAUSED, generation, at);
      if (!certs.ok) return reportCertificatesFailed(opts, object, cluster, certs, conditions, at, log);
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
      const certsDueMs = Math.min(MAX_REQUEUE_MS, Math.max(1000, certs.nextCheckAt.getTime() - at.getTime()));
      const baseStatus = { ...status, observedGeneration: generation, certificates: certs.certificates };

      // Is the version change allowed? A refused one changes nothing in the cluster until the spec changes.
      const currentVersion = typeof status.currentVersion === "string" ? status.currentVersion : undefined;
      const finalizedVersion =
        typeof status.finalizedVersion === "string" ? status.finalizedVersion : undefined;
      const path = upgradePath(currentVersion, cluster.spec.version, { finalizedVersion });
      if (path.kind === "refused") {
        await reportRefusedVersion(opts, object, { ...baseStatus, conditions }, path.message, at);
        return { requeueAfterMs: certsDueMs };
      }

      const initializedBefore = status.initialized === true;
      const ctx: StepContext = {
        cluster,
        object,
        client: opts.client,
        cache: controller,
        events: opts.events,
        render: {},
        now: at,
      };
      const [sts] = observeStatefulSets(ctx);
      if (sts === undefined)
        throw new Error(
          `CockroachCluster ${object.metadata?.name} has no StatefulSet in this Kubernetes cluster`,
        );
      const scale = await scaleStep(ctx, sts, initializedBefore);
      const upgrade = await upgradeStep(ctx, path, sts, { currentVersion, scalingDown: scale.scalingDown });

      const name = sts.placement.statefulSet;
      const render = {
        replicas: { [name]: scale.replicas },
        ...(upgrade.partitions === undefined ? {} : { partitions: upgrade.partitions }),
      };
      const written = await applyChildren(
        { ...ctx, render },
        // Without the init Job: the init step applies it, after the StatefulSet, and only until init succeeded.
        renderCockroachCluster({ ...cluster, status: { ...cluster.status, initialized: true } }, render),
      );
      if (written > 0) log.info("applied children", { written });

      const init = await initStep(ctx, initializedBefore);
      // A new cluster runs the version it was created with; upgrades move currentVersion from then on.
      const runningVersion = upgrade.currentVersion ?? (init.initialized ? cluster.spec.version : undefined);
      const onVersion = sts.pods.filter((p) => p.ready && p.version === runningVersion).length;
      const finalize = await finalizeStep(ctx, {
        currentVersion: init.initialized ? runningVersion : undefined,
        finalizedVersion,
        rolloutComplete: !upgrade.upgrading && onVersion === scale.replicas,
      });

      const users = await usersStep(ctx, init.initialized, status.conditions);

      const readyNodes = sts.pods.filter((p) => p.ready).length;
      conditions = lifecycleConditions(
        conditions,
        {
          desiredNodes: sts.placement.nodes,
          nodes: sts.pods.length,
          readyNodes,
          currentVersion: runningVersion,
          init,
          scale,
          upgrade,
          finalize,
        },
        generation,
        at,
      );
      if (users.condition) conditions = setCondition(conditions, users.condition, generation, at);
      await applyStatus(opts.client, object, {
        ...baseStatus,
        conditions,
        initialized: init.initialized,
        nodes: sts.pods.length,
        readyNodes,
        ...(runningVersion === undefined ? {} : { currentVersion: runningVersion }),
        ...(finalize.finalizedVersion === undefined ? {} : { finalizedVersion: finalize.finalizedVersion }),
        selector: podSelectorString(cluster),
      });
      const waits = [
        certsDueMs,
        scale.requeueAfterMs,
        upgrade.requeueAfterMs,
        finalize.requeueAfterMs,
        users.requeueAfterMs,
      ];
      if (!init.initialized) waits.push(init.failed ? 30_000 : 5_000);
      return { requeueAfterMs: Math.min(...waits.filter((w) => w !== undefined)) };
    },
  });
  return controller;
}

interface Reporting {
  client: KubeClient;
  events: EventRecorder;
}

/** Certificates cannot be issued: CertificatesReady and Ready say why, and Warnings name leaves that will expire. */
async function reportCertificatesFailed(
  opts: Reporting,
  object: WithStatus,
  cluster: CockroachCluster,
  certs: Extract<CertificatesOutcome, { ok: false }>,
  previous: Condition[],
  at: Date,
  log: Logger,
): Promise<ReconcileResult> {
  const generation = object.metadata?.generation;
  const message = certs.message;
  let conditions = setCondition(
    previous,
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
    await applyStatus(opts.client, object, { ...object.status, observedGeneration: generation, conditions })
  ) {
    await opts.events.record(object, {
      type: "Warning",
      reason: certs.reason,
      action: "IssueCertificate",
      note: message,
    });
  }
  log.warn("certificates cannot be issued", { reason: certs.reason });
  // A missing Secret does not bring an event we watch; look again soon: sooner when leaves are expiring, and no
  // later than the moment the first leaf enters its renew window (to warn that it will expire un-renewed).
  if (certs.expiring.length > 0) return { requeueAfterMs: 5_000 };
  const renewBeforeMs = parseDuration(cluster.spec.tls.renewBefore) ?? 0;
  const firstRenewal = Math.min(
    ...((object.status?.certificates as CertificateStatus[] | undefined) ?? [])
      .map((c) => Date.parse(c.notAfter) - renewBeforeMs)
      .filter(Number.isFinite),
  );
  return { requeueAfterMs: Math.max(1_000, Math.min(30_000, firstRenewal - at.getTime())) };
}

/** spec.version cannot be reached from the running version: Upgrading and Ready say why; nothing else changes. */
async function reportRefusedVersion(
  opts: Reporting,
  object: WithStatus,
  status: Record<string, unknown> & { conditions: Condition[] },
  message: string,
  at: Date,
): Promise<void> {
  let conditions = status.conditions;
  for (const type of ["Upgrading", "Ready"])
    conditions = setCondition(
      conditions,
      { type, status: "False", reason: INVALID_SPEC, message },
      object.metadata?.generation,
      at,
    );
  if (await applyStatus(opts.client, object, { ...status, conditions }))
    await opts.events.record(object, {
      type: "Warning",
      reason: INVALID_SPEC,
      action: "Validate",
      note: message,
    });
}
