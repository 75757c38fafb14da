// Zitadels as a user would write them, parsed through the API (so defaults apply), and contexts for rendering.
import { parseResource } from "../../../../src/api/validate.ts";
import type { Zitadel } from "../../../../src/api/zitadel.ts";
import type { ZitadelRenderContext } from "../../../../src/render/zitadel/index.ts";

export function zitadel(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Zitadel {
  const result = parseResource({
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    metadata: { name: "auth", namespace: "iam", ...metadata },
    spec,
  });
  if (!result.ok) throw new Error(`invalid fixture: ${JSON.stringify(result.issues)}`);
  if (result.resource.kind !== "Zitadel") throw new Error("not a Zitadel");
  return result.resource;
}

/** Fixed stand-ins for generated material: render never parses keys, it only places them. */
export const MASTERKEY_BYTES = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
export const LOGIN_KEY = {
  publicKeyPem: "-----BEGIN PUBLIC KEY-----\nTEST-LOGIN-PUBLIC-KEY\n-----END PUBLIC KEY-----\n",
  privateKeyPem: "-----BEGIN PRIVATE KEY-----\nTEST-LOGIN-PRIVATE-KEY\n-----END PRIVATE KEY-----\n",
};
export const OPERATOR_PUBLIC_KEY =
  "-----BEGIN PUBLIC KEY-----\nTEST-OPERATOR-PUBLIC-KEY\n-----END PUBLIC KEY-----\n";
export const DB_PASSWORD = "generated-db-password-0123456789";
export const ADMIN_PASSWORD = "Initial-Admin-Password-1!";

export function postgresSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: "v4.13.0",
    externalDomain: "auth.example.com",
    database: {
      postgres: {
        host: "pg-rw",
        caSecretRef: { name: "pg-ca" },
        adminSecretRef: { name: "pg-superuser" },
      },
    },
    login: { enabled: true },
    ingress: { enabled: true, className: "nginx", tlsSecretName: "auth-example-com-tls" },
    ...overrides,
  };
}

export function cockroachSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: "v2.71.6",
    replicas: 3,
    externalDomain: "auth.example.com",
    database: { cockroach: { clusterRef: { name: "identity-db" } } },
    ...overrides,
  };
}

export function postgresContext(overrides: Partial<ZitadelRenderContext> = {}): ZitadelRenderContext {
  return {
    database: { kind: "postgres", username: "zitadel", password: DB_PASSWORD, tlsHash: "a".repeat(64) },
    migration: { migratedVersion: "v4.13.0", targetMigrated: true },
    loginKey: LOGIN_KEY,
    initialAdminPassword: ADMIN_PASSWORD,
    ...overrides,
  };
}

export function cockroachContext(overrides: Partial<ZitadelRenderContext> = {}): ZitadelRenderContext {
  return {
    database: {
      kind: "cockroach",
      host: "identity-db-public.iam.svc.cluster.local",
      port: 26257,
      tlsHash: "c".repeat(64),
    },
    migration: { migratedVersion: "v2.71.6", targetMigrated: true },
    initialAdminPassword: ADMIN_PASSWORD,
    ...overrides,
  };
}
