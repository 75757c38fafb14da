// Secrets the operator generates for a Zitadel: the masterkey, the login UI's system-user key and the first admin's
// password, plus the configuration Secret. Render gets their values from the controller (which generates them once
// and reads them back afterwards); nothing random happens here.

import type { Zitadel } from "../../api/zitadel.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { CONFIG_KEY, type RenderedConfig, STEPS_KEY } from "./config.ts";
import type { SystemUserKey, ZitadelRenderContext } from "./context.ts";
import { COMPONENT, childMeta, names } from "./meta.ts";

export const MASTERKEY_KEY = "masterkey";
export const LOGIN_PRIVATE_KEY_KEY = "private-key";
export const INITIAL_ADMIN_PASSWORD_KEY = "password";

// 64 characters, so each byte's low six bits pick one without bias: 32 bytes give 32 characters, 192 bits.
const MASTERKEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The masterkey ZITADEL takes from ZITADEL_MASTERKEY: exactly 32 characters (cmd/key/masterkey.go). Random bytes
 * are not a valid environment value, so each becomes a character of a 64-letter alphabet.
 */
export function masterkeyFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 32) throw new Error(`a masterkey needs 32 random bytes, got ${bytes.length}`);
  return Array.from(bytes, (byte) => MASTERKEY_ALPHABET[byte & 63]).join("");
}

/** The Secret and key ZITADEL's masterkey is in: spec.masterkeySecretRef, or the operator's <name>-masterkey. */
export function masterkeySecretRef(zitadel: Zitadel): { name: string; key: string } {
  return zitadel.spec.masterkeySecretRef ?? { name: names.masterkeySecret(zitadel), key: MASTERKEY_KEY };
}

function data(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString("base64")]),
  );
}

/**
 * The generated masterkey. Immutable: data encrypted with it is unreadable under any other key, so nobody may edit
 * it by accident. No owner reference: the API promises it outlives the Zitadel ("never deletes it").
 */
export function renderMasterkeySecret(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  bytes: Uint8Array,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(zitadel, ctx, {
      name: names.masterkeySecret(zitadel),
      component: COMPONENT.credentials,
      owned: false,
    }),
    type: "Opaque",
    immutable: true,
    data: data({ [MASTERKEY_KEY]: masterkeyFromBytes(bytes) }),
  };
}

/** The login UI's private key, base64-encoded PEM as its SYSTEM_USER_PRIVATE_KEY wants it. */
export function renderLoginKeySecret(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  key: SystemUserKey,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(zitadel, ctx, { name: names.loginKeySecret(zitadel), component: COMPONENT.login }),
    type: "Opaque",
    data: data({ [LOGIN_PRIVATE_KEY_KEY]: Buffer.from(key.privateKeyPem).toString("base64") }),
  };
}

/** For the human who logs in first (user zitadel-admin of the first organization; ZITADEL asks to change it). */
export function renderInitialAdminSecret(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  password: string,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(zitadel, ctx, {
      name: names.initialAdminSecret(zitadel),
      component: COMPONENT.credentials,
    }),
    type: "Opaque",
    data: data({ [INITIAL_ADMIN_PASSWORD_KEY]: password }),
  };
}

export function renderConfigSecret(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  config: RenderedConfig,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(zitadel, ctx, {
      name: names.configSecret(zitadel, config),
      component: COMPONENT.config,
    }),
    type: "Opaque",
    data: data({ [CONFIG_KEY]: config.secret, [STEPS_KEY]: config.steps }),
  };
}

export function renderConfigMap(
  zitadel: Zitadel,
  ctx: ZitadelRenderContext,
  config: RenderedConfig,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: childMeta(zitadel, ctx, {
      name: names.configMap(zitadel, config),
      component: COMPONENT.config,
    }),
    data: { [CONFIG_KEY]: config.runtime },
  };
}
