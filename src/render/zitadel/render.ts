// A Zitadel as the Kubernetes objects that run it, in the order to apply them. Pure: what is not in the spec (the
// database endpoint, generated keys, whether setup for the target version has succeeded) comes in through ctx.

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { loginWanted, renderConfig } from "./config.ts";
import type { ZitadelRenderContext } from "./context.ts";
import { renderHorizontalPodAutoscaler, renderIngresses, renderServiceMonitor } from "./exposure.ts";
import { renderLoginDeployment, renderLoginService } from "./login.ts";
import { COMPONENT, names } from "./meta.ts";
import { renderSetupJob } from "./migration.ts";
import {
  renderConfigMap,
  renderConfigSecret,
  renderInitialAdminSecret,
  renderLoginKeySecret,
  renderMasterkeySecret,
} from "./secrets.ts";
import {
  renderDeployment,
  renderPodDisruptionBudget,
  renderService,
  renderServiceAccount,
} from "./zitadel.ts";

/**
 * The version the ZITADEL (and login) pods run: spec.version once its setup succeeded, the last migrated version
 * while setup for a new one runs, and none before the first setup (ZITADEL cannot start on an empty database).
 */
export function servingVersion(zitadel: Zitadel, ctx: ZitadelRenderContext): string | undefined {
  return ctx.migration.targetMigrated ? zitadel.spec.version : ctx.migration.migratedVersion;
}

/**
 * Every object of a Zitadel in apply order: identity and credentials, configuration, the migration Job while setup
 * for the target has not succeeded, then the workloads and what exposes them. Throws only on a ctx that does not
 * fit the spec (a bug in the caller), never on the spec itself, which the API has validated.
 */
export function renderZitadel(zitadel: Zitadel, ctx: ZitadelRenderContext): KubeObject[] {
  const { spec } = zitadel;
  const config = renderConfig(zitadel, ctx);
  const version = servingVersion(zitadel, ctx);
  // The login UI runs beside a ZITADEL of its own version, so not while a v2 still serves during the move to v3+.
  const loginVersion = version !== undefined && loginWanted(spec, version) ? version : undefined;

  const objects: KubeObject[] = [renderServiceAccount(zitadel, ctx)];
  if (spec.masterkeySecretRef === undefined && ctx.newMasterkey !== undefined) {
    objects.push(renderMasterkeySecret(zitadel, ctx, ctx.newMasterkey));
  }
  if (ctx.initialAdminPassword !== undefined) {
    objects.push(renderInitialAdminSecret(zitadel, ctx, ctx.initialAdminPassword));
  }
  if (loginWanted(spec) && ctx.loginKey !== undefined) {
    objects.push(renderLoginKeySecret(zitadel, ctx, ctx.loginKey));
  }
  objects.push(renderConfigMap(zitadel, ctx, config), renderConfigSecret(zitadel, ctx, config));

  if (!ctx.migration.targetMigrated) objects.push(renderSetupJob(zitadel, ctx, config));

  objects.push(renderService(zitadel, ctx));
  if (version !== undefined) objects.push(renderDeployment(zitadel, ctx, config, version));
  objects.push(renderPodDisruptionBudget(zitadel, ctx, names.podDisruptionBudget(zitadel), COMPONENT.api));

  if (loginVersion !== undefined) {
    objects.push(
      renderLoginService(zitadel, ctx),
      renderLoginDeployment(zitadel, ctx, loginVersion),
      renderPodDisruptionBudget(zitadel, ctx, names.login(zitadel), COMPONENT.login),
    );
  }
  if (spec.ingress.enabled) objects.push(...renderIngresses(zitadel, ctx, loginVersion !== undefined));
  if (ctx.autoscaling !== undefined)
    objects.push(renderHorizontalPodAutoscaler(zitadel, ctx, ctx.autoscaling));
  if (ctx.serviceMonitor === true) objects.push(renderServiceMonitor(zitadel, ctx));
  // Builders share constants (security contexts, resources, mounts); callers get objects that share nothing.
  return objects.map((object) => JSON.parse(JSON.stringify(object)) as KubeObject);
}
