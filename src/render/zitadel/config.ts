// ZITADEL's configuration files: zitadel.yaml in a ConfigMap for everything that is not secret, and a Secret with
// the ZITADEL role's password (runtime) and the first instance's admin password (setup only). Admin credentials of
// the database never appear here: the operator bootstraps the database itself (src/db/postgres-bootstrap.ts).
// Keys follow https://zitadel.com/docs/self-hosting/manage/configure and cmd/defaults.yaml.

import { stringify } from "yaml";
import type { Zitadel, ZitadelSpec } from "../../api/zitadel.ts";
import { clientCertKey, clientKeyKey } from "../../pki/secret-layout.ts";
import type { ZitadelRenderContext } from "./context.ts";
import { sha256 } from "./meta.ts";

/** The port ZITADEL serves gRPC, REST, the console and /debug on (HTTP/1.1 and h2c, or TLS). */
export const ZITADEL_PORT = 8080;
export const LOGIN_PORT = 3000;
/** Where the Login v2 UI is served, by the separate login app (https://zitadel.com/docs/self-hosting/manage/login-client). */
export const LOGIN_BASE_PATH = "/ui/v2/login";
/** The system user the login UI authenticates as (apps/login/VIRTUAL_INSTANCES.md in zitadel/zitadel). */
export const LOGIN_SYSTEM_USER = "zitadel-login";
export const OPERATOR_SYSTEM_USER = "zitadel-operator";

export const CONFIG_KEY = "zitadel.yaml";
/** Key of the operator's config Secret that only the setup Job mounts (FirstInstance). */
export const STEPS_KEY = "steps.yaml";

/** Where the pods find their files. */
export const PATHS = {
  config: "/etc/zitadel/config",
  secrets: "/etc/zitadel/secrets",
  userSecrets: "/etc/zitadel/user-secrets",
  databaseTls: "/etc/zitadel/database-tls",
} as const;
export const USER_SECRET_FILE = "config.yaml";
export const DATABASE_CA_FILE = "ca.crt";

/**
 * How TLS is split between ZITADEL and what is in front of it (https://zitadel.com/docs/self-hosting/manage/tls_modes):
 * `external` – users reach it over HTTPS, a proxy terminates TLS, ZITADEL serves h2c; `disabled` – plain HTTP
 * end to end; `enabled` – ZITADEL serves TLS itself (TLS.Enabled plus its key and certificate in spec.config or
 * spec.configSecretRef).
 */
export type TlsMode = "disabled" | "external" | "enabled";

export function tlsMode(spec: ZitadelSpec): TlsMode {
  const tls = spec.config?.TLS;
  if (isRecord(tls) && tls.Enabled === true) return "enabled";
  return spec.externalSecure ? "external" : "disabled";
}

/** Where users reach ZITADEL: its issuer, and the audience of system-user tokens. */
export function externalUrl(spec: ZitadelSpec): string {
  const scheme = spec.externalSecure ? "https" : "http";
  const defaultPort = spec.externalSecure ? 443 : 80;
  const port = spec.externalPort === defaultPort ? "" : `:${spec.externalPort}`;
  return `${scheme}://${spec.externalDomain}${port}`;
}

/** ZITADEL v3 dropped CockroachDB and introduced the separate login UI (zitadel/zitadel#9414). */
export function hasLoginV2(version: string): boolean {
  return !version.startsWith("v1.") && !version.startsWith("v2.");
}

/** Whether the spec asks for the login UI and its version has one. */
export function loginWanted(spec: ZitadelSpec, version = spec.version): boolean {
  return spec.login.enabled && hasLoginV2(version);
}

/** The database section, for the key ZITADEL reads: Database.postgres or Database.cockroach. */
function databaseConfig(zitadel: Zitadel, ctx: ZitadelRenderContext): Record<string, unknown> {
  const { database } = zitadel.spec;
  if (database.postgres !== undefined) {
    const pg = database.postgres;
    if (ctx.database.kind !== "postgres")
      throw new Error("spec.database.postgres needs a postgres ctx.database");
    const ssl: Record<string, unknown> = { Mode: pg.sslMode };
    if (pg.caSecretRef !== undefined) ssl.RootCert = `${PATHS.databaseTls}/${DATABASE_CA_FILE}`;
    return {
      postgres: {
        Host: pg.host,
        Port: pg.port,
        Database: pg.database,
        User: { Username: ctx.database.username, SSL: ssl },
      },
    };
  }
  if (database.cockroach !== undefined) {
    const crdb = database.cockroach;
    if (ctx.database.kind !== "cockroach")
      throw new Error("spec.database.cockroach needs a cockroach ctx.database");
    // Client certificate authentication: the files of <cluster>-client-<user> (src/pki/secret-layout.ts).
    return {
      cockroach: {
        Host: ctx.database.host,
        Port: ctx.database.port,
        Database: crdb.database,
        User: {
          Username: crdb.user,
          SSL: {
            Mode: "verify-full",
            RootCert: `${PATHS.databaseTls}/ca.crt`,
            Cert: `${PATHS.databaseTls}/${clientCertKey(crdb.user)}`,
            Key: `${PATHS.databaseTls}/${clientKeyKey(crdb.user)}`,
          },
        },
      },
    };
  }
  throw new Error("spec.database has neither postgres nor cockroach");
}

/**
 * Public keys of system users (https://zitadel.com/docs/guides/integrate/zitadel-apis/access-zitadel-system-api):
 * the login UI signs its own tokens with the private half, so no PAT has to be carried out of `zitadel setup`.
 * A System membership applies in every instance; IAM_LOGIN_CLIENT is the role ZITADEL's own login client gets.
 */
function systemApiUsers(zitadel: Zitadel, ctx: ZitadelRenderContext): Record<string, unknown> | undefined {
  const users: Record<string, unknown> = {};
  if (loginWanted(zitadel.spec)) {
    if (ctx.loginKey === undefined) throw new Error("ctx.loginKey is required when spec.login.enabled");
    users[LOGIN_SYSTEM_USER] = {
      KeyData: Buffer.from(ctx.loginKey.publicKeyPem).toString("base64"),
      Memberships: [{ MemberType: "System", Roles: ["IAM_LOGIN_CLIENT"] }],
    };
  }
  if (ctx.operatorPublicKeyPem !== undefined) {
    users[OPERATOR_SYSTEM_USER] = {
      KeyData: Buffer.from(ctx.operatorPublicKeyPem).toString("base64"),
      Memberships: [{ MemberType: "System", Roles: ["IAM_OWNER"] }],
    };
  }
  return Object.keys(users).length > 0 ? users : undefined;
}

/** What the operator sets, before spec.config is merged over it. */
function generatedConfig(zitadel: Zitadel, ctx: ZitadelRenderContext): Record<string, unknown> {
  const { spec } = zitadel;
  const config: Record<string, unknown> = {
    ExternalDomain: spec.externalDomain,
    ExternalPort: spec.externalPort,
    ExternalSecure: spec.externalSecure,
    TLS: { Enabled: false },
    // Pod names are unique and stable for a pod's life; ZITADEL's default (the private IP) can collide across
    // clusters and needs no lookup here (the Helm chart does the same).
    Machine: { Identification: { Hostname: { Enabled: true }, Webhook: { Enabled: false } } },
  };
  const users = systemApiUsers(zitadel, ctx);
  if (users !== undefined) config.SystemAPIUsers = users;
  if (hasLoginV2(spec.version)) {
    // Instances created from now on use the login UI we run, or ZITADEL's built-in one when it is off.
    config.DefaultInstance = {
      Features: {
        LoginV2: spec.login.enabled
          ? { Required: true, BaseURI: `${externalUrl(spec)}${LOGIN_BASE_PATH}/` }
          : { Required: false },
      },
    };
  }
  return config;
}

/** zitadel.yaml of the ConfigMap: generated, spec.config merged over it, then what only spec fields may set. */
export function runtimeConfig(zitadel: Zitadel, ctx: ZitadelRenderContext): Record<string, unknown> {
  const merged = deepMerge(generatedConfig(zitadel, ctx), zitadel.spec.config ?? {});
  // Probes, the Service and the login UI assume this port; a Port in spec.config would silently break them.
  merged.Port = ZITADEL_PORT;
  merged.Database = databaseConfig(zitadel, ctx);
  return merged;
}

/** zitadel.yaml of the config Secret: what the running pods need and may not be in a ConfigMap. */
export function secretConfig(zitadel: Zitadel, ctx: ZitadelRenderContext): Record<string, unknown> {
  if (zitadel.spec.database.postgres !== undefined && ctx.database.kind === "postgres") {
    return { Database: { postgres: { User: { Password: ctx.database.password } } } };
  }
  return {};
}

/** steps.yaml: read by `zitadel setup` only, so the running pods never see the first admin's password. */
export function stepsConfig(ctx: ZitadelRenderContext): Record<string, unknown> {
  if (ctx.initialAdminPassword === undefined) return {};
  return {
    FirstInstance: {
      Org: { Human: { Password: ctx.initialAdminPassword, PasswordChangeRequired: true } },
    },
  };
}

export interface RenderedConfig {
  readonly runtime: string;
  readonly secret: string;
  readonly steps: string;
  /** sha256 of each, for annotations and the setup Job's name. Hashes only: never the content. */
  readonly runtimeHash: string;
  readonly secretHash: string;
  /**
   * What makes a setup run differ: the ConfigMap, the steps and spec.configSecretRef's content. Not the database
   * password: rotating it changes how ZITADEL connects, not what setup does, so it rolls pods but runs no setup.
   */
  readonly migrationHash: string;
}

export function renderConfig(zitadel: Zitadel, ctx: ZitadelRenderContext): RenderedConfig {
  const runtime = toYaml(runtimeConfig(zitadel, ctx));
  const secret = toYaml(secretConfig(zitadel, ctx));
  const steps = toYaml(stepsConfig(ctx));
  const migrationHash = sha256(
    JSON.stringify({ runtime: sha256(runtime), steps: sha256(steps), user: ctx.configSecretHash ?? null }),
  );
  return { runtime, secret, steps, runtimeHash: sha256(runtime), secretHash: sha256(secret), migrationHash };
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `over` merged into `base`: objects key by key, everything else (lists too) replaced, as ZITADEL's viper does. */
export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? deepMerge(current, value) : value;
  }
  return out;
}
