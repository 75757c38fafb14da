// The Zitadel reconciler, read top to bottom in the order things happen:
// validate the spec → deletion (and our finalizer, only with deletionPolicy.database: Delete) → the database
// (ZITADEL's role and database, bootstrapped with the admin's credentials, which go nowhere else) → generated
// Secrets (masterkey, first admin, login key; made once, read back ever after) → the migration (the setup Job for
// spec.version and the configuration: has it succeeded?) → apply what render says, holding the Deployment on the
// migrated version until it has → delete superseded setup Jobs → status.
// A Restore may hold the Zitadel (hold.ts): then every Deployment is applied at 0 replicas, nothing is generated
// and the status says which Restore holds it; setup still runs, so the restored database is migrated first.
// Every step returns a condition-ready { reason, message }; a step that fails stops the reconcile, says why in
// the status, and is retried with backoff. Nothing later runs on a half-known world.
import { createHash } from "node:crypto";
import type { Zitadel } from "../../api/zitadel.ts";
import { renderConfig } from "../../render/zitadel/config.ts";
import type { ZitadelRenderContext } from "../../render/zitadel/context.ts";
import { LABEL, names } from "../../render/zitadel/meta.ts";
import { renderZitadel } from "../../render/zitadel/render.ts";
import { Controller, type ReconcileResult } from "../../runtime/controller.ts";
import { hasFinalizer, removeFinalizer } from "../../runtime/finalizers.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { operatorMetrics } from "../../runtime/metrics.ts";
import { applyStatus } from "../../runtime/status.ts";
import type { ControllerOptions } from "../options.ts";
import { ourType } from "../our-type.ts";
import { validSpecOrReport, type WithStatus } from "../spec.ts";
import { BootstrapMemory, reconcileDatabase } from "./database.ts";
import { COCKROACH_CLUSTER } from "./database-cockroach.ts";
import { finalizeZitadel, reconcileFinalizer } from "./deletion.ts";
import { heldBy, heldMessage, withoutPods } from "./hold.ts";
import {
  deleteSupersededConfig,
  deleteSupersededJobs,
  downgradeRefused,
  observeMigration,
} from "./migration.ts";
import { applyObjects, deploymentState } from "./rollout.ts";
import { reconcileGeneratedSecrets } from "./secrets.ts";
import { StatusBuilder, type ZitadelStatusObject } from "./status.ts";
import { type SecretObject, type StepContext, type StepFailure, TYPES } from "./types.ts";

/** Retries of a failing step: 5 s, 10 s, 20 s … up to 5 minutes. */
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function zitadelController(opts: ControllerOptions): Controller<WithStatus> {
  const now = opts.now ?? (() => new Date());
  const failures = new Map<string, number>();
  const bootstrapped = new BootstrapMemory();
  const backoff = (key: string): ReconcileResult => {
    const n = (failures.get(key) ?? 0) + 1;
    failures.set(key, n);
    return { requeueAfterMs: Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (n - 1)) };
  };

  const controller: Controller<WithStatus> = new Controller<WithStatus>({
    name: "zitadel",
    client: opts.client,
    log: opts.log,
    for: ourType("Zitadel", "zitadels"),
    owns: [
      TYPES.serviceAccount,
      TYPES.configMap,
      TYPES.service,
      TYPES.deployment,
      TYPES.job,
      TYPES.podDisruptionBudget,
      TYPES.ingress,
    ],
    watches: [
      {
        // A Zitadel on CockroachDB waits for its cluster's certificates and initialization.
        type: COCKROACH_CLUSTER,
        map: (cluster) =>
          controller
            .list<KubeObject & { spec?: { database?: { cockroach?: { clusterRef?: { name?: string } } } } }>(
              ourType("Zitadel", "zitadels"),
              cluster.metadata?.namespace,
            )
            .filter((z) => z.spec?.database?.cockroach?.clusterRef?.name === cluster.metadata?.name)
            .map((z) => `${z.metadata?.namespace}/${z.metadata?.name}`),
      },
      {
        // Generated Secrets without an owner (masterkey, database password) are found by their labels.
        type: TYPES.secret,
        labelSelector: `${LABEL.managedBy}=zitadel-operator,${LABEL.partOf}=zitadel`,
        map: (secret) => {
          const instance = secret.metadata?.labels?.[LABEL.instance];
          return instance ? [`${secret.metadata?.namespace}/${instance}`] : [];
        },
      },
    ],
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics("zitadel"),
    reconcile: async ({ key, object, log }) => {
      if (!object) {
        failures.delete(key);
        return undefined;
      }
      const deleting = object.metadata?.deletionTimestamp !== undefined;
      if (deleting && !hasFinalizer(object)) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (resource?.kind !== "Zitadel") {
        // A spec we cannot read gives us nothing to clean up by: let the deletion proceed.
        if (deleting) await removeFinalizer(opts.client, object);
        return undefined;
      }
      const zitadel = resource as Zitadel;
      const namespace = object.metadata?.namespace ?? "default";
      const held = heldBy(object);
      const step: StepContext = {
        zitadel,
        object,
        namespace,
        client: opts.client,
        events: opts.events,
        ...(held === undefined ? {} : { heldBy: held }),
        cached: (type, name) => controller.get(type, namespace, name),
        cachedList: (type, labels) => controller.list(type, namespace, labels),
      };
      const previous = object.status as ZitadelStatusObject | undefined;
      const status = new StatusBuilder(zitadel, previous, now());

      // A step failed: say why, in the condition of that step and in Ready, and try again later.
      const stop = async (condition: string, failure: StepFailure): Promise<ReconcileResult> => {
        status
          .set(condition, "False", failure.reason, failure.message)
          .notReady(failure.reason, failure.message);
        if (await applyStatus(opts.client, object, status.build())) {
          await opts.events.record(object, {
            // Waiting for something on its way is no warning; a failure is.
            type: failure.requeueAfterMs === undefined ? "Warning" : "Normal",
            reason: failure.reason,
            action: condition,
            note: failure.message,
          });
        }
        const level = failure.requeueAfterMs === undefined ? "warn" : "info";
        log[level]("zitadel reconcile stopped", { step: condition, reason: failure.reason });
        if (failure.requeueAfterMs !== undefined) {
          failures.delete(key);
          return { requeueAfterMs: failure.requeueAfterMs };
        }
        return backoff(key);
      };

      // Deletion. Owned objects go with the Zitadel through Kubernetes' garbage collector; the database, its
      // role and the masterkey stay unless deletionPolicy says otherwise (deletion.ts).
      if (deleting) {
        const failure = await finalizeZitadel(step, bootstrapped);
        if (failure) return stop("Deleting", failure);
        failures.delete(key);
        return undefined;
      }
      await reconcileFinalizer(step);

      // The database: ZITADEL's role and database exist with exactly the grants it needs.
      const database = await reconcileDatabase(step, bootstrapped);
      if (!database.ok) return stop("DatabaseReady", database);
      status.set("DatabaseReady", "True", "Bootstrapped", database.message);

      // Generated Secrets. Render needs a context for their metadata only; the migration state comes next.
      const base: ZitadelRenderContext = {
        namespace,
        database: database.database,
        migration: { migratedVersion: previous?.migratedVersion, targetMigrated: false },
      };
      const generated = await reconcileGeneratedSecrets(step, base);
      if (!generated.ok) return stop("SecretsReady", generated);
      status.with({ masterkeySecretName: generated.masterkeySecretName });
      // Only a step that stopped once (e.g. HeldByRestore while a Restore replaced the masterkey) left this
      // condition; clear it then, and add none to a Zitadel that never had it.
      if (previous?.conditions?.some((c) => c.type === "SecretsReady"))
        status.set("SecretsReady", "True", "SecretsExist", "the generated and referenced Secrets exist");

      // The user's config Secret is read at start only: its hash in the pod template rolls the pods.
      let configSecretHash: string | undefined;
      const userConfig = zitadel.spec.configSecretRef;
      if (userConfig !== undefined) {
        const secret = await opts.client.get<SecretObject>(TYPES.secret, namespace, userConfig.name);
        if (secret?.data?.[userConfig.key] === undefined) {
          return stop("SecretsReady", {
            ok: false,
            reason: "ConfigSecretNotFound",
            message: `Secret ${userConfig.name} (spec.configSecretRef) does not exist or has no key "${userConfig.key}"`,
          });
        }
        configSecretHash = createHash("sha256")
          .update(secret.data[userConfig.key] ?? "")
          .digest("hex");
      }
      const withValues: ZitadelRenderContext = {
        ...base,
        initialAdminPassword: generated.initialAdminPassword,
        ...(generated.loginKey ? { loginKey: generated.loginKey } : {}),
        ...(configSecretHash ? { configSecretHash } : {}),
      };

      // The migration: setup for spec.version and this configuration, before any pod of it starts.
      const downgrade = downgradeRefused(zitadel, previous?.migratedVersion);
      if (downgrade) return stop("Migrated", downgrade);
      // The migration does not change the configuration: one rendering serves the Job name and the config names.
      const config = renderConfig(zitadel, withValues);
      const migration = await observeMigration(step, config, previous?.migratedVersion);
      status
        .with({ migratedVersion: migration.migratedVersion })
        .set("Migrated", migration.targetMigrated ? "True" : "False", migration.reason, migration.message);
      if (migration.migratedVersion !== previous?.migratedVersion) {
        // Recorded before any pod moves to it.
        await applyStatus(opts.client, object, status.build());
      }
      const ctx: ZitadelRenderContext = {
        ...withValues,
        migration: { migratedVersion: migration.migratedVersion, targetMigrated: migration.targetMigrated },
      };

      // Apply, in render's order; Deployments wait for the migration.
      const rendered = renderZitadel(zitadel, ctx);
      const rollout = await applyObjects(
        step,
        held === undefined ? rendered : withoutPods(rendered),
        migration.targetMigrated,
        held !== undefined,
      );
      if (rollout.applied.length > 0) log.info("applied", { objects: rollout.applied });
      if (migration.targetMigrated) await deleteSupersededJobs(step, migration.jobName);

      // Status: what serves, and whether everything asked for is done.
      const serving = deploymentState(step, names.deployment(zitadel));
      if (migration.targetMigrated) {
        await deleteSupersededConfig(
          step,
          { configMap: names.configMap(zitadel, config), secret: names.configSecret(zitadel, config) },
          serving?.deployment,
          serving?.complete ?? false,
        );
      }
      if (held !== undefined) {
        // Honest while held: not available, whatever a Deployment at 0 wanting 0 pods would count as.
        const message = heldMessage(held, zitadel.spec.replicas);
        status.with({ replicas: serving?.replicas ?? 0, readyReplicas: serving?.readyReplicas ?? 0 });
        status.set("Available", "False", "HeldByRestore", message).notReady("HeldByRestore", message);
      } else if (serving === undefined) {
        status.set(
          "Available",
          "False",
          "NoDeployment",
          "no ZITADEL pods yet: they start once setup for the first version succeeded",
        );
      } else {
        status.with({ replicas: serving.replicas, readyReplicas: serving.readyReplicas });
        if (serving.complete) status.with({ currentVersion: serving.version });
        status.set(
          "Available",
          serving.readyReplicas > 0 || serving.want === 0 ? "True" : "False",
          serving.readyReplicas > 0 || serving.want === 0 ? "PodsReady" : "PodsNotReady",
          `${serving.readyReplicas}/${serving.want} ZITADEL pods of ${serving.version} are ready`,
        );
      }
      if (held !== undefined) {
        // Said above; Ready stays False until the Restore released the Zitadel and its pods are back.
      } else if (!migration.targetMigrated) {
        status.notReady(migration.reason, migration.message);
      } else if (serving === undefined || !serving.complete || serving.version !== zitadel.spec.version) {
        status.notReady(
          "RollingOut",
          `Deployment ${names.deployment(zitadel)} is rolling out ${zitadel.spec.version}: ${serving?.readyReplicas ?? 0}/${zitadel.spec.replicas} pods ready`,
        );
      } else {
        status.set(
          "Ready",
          "True",
          "Running",
          `ZITADEL ${zitadel.spec.version} serves at ${status.build().url} with ${serving.readyReplicas}/${serving.want} pods ready`,
        );
      }
      await applyStatus(opts.client, object, status.build());
      failures.delete(key);
      return undefined;
    },
  });
  return controller;
}
