// RemoteCluster: the connection to another Kubernetes cluster that regions of a CockroachCluster or Zitadel run
// in. This controller proves the connection works before anything depends on it: it reads the kubeconfig from
// its Secret (held to inline credentials: clusters/kubeconfig.ts), asks the other API server for its version,
// and asks it (SelfSubjectRulesReview) whether the operator may create and manage the objects of a region in the
// target namespace, naming every right that is missing. Ready says which step failed and why; an Event marks each
// change. It checks again every few minutes (reads only: an unchanged result writes nothing) and sooner while it
// fails, as a Secret being fixed brings no event of ours (Secrets are not cached, to keep their values out of the
// operator's memory).

import type { RemoteCluster } from "../../api/remotecluster.ts";
import { parseRemoteKubeconfig } from "../../clusters/kubeconfig.ts";
import { describeRights, missingRights, type ResourceRule } from "../../clusters/rights.ts";
import { Controller } from "../../runtime/controller.ts";
import { ApiError, KubeClient, type KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus, setCondition } from "../../runtime/status.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";

const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
const NAMESPACE = { apiVersion: "v1", kind: "Namespace", plural: "namespaces", namespaced: false };
const RECHECK_MS = 5 * 60_000;
const RETRY_MS = 30_000;
const REMOTE_TIMEOUT_MS = 10_000;

export type ConnectionOutcome =
  | { readonly ok: true; readonly serverVersion: string; readonly message: string }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly message: string;
      readonly serverVersion?: string;
    };

export function remoteClusterController(opts: ControllerOptions): Controller<WithStatus> {
  const now = opts.now ?? (() => new Date());
  return new Controller<WithStatus>({
    name: "remotecluster",
    client: opts.client,
    log: opts.log,
    for: ourType("RemoteCluster", "remoteclusters"),
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("remotecluster"),
    reconcile: async ({ object, log }) => {
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "RemoteCluster") return undefined;
      const remote = resource as RemoteCluster;
      const outcome = await checkConnection(opts.client, remote);
      const generation = object.metadata?.generation;
      const changed = await applyStatus(opts.client, object, {
        ...object.status,
        observedGeneration: generation,
        ...(outcome.serverVersion === undefined ? {} : { serverVersion: outcome.serverVersion }),
        conditions: setCondition(
          object.status?.conditions,
          outcome.ok
            ? { type: "Ready", status: "True", reason: "Connected", message: outcome.message }
            : { type: "Ready", status: "False", reason: outcome.reason, message: outcome.message },
          generation,
          now(),
        ),
      });
      if (changed) {
        await opts.events.record(object, {
          type: outcome.ok ? "Normal" : "Warning",
          reason: outcome.ok ? "Connected" : outcome.reason,
          action: "Connect",
          note: outcome.message,
        });
        if (!outcome.ok) log.warn("remote cluster not ready", { reason: outcome.reason });
      }
      return { requeueAfterMs: outcome.ok ? RECHECK_MS : RETRY_MS };
    },
  });
}

/** Reads the kubeconfig, reaches the other API server and checks the operator's rights in the target namespace. */
export async function checkConnection(home: KubeClient, remote: RemoteCluster): Promise<ConnectionOutcome> {
  const ref = remote.spec.kubeconfigSecretRef;
  const source = `key ${ref.key} of Secret ${ref.name}`;
  const secret = await home.get<KubeObject & { data?: Record<string, string> }>(
    SECRET,
    remote.metadata.namespace,
    ref.name,
  );
  const encoded = secret?.data?.[ref.key];
  if (encoded === undefined) {
    return {
      ok: false,
      reason: "KubeconfigSecretNotFound",
      message: `Secret ${ref.name} (spec.kubeconfigSecretRef) ${secret === undefined ? "does not exist" : `has no key ${ref.key}`}`,
    };
  }
  const parsed = parseRemoteKubeconfig(Buffer.from(encoded, "base64").toString("utf8"), source);
  if (!parsed.ok) return parsed;

  const client = new KubeClient(parsed.kubeConfig, { timeoutMs: REMOTE_TIMEOUT_MS });
  const namespace = remote.spec.namespace ?? remote.metadata.namespace ?? "default";
  let serverVersion: string;
  try {
    serverVersion = await client.serverVersion();
  } catch (error) {
    return unreachable(parsed.server, error);
  }
  try {
    // Cluster-scoped: a Role in the target namespace does not let us read its Namespace, so 403 says nothing.
    if ((await client.get(NAMESPACE, undefined, namespace)) === undefined) {
      return {
        ok: false,
        reason: "RemoteNamespaceNotFound",
        serverVersion,
        message: `namespace ${namespace} does not exist in the cluster at ${parsed.server}; create it (spec.namespace)`,
      };
    }
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403))
      return unreachable(parsed.server, error, serverVersion);
  }
  let review: { status?: { resourceRules?: ResourceRule[]; incomplete?: boolean } };
  try {
    // A review is computed and returned, never stored: create is its only verb, so there is nothing to apply.
    review = await client.create({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectRulesReview",
      metadata: {},
      spec: { namespace },
    } as KubeObject);
  } catch (error) {
    return unreachable(parsed.server, error, serverVersion);
  }
  const missing = missingRights(review.status?.resourceRules ?? []);
  if (missing.length > 0 && review.status?.incomplete !== true) {
    return {
      ok: false,
      reason: "MissingRights",
      serverVersion,
      message: `in namespace ${namespace} of the cluster at ${parsed.server}, the kubeconfig's user may not: ${describeRights(missing)} (zitadel-operator install --remote-role prints the Role to grant)`,
    };
  }
  return {
    ok: true,
    serverVersion,
    message:
      `Kubernetes ${serverVersion} at ${parsed.server}, namespace ${namespace}` +
      (missing.length > 0
        ? `; its authorizer could not list every rule, so ${missing.length} rights are unconfirmed: ${describeRights(missing)}`
        : "; every right the operator needs there is granted"),
  };
}

function unreachable(server: string, error: unknown, serverVersion?: string): ConnectionOutcome {
  const version = serverVersion === undefined ? {} : { serverVersion };
  if (error instanceof ApiError && error.status === 401) {
    return {
      ok: false,
      reason: "Unauthorized",
      ...version,
      message: `the API server at ${server} does not accept the kubeconfig's credentials (401)`,
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  const detail =
    error instanceof ApiError
      ? `HTTP ${error.status}${error.reason ? ` ${error.reason}` : ""}`
      : typeof code === "string"
        ? `${code}${error instanceof Error && !error.message.includes(code) ? `: ${error.message}` : ""}`
        : error instanceof Error
          ? error.message
          : String(error);
  return {
    ok: false,
    reason: "Unreachable",
    ...version,
    message: `cannot reach the API server at ${server}: ${detail}`,
  };
}
