// The CockroachCluster controller's certificates on a real control plane: Secrets are made once, nothing
// changes on re-runs or restarts, leaves are renewed before they expire, and during a CA rotation every ca.crt
// the Secrets hold verifies the old leaves and the new ones (checked with openssl).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { certificateInfo } from "../../src/pki/index.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: "error" });
const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
type Secret = KubeObject & { data?: Record<string, string> };
type Cluster = KubeObject & {
  status?: {
    conditions?: { type: string; status: string; reason: string }[];
    certificates?: { name: string }[];
  };
};

function cluster(namespace: string, name: string, tls: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "CockroachCluster",
    metadata: { name, namespace },
    spec: { version: "v24.3.5", nodes: 3, tls, users: [{ name: "app" }] },
  };
}

async function secret(ns: string, name: string): Promise<Record<string, string>> {
  const s = await client.get<Secret>(SECRET, ns, name);
  return Object.fromEntries(
    Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );
}

async function certificatesReady(ns: string, name: string) {
  return eventually(
    async () => {
      const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
      const c = await client.get<Cluster>(type, ns, name);
      const ready = c?.status?.conditions?.find((x) => x.type === "CertificatesReady");
      expect(ready?.status, JSON.stringify(ready)).toBe("True");
      return c;
    },
    { timeoutMs: 30_000 },
  );
}

const scratch = mkdtempSync(join(tmpdir(), "zo-certs-"));
let files = 0;
/** openssl verify of `leaf` against the bundle `ca`; returns openssl's verdict. */
function verifies(ca: string, leaf: string): boolean {
  const n = files++;
  writeFileSync(join(scratch, `ca-${n}.crt`), ca);
  writeFileSync(join(scratch, `leaf-${n}.crt`), leaf);
  try {
    execFileSync(
      "openssl",
      ["verify", "-CAfile", join(scratch, `ca-${n}.crt`), join(scratch, `leaf-${n}.crt`)],
      {
        stdio: "pipe",
      },
    );
    return true;
  } catch {
    return false;
  }
}

let ns: string;
let operator: Manager;
const start = async () => {
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
};

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "certs");
  await start();
});
afterAll(async () => {
  await operator?.stop();
});

describe("CockroachCluster certificates", () => {
  it("creates the CA, node and client Secrets with what CockroachDB's --certs-dir expects", async () => {
    await client.apply(cluster(ns, "db"));
    const status = await certificatesReady(ns, "db");
    expect(status?.status?.certificates?.map((c) => c.name)).toEqual([
      "ca",
      "node",
      "client.app",
      "client.root",
      "client.zitadel",
    ]);
    const node = await secret(ns, "db-node-certs");
    expect(Object.keys(node).sort()).toEqual(["ca.crt", "node.crt", "node.key", "tls.crt", "tls.key"]);
    expect(verifies(node["ca.crt"] ?? "", node["node.crt"] ?? "")).toBe(true);
    expect(certificateInfo(node["node.crt"] ?? "").dnsNames).toContain(`*.db.${ns}.svc.cluster.local`);
    const root = await secret(ns, "db-client-root");
    expect(certificateInfo(root["client.root.crt"] ?? "").commonName).toBe("root");
    const ca = await client.get<Secret>(SECRET, ns, "db-ca");
    expect(ca?.metadata?.ownerReferences ?? []).toEqual([]); // never garbage-collected with the cluster
  });

  it("changes nothing when reconciled again or when the operator restarts", async () => {
    const names = ["db-ca", "db-node-certs", "db-client-root", "db-client-app", "db-client-zitadel"];
    const versions = async () =>
      Promise.all(
        names.map(async (n) => (await client.get<Secret>(SECRET, ns, n))?.metadata?.resourceVersion),
      );
    // Let the rest of the lifecycle (StatefulSet, init, spec.users) settle first: this test is about certificates.
    await eventually(
      async () => {
        const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
        const c = await client.get<Cluster>(type, ns, "db");
        expect(c?.status?.conditions?.find((x) => x.type === "Ready")?.status).toBe("True");
        expect(c?.status?.conditions?.find((x) => x.type === "UsersReady")?.status).toBe("True");
      },
      { timeoutMs: 60_000 },
    );
    const before = await versions();
    await operator.stop();
    await start();
    await certificatesReady(ns, "db");
    await new Promise((r) => setTimeout(r, 2000));
    expect(await versions()).toEqual(before);
    expect(operator.client.writes).toBe(0);
  });

  it("renews leaves before they expire and rotates the CA without a moment of broken trust", async () => {
    // Lifetimes of seconds: leaves live 20 s and are renewed 10 s early; the CA lives 60 s, its rotation starts
    // 40 s before it expires, and every phase of the overlap lasts 5 s.
    await client.apply(
      cluster(ns, "fast", {
        caLifetime: "1m",
        caRenewBefore: "40s",
        caOverlap: "5s",
        leafLifetime: "20s",
        renewBefore: "10s",
      }),
    );
    await certificatesReady(ns, "fast");
    const seenLeaves: { pem: string; notAfter: Date; seenAt: number }[] = [];
    const seenCAs = new Set<string>();
    let renewedEarly = 0;
    const deadline = Date.now() + 50_000;
    while (Date.now() < deadline) {
      const node = await secret(ns, "fast-node-certs");
      const leaf = node["node.crt"] ?? "";
      const bundle = node["ca.crt"] ?? "";
      const last = seenLeaves.at(-1);
      if (leaf && leaf !== last?.pem) {
        if (last) {
          expect(Date.now()).toBeLessThan(last.notAfter.getTime()); // replaced before it expired
          renewedEarly++;
        }
        seenLeaves.push({ pem: leaf, notAfter: certificateInfo(leaf).notAfter, seenAt: Date.now() });
      }
      for (const pem of bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []) {
        seenCAs.add(pem);
      }
      // The trust in the Secret right now accepts the current leaf, and the one it replaced for as long as
      // pods may still present it: the CA overlap (5 s) after the replacement, while it has not expired.
      expect(verifies(bundle, leaf), "current leaf against current ca.crt").toBe(true);
      const previous = seenLeaves.at(-2);
      const current = seenLeaves.at(-1);
      if (
        previous &&
        current?.seenAt &&
        Date.now() - current.seenAt < 4000 &&
        previous.notAfter.getTime() > Date.now() + 1000
      ) {
        expect(verifies(bundle, previous.pem), "replaced leaf against current ca.crt").toBe(true);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(renewedEarly).toBeGreaterThanOrEqual(3);
    expect(seenCAs.size).toBeGreaterThanOrEqual(2); // the CA was rotated
    const events = await client.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
      await client.resourceType("events.k8s.io/v1", "Event"),
      { namespace: ns },
    );
    const reasons = new Set(events.items.filter((e) => e.regarding?.name === "fast").map((e) => e.reason));
    expect(reasons).toContain("CertificateRenewed");
    expect(reasons).toContain("CARotationStarted");
  }, 90_000);

  it("signs with a CA the user brings, and warns when certificates are about to expire un-renewed", async () => {
    // The user's CA, made the way a user would: with openssl.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(scratch, "user-ca.key"),
        "-out",
        join(scratch, "user-ca.crt"),
        "-subj",
        "/CN=platform-team-ca",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      { stdio: "pipe" },
    );
    const { readFileSync } = await import("node:fs");
    const userCa = readFileSync(join(scratch, "user-ca.crt"), "utf8");
    const b64 = (f: string) => readFileSync(join(scratch, f)).toString("base64");
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "platform-ca", namespace: ns },
      data: { "ca.crt": b64("user-ca.crt"), "ca.key": b64("user-ca.key") },
    });
    await client.apply(
      cluster(ns, "byo", { caSecretRef: { name: "platform-ca" }, leafLifetime: "20s", renewBefore: "10s" }),
    );
    await certificatesReady(ns, "byo");
    const node = await secret(ns, "byo-node-certs");
    expect(verifies(userCa, node["node.crt"] ?? "")).toBe(true);
    expect((await secret(ns, "byo-ca"))["ca.key"]).toBeUndefined(); // the user's key is never copied

    await client.delete(SECRET, ns, "platform-ca");
    const eventType = await client.resourceType("events.k8s.io/v1", "Event");
    await eventually(
      async () => {
        const { items } = await client.list<
          KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }
        >(eventType, { namespace: ns });
        const warning = items.find((e) => e.regarding?.name === "byo" && e.reason === "CertificateExpiring");
        expect(warning?.type).toBe("Warning");
        expect(warning?.note).toContain("cannot be renewed");
      },
      { timeoutMs: 30_000 },
    );
    const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
    const byo = await client.get<Cluster>(type, ns, "byo");
    expect(byo?.status?.conditions?.find((c) => c.type === "CertificatesReady")).toMatchObject({
      status: "False",
      reason: "CASecretMissing",
    });
  }, 60_000);

  it("shows every certificate with its names and expiry in 'certs status'", async () => {
    const cli = (...args: string[]) =>
      execFileSync(
        process.execPath,
        [
          join(import.meta.dirname, "..", "..", "bin", "zitadel-operator.js"),
          "certs",
          "status",
          "db",
          "-n",
          ns,
          `--kubeconfig=${inject("controlPlane").kubeconfigPath}`,
          ...args,
        ],
        { encoding: "utf8" },
      );
    const out = cli("-o", "json");
    const rows = JSON.parse(out) as {
      certificate: string;
      secret: string;
      expiresIn: string;
      names: string[];
    }[];
    expect(rows.map((r) => r.certificate)).toEqual([
      "ca",
      "node",
      "client.app",
      "client.root",
      "client.zitadel",
    ]);
    expect(rows.find((r) => r.certificate === "node")?.names).toContain("localhost");
    expect(rows.every((r) => r.expiresIn !== "EXPIRED")).toBe(true);
    expect(out).not.toMatch(/PRIVATE KEY/);
    const table = cli();
    expect(table.split("\n")[0]).toMatch(/^CERTIFICATE\s+SECRET\s+ISSUER\s+NOT AFTER\s+EXPIRES IN\s+NAMES$/);
    expect(table).toContain("db-client-root");
  });

  it("never puts a private key into status, Events or logs", async () => {
    const lines: string[] = [];
    const logged = createOperator({
      kubeConfig: kc,
      log: createLogger({ level: "debug", write: (l) => lines.push(l) }),
      namespaces: [ns],
    });
    await logged.start();
    await client.apply(cluster(ns, "quiet"));
    await certificatesReady(ns, "quiet");
    await logged.stop();
    const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
    const { items } = await client.list(type, { namespace: ns });
    const events = await client.list(await client.resourceType("events.k8s.io/v1", "Event"), {
      namespace: ns,
    });
    const everything = JSON.stringify([items.map((i) => i.status), events.items, lines]);
    expect(everything).not.toMatch(/PRIVATE KEY/);
    expect(lines.length).toBeGreaterThan(0);
  });
});
