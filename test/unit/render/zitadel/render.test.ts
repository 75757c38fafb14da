import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Job,
  V1PodSpec,
  V1Secret,
  V1Service,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ANNOTATION,
  externalUrl,
  masterkeyFromBytes,
  renderConfig,
  renderZitadel,
  servingVersion,
  setupJobName,
  tlsMode,
  type ZitadelRenderContext,
} from "../../../../src/render/zitadel/index.ts";
import type { KubeObject } from "../../../../src/runtime/kube.ts";
import {
  ADMIN_PASSWORD,
  cockroachContext,
  cockroachSpec,
  DB_PASSWORD,
  LOGIN_KEY,
  MASTERKEY_BYTES,
  postgresContext,
  postgresSpec,
  zitadel,
} from "./fixtures.ts";

type Workload = V1Deployment | V1Job;

/** Config objects are named by content (<name>-config-<hash8>); tests name them without the hash. */
function withoutContentHash(name: string | undefined): string | undefined {
  return name?.replace(/-(config|config-secrets)-[0-9a-f]{8}$/, "-$1");
}

function find<T extends KubeObject = KubeObject>(
  objects: KubeObject[],
  kind: string,
  name?: string,
): T | undefined {
  return objects.find(
    (o) => o.kind === kind && (name === undefined || withoutContentHash(o.metadata?.name) === name),
  ) as T | undefined;
}

function get<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string, name?: string): T {
  const found = find<T>(objects, kind, name);
  if (found === undefined) {
    throw new Error(`no ${kind} ${name ?? ""} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`)}`);
  }
  return found;
}

const deployment = (objects: KubeObject[], name: string) =>
  get<KubeObject & V1Deployment>(objects, "Deployment", name);
const job = (objects: KubeObject[]) => get<KubeObject & V1Job>(objects, "Job");

function pod(workload: Workload): V1PodSpec {
  const spec = workload.spec?.template.spec;
  if (spec === undefined) throw new Error("no pod spec");
  return spec;
}

function first<T>(items: readonly T[] | undefined): T {
  const item = items?.[0];
  if (item === undefined) throw new Error("empty list");
  return item;
}

function container(workload: Workload): V1Container {
  return first(pod(workload).containers);
}

function annotations(workload: Workload): Record<string, string> {
  return workload.spec?.template.metadata?.annotations ?? {};
}

function decoded(objects: KubeObject[], name: string, key: string): string {
  const value = get<KubeObject & V1Secret>(objects, "Secret", name).data?.[key];
  if (value === undefined) throw new Error(`no key ${key} in Secret ${name}`);
  return Buffer.from(value, "base64").toString("utf8");
}

function runtimeConfig(objects: KubeObject[]) {
  return parse(get<KubeObject & V1ConfigMap>(objects, "ConfigMap").data?.["zitadel.yaml"] ?? "");
}

function podSpecs(objects: KubeObject[]): V1PodSpec[] {
  return objects.filter((o) => o.kind === "Deployment" || o.kind === "Job").map((o) => pod(o as Workload));
}

const PG = zitadel(postgresSpec());
const UPGRADING = { migration: { migratedVersion: "v4.12.0", targetMigrated: false } };

function secretItems(spec: V1PodSpec, volume: string): string[] {
  return (spec.volumes?.find((v) => v.name === volume)?.secret?.items ?? []).map((item) => item.key);
}

describe("renderZitadel: order and presence", () => {
  it("applies identity and credentials, then configuration, the migration, workloads and exposure", () => {
    const kinds = renderZitadel(PG, postgresContext(UPGRADING)).map(
      (o) => `${o.kind}/${withoutContentHash(o.metadata?.name)}`,
    );
    expect(kinds).toEqual([
      "ServiceAccount/auth",
      "Secret/auth-initial-admin",
      "Secret/auth-login-key",
      "ConfigMap/auth-config",
      "Secret/auth-config-secrets",
      expect.stringMatching(/^Job\/auth-setup-v4-13-0-[0-9a-f]{8}$/),
      "Service/auth",
      "Deployment/auth",
      "PodDisruptionBudget/auth",
      "Service/auth-login",
      "Deployment/auth-login",
      "PodDisruptionBudget/auth-login",
      "Ingress/auth",
      "Ingress/auth-login",
    ]);
  });

  it("starts no ZITADEL pod before the first setup succeeded", () => {
    const objects = renderZitadel(PG, postgresContext({ migration: { targetMigrated: false } }));
    expect(find(objects, "Deployment")).toBeUndefined();
    expect(find(objects, "Job")).toBeDefined();
  });

  it("keeps serving the migrated version until setup for the new one succeeded", () => {
    const upgrade = zitadel(postgresSpec({ version: "v4.14.0" }));
    const during = renderZitadel(
      upgrade,
      postgresContext({ migration: { migratedVersion: "v4.13.0", targetMigrated: false } }),
    );
    expect(container(deployment(during, "auth")).image).toBe("ghcr.io/zitadel/zitadel:v4.13.0");
    expect(container(deployment(during, "auth-login")).image).toBe("ghcr.io/zitadel/zitadel-login:v4.13.0");
    expect(container(job(during)).image).toBe("ghcr.io/zitadel/zitadel:v4.14.0");

    const after = renderZitadel(
      upgrade,
      postgresContext({ migration: { migratedVersion: "v4.14.0", targetMigrated: true } }),
    );
    expect(container(deployment(after, "auth")).image).toBe("ghcr.io/zitadel/zitadel:v4.14.0");
    expect(find(after, "Job")).toBeUndefined();
  });

  it("finds the old image of a private mirror by its version", () => {
    const mirrored = zitadel(
      postgresSpec({ version: "v4.14.0", image: "registry.example.com/zitadel:v4.14.0-fips" }),
    );
    const objects = renderZitadel(
      mirrored,
      postgresContext({ migration: { migratedVersion: "v4.13.0", targetMigrated: false } }),
    );
    expect(container(deployment(objects, "auth")).image).toBe("registry.example.com/zitadel:v4.13.0-fips");
  });

  it("reports the version that serves", () => {
    expect(servingVersion(PG, postgresContext({ migration: { targetMigrated: false } }))).toBeUndefined();
    expect(servingVersion(PG, postgresContext(UPGRADING))).toBe("v4.12.0");
    expect(servingVersion(PG, postgresContext())).toBe("v4.13.0");
  });
});

describe("the masterkey", () => {
  it("is 32 characters from 32 random bytes", () => {
    const key = masterkeyFromBytes(MASTERKEY_BYTES);
    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(masterkeyFromBytes(MASTERKEY_BYTES)).toBe(key);
    expect(() => masterkeyFromBytes(new Uint8Array(16))).toThrow("32 random bytes, got 16");
  });

  it("goes into an immutable Secret without owner reference, rendered only when new", () => {
    const owned = zitadel(postgresSpec(), { uid: "u-1" });
    const objects = renderZitadel(owned, postgresContext({ newMasterkey: MASTERKEY_BYTES }));
    const secret = get<KubeObject & V1Secret>(objects, "Secret", "auth-masterkey");
    expect(secret.immutable).toBe(true);
    expect(secret.metadata?.ownerReferences).toBeUndefined();
    expect(decoded(objects, "auth-masterkey", "masterkey")).toBe(masterkeyFromBytes(MASTERKEY_BYTES));
    // Other children are owned, so Kubernetes removes them with the Zitadel.
    expect(get(objects, "ConfigMap").metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "Zitadel",
      uid: "u-1",
    });
    expect(find(renderZitadel(owned, postgresContext()), "Secret", "auth-masterkey")).toBeUndefined();
  });

  it("comes from spec.masterkeySecretRef when set, and no Secret is generated", () => {
    const own = zitadel(postgresSpec({ masterkeySecretRef: { name: "mine", key: "k" } }));
    const objects = renderZitadel(own, postgresContext({ newMasterkey: MASTERKEY_BYTES }));
    expect(find(objects, "Secret", "auth-masterkey")).toBeUndefined();
    expect(container(deployment(objects, "auth")).env).toEqual([
      { name: "ZITADEL_MASTERKEY", valueFrom: { secretKeyRef: { name: "mine", key: "k" } } },
    ]);
  });

  it("reaches only the ZITADEL server and setup, never init or the login UI", () => {
    const objects = renderZitadel(PG, postgresContext(UPGRADING));
    expect(first(pod(job(objects)).initContainers).env).toBeUndefined();
    expect(first(container(job(objects)).env).name).toBe("ZITADEL_MASTERKEY");
    expect(JSON.stringify(deployment(objects, "auth-login"))).not.toContain("masterkey");
  });
});

describe("least privilege for ZITADEL's pods", () => {
  const objects = renderZitadel(PG, postgresContext(UPGRADING));

  it("never hands them the database admin's credentials", () => {
    // spec.database.postgres.adminSecretRef is pg-superuser: only the operator reads it (bootstrapPostgres).
    expect(JSON.stringify(objects)).not.toContain("pg-superuser");
    expect(parse(decoded(objects, "auth-config-secrets", "zitadel.yaml"))).toEqual({
      Database: { postgres: { User: { Password: DB_PASSWORD } } },
    });
    const runtime = runtimeConfig(objects);
    expect(runtime.Database.postgres.Admin).toBeUndefined();
    expect(JSON.stringify(runtime)).not.toContain(DB_PASSWORD);
  });

  it("renders no RBAC and gives no pod a ServiceAccount token", () => {
    expect(objects.filter((o) => /Role/.test(o.kind ?? ""))).toEqual([]);
    expect(get(objects, "ServiceAccount").automountServiceAccountToken).toBe(false);
    for (const spec of podSpecs(objects)) {
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec.enableServiceLinks).toBe(false);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
  });

  it("keeps the first admin's password away from the running pods", () => {
    const steps = parse(decoded(objects, "auth-config-secrets", "steps.yaml"));
    expect(steps.FirstInstance.Org.Human).toEqual({ Password: ADMIN_PASSWORD, PasswordChangeRequired: true });
    expect(secretItems(pod(deployment(objects, "auth")), "secrets")).toEqual(["zitadel.yaml"]);
    expect(secretItems(pod(job(objects)), "secrets")).toEqual(["zitadel.yaml", "steps.yaml"]);
    expect(decoded(objects, "auth-initial-admin", "password")).toBe(ADMIN_PASSWORD);
  });

  it("gives the login UI a system-user key instead of a PAT carried out of setup", () => {
    const runtime = runtimeConfig(objects);
    expect(runtime.SystemAPIUsers["zitadel-login"]).toEqual({
      KeyData: Buffer.from(LOGIN_KEY.publicKeyPem).toString("base64"),
      Memberships: [{ MemberType: "System", Roles: ["IAM_LOGIN_CLIENT"] }],
    });
    expect(JSON.stringify(objects)).not.toMatch(/PatPath|MachineKeyPath|LoginClientPatPath/);
    const env = container(deployment(objects, "auth-login")).env;
    expect(env).toContainEqual({ name: "SYSTEM_USER_ID", value: "zitadel-login" });
    expect(env).toContainEqual({ name: "AUDIENCE", value: "https://auth.example.com" });
    const privateKey = decoded(objects, "auth-login-key", "private-key");
    expect(Buffer.from(privateKey, "base64").toString("utf8")).toBe(LOGIN_KEY.privateKeyPem);
  });
});

describe("the setup Job", () => {
  const ctx = postgresContext(UPGRADING);
  const jobName = (z = PG, c: ZitadelRenderContext = ctx) => job(renderZitadel(z, c)).metadata?.name;

  it("runs `init zitadel` and then `setup --init-projections=true` with the masterkey from the environment", () => {
    const spec = pod(job(renderZitadel(PG, ctx)));
    expect(spec.restartPolicy).toBe("Never");
    expect(first(spec.initContainers).args?.slice(0, 2)).toEqual(["init", "zitadel"]);
    const args = first(spec.containers).args ?? [];
    expect(args.slice(0, 3)).toEqual(["setup", "--masterkeyFromEnv", "--init-projections=true"]);
    expect(args.slice(-2)).toEqual(["--steps", "/etc/zitadel/secrets/steps.yaml"]);
  });

  it("is named <name>-setup-<version>-<hash8>, the same on every reconcile", () => {
    expect(jobName()).toMatch(/^auth-setup-v4-13-0-[0-9a-f]{8}$/);
    expect(jobName()).toBe(jobName());
    expect(jobName()).toBe(setupJobName(PG, renderConfig(PG, ctx)));
  });

  it("gets a new name for a new version or a new configuration", () => {
    expect(jobName(zitadel(postgresSpec({ version: "v4.13.1" })))).not.toBe(jobName());
    expect(jobName(zitadel(postgresSpec({ config: { Log: { Level: "debug" } } })))).not.toBe(jobName());
    expect(jobName(PG, { ...ctx, configSecretHash: "e".repeat(64) })).not.toBe(jobName());
    expect(jobName(PG, { ...ctx, initialAdminPassword: "another" })).not.toBe(jobName());
  });

  it("does not run again when only the database password rotates, though the pods roll", () => {
    const rotated: ZitadelRenderContext = {
      ...ctx,
      database: { kind: "postgres", username: "zitadel", password: "rotated" },
    };
    expect(jobName(PG, rotated)).toBe(jobName());
    const secretHash = (c: ZitadelRenderContext) =>
      annotations(deployment(renderZitadel(PG, c), "auth"))[ANNOTATION.secretConfig];
    expect(secretHash(rotated)).not.toBe(secretHash(ctx));
  });

  it("fits 63 characters for the longest name and a long pre-release version", () => {
    const version = (n: number) => `v10.123.45-rc.${n}.build.20260101`;
    const long = zitadel(postgresSpec({ version: version(1) }), { name: "a".repeat(40) });
    const name = jobName(long, ctx) ?? "";
    expect(name).toHaveLength(63);
    expect(name).toMatch(/^a{40}-setup-v10-123-[0-9a-f]{8}$/);
    const other = zitadel(postgresSpec({ version: version(2) }), { name: "a".repeat(40) });
    expect(jobName(other, ctx)).not.toBe(name);
  });
});

describe("the Deployment", () => {
  const objects = renderZitadel(PG, postgresContext());
  const zitadelDeployment = deployment(objects, "auth");
  const server = container(zitadelDeployment);

  it("starts ZITADEL with the masterkey from the environment and the operator's config files", () => {
    expect(server.args).toEqual([
      "start",
      "--masterkeyFromEnv",
      "--config",
      "/etc/zitadel/config/zitadel.yaml",
      "--config",
      "/etc/zitadel/secrets/zitadel.yaml",
    ]);
  });

  it("probes /debug/healthz for liveness and /debug/ready for readiness and startup on port 8080", () => {
    expect(server.ports).toEqual([{ name: "http2-server", containerPort: 8080, protocol: "TCP" }]);
    expect(server.livenessProbe?.httpGet).toMatchObject({
      path: "/debug/healthz",
      port: "http2-server",
      scheme: "HTTP",
    });
    expect(server.readinessProbe?.httpGet).toMatchObject({ path: "/debug/ready", port: "http2-server" });
    expect(server.startupProbe?.httpGet).toMatchObject({ path: "/debug/ready", port: "http2-server" });
  });

  it("carries hashes of its configuration, never the configuration", () => {
    const hashes = annotations(zitadelDeployment);
    expect(Object.keys(hashes)).toEqual([ANNOTATION.config, ANNOTATION.secretConfig, ANNOTATION.databaseTls]);
    for (const value of Object.values(hashes)) expect(value).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(zitadelDeployment)).not.toContain(DB_PASSWORD);
    const changed = renderZitadel(
      zitadel(postgresSpec({ config: { Log: { Level: "debug" } } })),
      postgresContext(),
    );
    expect(annotations(deployment(changed, "auth"))[ANNOTATION.config]).not.toBe(hashes[ANNOTATION.config]);
  });

  it("spreads pods over nodes and zones", () => {
    const spec = pod(zitadelDeployment);
    const preferred = spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    expect(first(preferred).podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
    expect(first(spec.topologySpreadConstraints).topologyKey).toBe("topology.kubernetes.io/zone");
    const none = renderZitadel(
      zitadel(postgresSpec({ scheduling: { podAntiAffinity: "None" } })),
      postgresContext(),
    );
    expect(pod(deployment(none, "auth")).affinity).toBeUndefined();
  });

  it("leaves replicas to an autoscaler when there is one", () => {
    expect(zitadelDeployment.spec?.replicas).toBe(2);
    const scaled = renderZitadel(
      PG,
      postgresContext({
        autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 80 },
      }),
    );
    expect(deployment(scaled, "auth").spec?.replicas).toBeUndefined();
    const hpa = get<KubeObject & V2HorizontalPodAutoscaler>(scaled, "HorizontalPodAutoscaler");
    expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "auth" });
  });

  it("is reached over h2c through its Service", () => {
    const service = get<KubeObject & V1Service>(objects, "Service", "auth");
    expect(first(service.spec?.ports)).toMatchObject({ port: 8080, appProtocol: "kubernetes.io/h2c" });
  });
});

describe("configuration", () => {
  it("merges spec.config over the generated settings and keeps the port the probes use", () => {
    const custom = zitadel(
      postgresSpec({
        config: {
          Port: 9000,
          Log: { Level: "debug" },
          Machine: { Identification: { Hostname: { Enabled: false } } },
        },
      }),
    );
    const runtime = runtimeConfig(renderZitadel(custom, postgresContext()));
    expect(runtime.Port).toBe(8080);
    expect(runtime.Log).toEqual({ Level: "debug" });
    expect(runtime.Machine.Identification).toEqual({
      Hostname: { Enabled: false },
      Webhook: { Enabled: false },
    });
  });

  it("knows the three TLS modes", () => {
    expect(tlsMode(zitadel(postgresSpec()).spec)).toBe("external");
    expect(tlsMode(zitadel(postgresSpec({ externalSecure: false })).spec)).toBe("disabled");
    expect(tlsMode(zitadel(postgresSpec({ config: { TLS: { Enabled: true } } })).spec)).toBe("enabled");
  });

  it("serves TLS itself in mode enabled: HTTPS probes, an https Service port, login calling https", () => {
    const tls = zitadel(
      postgresSpec({ config: { TLS: { Enabled: true } }, configSecretRef: { name: "tls" } }),
    );
    const objects = renderZitadel(tls, postgresContext());
    const server = container(deployment(objects, "auth"));
    expect(server.readinessProbe?.httpGet?.scheme).toBe("HTTPS");
    expect(server.args).toContain("/etc/zitadel/user-secrets/config.yaml");
    const service = get<KubeObject & V1Service>(objects, "Service", "auth");
    expect(first(service.spec?.ports).appProtocol).toBe("https");
    expect(container(deployment(objects, "auth-login")).env).toContainEqual({
      name: "ZITADEL_API_URL",
      value: "https://auth.iam.svc:8080",
    });
  });

  it("builds the external URL with the port only when it is not the scheme's default", () => {
    expect(externalUrl(zitadel(postgresSpec()).spec)).toBe("https://auth.example.com");
    const plain = (externalPort: number) =>
      zitadel(postgresSpec({ externalSecure: false, externalPort })).spec;
    expect(externalUrl(plain(8080))).toBe("http://auth.example.com:8080");
    expect(externalUrl(plain(80))).toBe("http://auth.example.com");
  });

  it("turns Login v2 off for new instances when the login UI is off", () => {
    const off = zitadel(postgresSpec({ login: { enabled: false } }));
    const objects = renderZitadel(off, postgresContext({ loginKey: undefined }));
    const runtime = runtimeConfig(objects);
    expect(runtime.DefaultInstance.Features.LoginV2).toEqual({ Required: false });
    expect(runtime.SystemAPIUsers).toBeUndefined();
    expect(find(objects, "Deployment", "auth-login")).toBeUndefined();
  });

  it("needs the login key when the login UI is on", () => {
    expect(() => renderZitadel(PG, postgresContext({ loginKey: undefined }))).toThrow(
      "ctx.loginKey is required",
    );
  });
});

describe("CockroachDB (ZITADEL v2)", () => {
  const crdb = zitadel(cockroachSpec());
  const objects = renderZitadel(
    crdb,
    cockroachContext({ migration: { migratedVersion: "v2.70.0", targetMigrated: false } }),
  );

  it("connects with the client certificate of <cluster>-client-<user>, no password", () => {
    expect(runtimeConfig(objects).Database.cockroach.User).toEqual({
      Username: "zitadel",
      SSL: {
        Mode: "verify-full",
        RootCert: "/etc/zitadel/database-tls/ca.crt",
        Cert: "/etc/zitadel/database-tls/client.zitadel.crt",
        Key: "/etc/zitadel/database-tls/client.zitadel.key",
      },
    });
    expect(parse(decoded(objects, "auth-config-secrets", "zitadel.yaml"))).toEqual({});
    for (const spec of podSpecs(objects)) {
      const volume = spec.volumes?.find((v) => v.name === "database-tls");
      expect(volume?.secret?.secretName).toBe("identity-db-client-zitadel");
      expect(secretItems(spec, "database-tls")).toEqual([
        "ca.crt",
        "client.zitadel.crt",
        "client.zitadel.key",
      ]);
    }
  });

  it("labels its pods as clients of the CockroachCluster's NetworkPolicy", () => {
    for (const workload of [deployment(objects, "auth"), job(objects)]) {
      expect(workload.spec?.template.metadata?.labels?.["zitadel-operator.dev/cockroach-client"]).toBe(
        "identity-db",
      );
    }
  });

  it("has no login UI and no Login v2 settings", () => {
    expect(runtimeConfig(objects).DefaultInstance).toBeUndefined();
    expect(find(objects, "Deployment", "auth-login")).toBeUndefined();
  });
});
