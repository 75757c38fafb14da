import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { CockroachCluster } from "../../../../src/api/cockroachcluster.ts";
import { parseResource } from "../../../../src/api/validate.ts";
import { nodeSANs } from "../../../../src/pki/names.ts";
import { publicServiceName } from "../../../../src/render/cockroach/topology.ts";
import { renderResource } from "../../../../src/render/index.ts";
import { cockroachEndpoint, PLACEHOLDER, previewContext } from "../../../../src/render/zitadel/index.ts";
import { cockroachSpec, postgresSpec, zitadel } from "./fixtures.ts";

const EXAMPLES = join(import.meta.dirname, "../../../../examples");

async function example(file: string) {
  const [doc] = parseAllDocuments(await readFile(join(EXAMPLES, file), "utf8"));
  const parsed = parseResource(doc?.toJS());
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  parsed.resource.metadata.namespace = "iam";
  return parsed.resource;
}

describe("rendering a Zitadel from files (zitadel-operator render)", () => {
  it("shows the steady state of the examples, with placeholders instead of generated secrets", async () => {
    for (const file of ["zitadel.yaml", "zitadel-postgres.yaml"]) {
      const objects = renderResource(await example(file));
      const kinds = objects.map((o) => o.kind);
      expect(kinds).toContain("Deployment");
      expect(kinds).not.toContain("Job");
      // No masterkey is ever invented outside the reconciler.
      expect(objects.some((o) => /-masterkey$/.test(o.metadata?.name ?? ""))).toBe(false);
    }
    const postgres = renderResource(await example("zitadel-postgres.yaml"));
    const secret = postgres.find((o) =>
      /^zitadel-pg-config-secrets-[0-9a-f]{8}$/.test(o.metadata?.name ?? ""),
    ) as { data?: Record<string, string> } | undefined;
    expect(Buffer.from(secret?.data?.["zitadel.yaml"] ?? "", "base64").toString()).toContain(PLACEHOLDER);
    expect(postgres.map((o) => `${o.kind}/${o.metadata?.name}`)).toContain("Deployment/zitadel-pg-login");
  });

  it("prefers the reconciler's facts when the caller has them", () => {
    const z = zitadel(postgresSpec());
    const ctx = { ...previewContext(z), migration: { targetMigrated: false } };
    const objects = renderResource(z, { zitadel: ctx } as Parameters<typeof renderResource>[1]);
    expect(objects.map((o) => o.kind)).toContain("Job");
  });
});

describe("cockroachEndpoint", () => {
  it("names the CockroachCluster's public Service by a name its node certificates carry", () => {
    const crdb = zitadel(cockroachSpec());
    const endpoint = cockroachEndpoint(crdb, "iam");
    const cluster = { metadata: { name: "identity-db", namespace: "iam" } } as CockroachCluster;
    expect(endpoint).toEqual({ host: `${publicServiceName(cluster)}.iam.svc`, port: 26257 });
    const sans = nodeSANs({
      services: [
        {
          namespace: "iam",
          publicService: "identity-db-public",
          headlessService: "identity-db",
          clusterDomain: "example.internal",
        },
      ],
    });
    expect(sans.dnsNames).toContain(endpoint.host);
  });
});
