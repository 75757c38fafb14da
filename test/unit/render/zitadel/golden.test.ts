// The rendered objects of each scenario, pinned in testdata/<scenario>.yaml. After an intended change:
//   UPDATE_GOLDEN=1 npm test -- --project unit test/unit/render/zitadel
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Zitadel } from "../../../../src/api/zitadel.ts";
import { renderZitadel, type ZitadelRenderContext } from "../../../../src/render/zitadel/index.ts";
import type { KubeObject } from "../../../../src/runtime/kube.ts";
import {
  cockroachContext,
  cockroachSpec,
  MASTERKEY_BYTES,
  OPERATOR_PUBLIC_KEY,
  postgresContext,
  postgresSpec,
  zitadel,
} from "./fixtures.ts";

const TESTDATA = join(import.meta.dirname, "testdata");

function toYaml(objects: KubeObject[]): string {
  return objects
    .map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join("---\n");
}

const scenarios: Record<string, { zitadel: Zitadel; ctx: ZitadelRenderContext; about: string }> = {
  "postgres-first-install": {
    about: "PostgreSQL, Login v2, nothing migrated yet: credentials, config and the setup Job, no Deployment",
    zitadel: zitadel(postgresSpec()),
    ctx: postgresContext({ newMasterkey: MASTERKEY_BYTES, migration: { targetMigrated: false } }),
  },
  "postgres-login": {
    about: "PostgreSQL with Login v2 once setup succeeded: ZITADEL, the login UI, both Ingresses",
    zitadel: zitadel(postgresSpec(), { uid: "5f0c1d2e-0000-4000-8000-000000000001" }),
    ctx: postgresContext({ operatorPublicKeyPem: OPERATOR_PUBLIC_KEY }),
  },
  "postgres-upgrade": {
    about: "v4.13.0 keeps serving while the setup Job for v4.14.0 runs",
    zitadel: zitadel(postgresSpec({ version: "v4.14.0" })),
    ctx: postgresContext({ migration: { migratedVersion: "v4.13.0", targetMigrated: false } }),
  },
  "postgres-without-login-tls-disabled": {
    about: "no login UI, plain HTTP on a non-standard port, sslmode disable, the user's own masterkey",
    zitadel: zitadel(
      postgresSpec({
        login: { enabled: false },
        externalSecure: false,
        externalPort: 8080,
        masterkeySecretRef: { name: "my-masterkey", key: "key" },
        database: {
          postgres: { host: "10.0.0.5", sslMode: "disable", userSecretRef: { name: "zitadel-db" } },
        },
        ingress: { enabled: false },
      }),
    ),
    ctx: postgresContext({
      database: { kind: "postgres", username: "zitadel_app", password: "user-supplied-password" },
      loginKey: undefined,
    }),
  },
  "postgres-tls-enabled": {
    about: "ZITADEL serves TLS itself (key and certificate from configSecretRef), autoscaled and scraped",
    zitadel: zitadel(
      postgresSpec({
        config: { TLS: { Enabled: true }, Log: { Level: "info" } },
        configSecretRef: { name: "zitadel-tls-config" },
        ingress: {
          enabled: true,
          className: "nginx",
          annotations: { "nginx.ingress.kubernetes.io/backend-protocol": "GRPCS" },
        },
      }),
    ),
    ctx: postgresContext({
      configSecretHash: "b".repeat(64),
      autoscaling: { minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 70 },
      serviceMonitor: true,
    }),
  },
  "cockroach-v2": {
    about:
      "ZITADEL v2 on a CockroachCluster with a client certificate, strict spreading, user config and secrets",
    zitadel: zitadel(
      cockroachSpec({
        imagePullPolicy: "IfNotPresent",
        imagePullSecrets: [{ name: "registry" }],
        config: { Log: { Level: "info" }, DefaultInstance: { Org: { Name: "Example Inc." } } },
        configSecretRef: { name: "zitadel-smtp" },
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } },
        scheduling: {
          podAntiAffinity: "Required",
          nodeSelector: { "node-role.example.com/iam": "true" },
          tolerations: [{ key: "dedicated", value: "iam", effect: "NoSchedule" }],
          priorityClassName: "iam-critical",
        },
        ingress: {
          enabled: true,
          className: "nginx",
          annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" },
          tlsSecretName: "auth-example-com-tls",
        },
      }),
      { uid: "5f0c1d2e-0000-4000-8000-000000000002" },
    ),
    ctx: cockroachContext({ newMasterkey: MASTERKEY_BYTES, configSecretHash: "d".repeat(64) }),
  },
};

describe("renderZitadel golden files", () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(`${name}: ${scenario.about}`, async () => {
      const file = join(TESTDATA, `${name}.yaml`);
      const rendered = `# ${scenario.about}\n${toYaml(renderZitadel(scenario.zitadel, scenario.ctx))}`;
      if (process.env.UPDATE_GOLDEN === "1") await writeFile(file, rendered);
      expect(rendered).toBe(await readFile(file, "utf8"));
    });
  }
});
