import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { resetPreserveDowngradeOption, setPreserveDowngradeOption } from "../../../../src/db/cockroach.ts";
import {
  LABEL,
  remoteClusterOf,
  renderDecommissionJob,
  renderInitJob,
  renderSqlJob,
} from "../../../../src/render/cockroach/index.ts";
import { cockroachCluster } from "./cluster.ts";
import { asJob, container } from "./shapes.ts";

const cluster = cockroachCluster();

describe("renderSqlJob", () => {
  const statements = [setPreserveDowngradeOption("24.3")];

  it("is named after its purpose and a hash of its statements, so a repeated reconcile finds the same Job", () => {
    const a = renderSqlJob(cluster, "preserve-downgrade", statements);
    const b = renderSqlJob(cluster, "preserve-downgrade", [setPreserveDowngradeOption("24.3")]);
    const other = renderSqlJob(cluster, "preserve-downgrade", [setPreserveDowngradeOption("25.2")]);
    expect(a.metadata?.name).toMatch(/^crdb-preserve-downgrade-[0-9a-f]{8}$/);
    expect(b.metadata?.name).toBe(a.metadata?.name);
    expect(other.metadata?.name).not.toBe(a.metadata?.name);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it("runs cockroach sql as root against the public Service and passes the statements in an environment variable", () => {
    const job = asJob(renderSqlJob(cluster, "finalize", [resetPreserveDowngradeOption()]));
    const sql = container(job.spec.template, "finalize");
    expect(sql.image).toBe("cockroachdb/cockroach:v25.2.4");
    expect(sql.command[2]).toContain(
      '/cockroach/cockroach sql --certs-dir=/cockroach/cockroach-certs --host=crdb-public:26257 --format=csv -e "$SQL"',
    );
    expect(sql.env?.find((e) => e.name === "SQL")?.value).toBe(
      "RESET CLUSTER SETTING cluster.preserve_downgrade_option;",
    );
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
  });

  it("reads statements that carry credentials from a Secret instead", () => {
    const job = asJob(
      renderSqlJob(cluster, "backup", { secretKeyRef: { name: "crdb-backup-sql", key: "sql" } }),
    );
    expect(container(job.spec.template, "backup").env?.find((e) => e.name === "SQL")).toEqual({
      name: "SQL",
      valueFrom: { secretKeyRef: { name: "crdb-backup-sql", key: "sql" } },
    });
  });

  it("mounts the root client certificate with the modes CockroachDB accepts, and is an admitted SQL client", () => {
    const job = asJob(renderSqlJob(cluster, "finalize", [resetPreserveDowngradeOption()]));
    expect(job.spec.template.spec.volumes.find((v) => v.name === "certs")?.secret).toEqual({
      secretName: "crdb-client-root",
      items: [
        { key: "ca.crt", path: "ca.crt", mode: 0o444 },
        { key: "client.root.crt", path: "client.root.crt", mode: 0o444 },
        { key: "client.root.key", path: "client.root.key", mode: 0o440 },
      ],
    });
    expect(job.spec.template.metadata.labels[LABEL.cockroachClient]).toBe("crdb");
  });

  it("refuses purposes that would make an invalid or overlong name, and empty statement lists", () => {
    expect(() => renderSqlJob(cluster, "Finalize!", ["SELECT 1"])).toThrow(/DNS label/);
    expect(() => renderSqlJob(cluster, "a-purpose-that-is-far-too-long", ["SELECT 1"])).toThrow(
      /20 characters/,
    );
    expect(() => renderSqlJob(cluster, "finalize", [])).toThrow(/no statements/);
  });

  it("renders a script bash parses", () => {
    const job = asJob(renderSqlJob(cluster, "finalize", [resetPreserveDowngradeOption()]));
    execFileSync("bash", ["-n", "-c", container(job.spec.template, "finalize").command[2] ?? ""]);
  });
});

describe("renderDecommissionJob", () => {
  it("decommissions all departing nodes in one command and waits until they are decommissioned", () => {
    const job = asJob(renderDecommissionJob(cluster, [5, 4, 5]));
    expect(job.metadata?.name).toBe("crdb-decommission-4-5");
    expect(job.metadata?.annotations).toEqual({ "zitadel-operator.dev/node-ids": "4,5" });
    expect(container(job.spec.template, "decommission").command).toEqual([
      "/cockroach/cockroach",
      "node",
      "decommission",
      "4",
      "5",
      "--wait=all",
      "--certs-dir=/cockroach/cockroach-certs",
      "--host=crdb-public:26257",
      "--cluster-name=crdb",
    ]);
  });

  it("hashes long node lists into the name, which must fit 63 characters", () => {
    const ids = Array.from({ length: 20 }, (_, i) => i + 10);
    const name =
      renderDecommissionJob(cockroachCluster({}, { name: "a".repeat(30) }), ids).metadata?.name ?? "";
    expect(name).toMatch(/^a{30}-decommission-[0-9a-f]{8}$/);
    expect(name.length).toBeLessThanOrEqual(63);
  });

  it("refuses node IDs that cannot exist", () => {
    expect(() => renderDecommissionJob(cluster, [])).toThrow(/invalid node IDs/);
    expect(() => renderDecommissionJob(cluster, [0])).toThrow(/invalid node IDs/);
  });
});

describe("renderInitJob", () => {
  it("initializes through pod 0 and treats an already initialized cluster as success", () => {
    const job = asJob(renderInitJob(cluster));
    const script = container(job.spec.template, "init").command[2] ?? "";
    expect(job.metadata?.name).toBe("crdb-init");
    expect(script).toContain(
      "/cockroach/cockroach init --certs-dir=/cockroach/cockroach-certs --host=crdb-0.crdb.identity.svc.cluster.local:26257 --cluster-name=crdb",
    );
    expect(script).toContain(
      '*"already been initialized"*) echo "the cluster was already initialized"; exit 0',
    );
    execFileSync("bash", ["-n", "-c", script]);
  });

  it("runs in the RemoteCluster of the first region when no region is in this Kubernetes cluster", () => {
    const remoteOnly = cockroachCluster({
      regions: [{ name: "eu-west-1", nodes: 3, clusterRef: { name: "eu-west" } }],
    });
    const job = renderInitJob(remoteOnly, { remoteClusters: { "eu-west": { namespace: "db" } } });
    expect(remoteClusterOf(job)).toBe("eu-west");
    expect(job.metadata?.namespace).toBe("db");
    expect(job.metadata?.ownerReferences).toBeUndefined();
  });
});
