// The operator as users run it: `zitadel-operator run` against the real API server with our CRDs, and its
// second layer of validation reporting what the CRD schema cannot express.
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Condition } from "../../src/api/conditions.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { sign } from "../../src/gitops/receiver.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const root = join(import.meta.dirname, "..", "..");
const kubeconfigPath = () => inject("controlPlane").kubeconfigPath;
type WithConditions = KubeObject & { status?: { conditions?: Condition[] } };

function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

async function readyOf(client: KubeClient, obj: KubeObject, namespace: string) {
  const type = await client.resourceType(obj.apiVersion ?? "", obj.kind ?? "");
  const live = await client.get<WithConditions>(type, namespace, obj.metadata?.name ?? "");
  return live?.status?.conditions?.find((c) => c.type === "Ready");
}

async function yamlFiles(dir: string): Promise<{ file: string; text: string }[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  return Promise.all(names.map(async (file) => ({ file, text: await readFile(join(dir, file), "utf8") })));
}

describe("the operator's own validation", () => {
  const kc = loadKubeConfig();
  const client = new KubeClient(kc);
  let operator: Manager;
  let ns: string;

  beforeAll(async () => {
    await installCrds(client, () => {});
    ns = await testNamespace(kc, "op");
    operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [ns] });
    await operator.start();
  });
  afterAll(async () => {
    await operator?.stop();
  });

  it("reports specs the API server accepts but the operator cannot as Ready=False InvalidSpec naming the field", async () => {
    const fixtures = (await yamlFiles(join(root, "test", "fixtures", "bad-resources"))).filter((f) =>
      /^# apiserver: operator/m.test(f.text),
    );
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
    for (const { file, text } of fixtures) {
      const expected = text.match(/^# expect: (\S+)/m)?.[1] ?? "";
      const obj = parseAllDocuments(text)[0]?.toJSON() as KubeObject;
      const name = `bad-${file.replace(/\.yaml$/, "").slice(0, 40)}`.replace(/-+$/, "");
      const placed = { ...obj, metadata: { ...obj.metadata, name, namespace: ns } };
      await client.apply(placed);
      await eventually(async () => {
        const ready = await readyOf(client, placed, ns);
        expect(ready?.status, file).toBe("False");
        expect(ready?.reason, file).toBe("InvalidSpec");
        expect(ready?.message, file).toContain(expected);
      });
    }
    const eventType = await client.resourceType("events.k8s.io/v1", "Event");
    const { items } = await client.list<KubeObject & { reason?: string; type?: string }>(eventType, {
      namespace: ns,
    });
    expect(items.filter((e) => e.reason === "InvalidSpec" && e.type === "Warning").length).toBe(
      fixtures.length,
    );
  });

  it("accepts every example: each kind reports its own progress, and none calls an example invalid", async () => {
    // Every kind has a controller: each example ends up with a Ready condition that says what it waits for (a
    // Secret, a database, ...) or that it is ready.
    for (const { file, text } of await yamlFiles(join(root, "examples"))) {
      for (const doc of parseAllDocuments(text)) {
        const obj = doc.toJSON() as KubeObject | null;
        if (!obj?.kind) continue;
        const placed = { ...obj, metadata: { ...obj.metadata, namespace: ns } };
        await client.apply(placed);
        await eventually(async () => {
          const ready = await readyOf(client, placed, ns);
          expect(ready?.reason, file).toBeDefined();
          expect(ready?.reason, file).not.toBe("InvalidSpec");
        });
      }
    }
  });

  it("clears InvalidSpec once the spec is fixed", async () => {
    const fixture = await readFile(
      join(root, "test", "fixtures", "bad-resources", "backupschedule-cron-february-30.yaml"),
      "utf8",
    );
    const obj = parseAllDocuments(fixture)[0]?.toJSON() as KubeObject & { spec: { schedule: string } };
    const placed = { ...obj, metadata: { ...obj.metadata, name: "fixed-later", namespace: ns } };
    await client.apply(placed);
    await eventually(async () => expect((await readyOf(client, placed, ns))?.reason).toBe("InvalidSpec"));
    await client.apply({ ...placed, spec: { ...placed.spec, schedule: "0 3 * * *" } });
    await eventually(async () => {
      const reason = (await readyOf(client, placed, ns))?.reason;
      expect(reason).toBeDefined();
      expect(reason).not.toBe("InvalidSpec");
    });
  });
});

describe("zitadel-operator run", () => {
  const kc = loadKubeConfig();
  const client = new KubeClient(kc);
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGKILL");
  });

  it("serves probes and metrics, leads through its Lease, and releases it on SIGTERM", async () => {
    await installCrds(client, () => {});
    const ns = await testNamespace(kc, "run");
    const [health, metrics, hook] = [await freePort(), await freePort(), await freePort()];
    child = spawn(
      process.execPath,
      [
        join(root, "bin", "zitadel-operator.js"),
        "run",
        `--kubeconfig=${kubeconfigPath()}`,
        `--namespace=${ns}`,
        "--leader-elect",
        `--leader-election-namespace=${ns}`,
        `--health-probe-bind-address=127.0.0.1:${health}`,
        `--metrics-bind-address=127.0.0.1:${metrics}`,
        `--webhook-bind-address=127.0.0.1:${hook}`,
        "--log-level=warn",
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ZITADEL_OPERATOR_WEBHOOK_SECRET: "test-webhook-secret" },
      },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    await eventually(
      async () => expect((await fetch(`http://127.0.0.1:${health}/readyz`)).status).toBe(200),
      {
        timeoutMs: 30_000,
      },
    );
    expect((await fetch(`http://127.0.0.1:${health}/healthz`)).status).toBe(200);
    const leaseType = await client.resourceType("coordination.k8s.io/v1", "Lease");
    await eventually(async () => {
      const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
        leaseType,
        ns,
        "zitadel-operator",
      );
      expect(lease?.spec?.holderIdentity).toBeTruthy();
    });
    await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      expect(text).toMatch(/^zitadel_operator_leader 1$/m);
      expect(text).toMatch(/zitadel_operator_api_requests_total\{verb="LIST",code="200"\} \d+/);
    });

    // The webhook receiver: a signed push sets the GitSource's requested-at annotation; an unsigned one is refused.
    await client.apply({
      apiVersion: "zitadel-operator.dev/v1alpha1",
      kind: "GitSource",
      metadata: { name: "hooked", namespace: ns },
      spec: {
        url: "https://git.example.invalid/platform/identity.git",
        ref: { branch: "main" },
        interval: "1h",
      },
    });
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const post = (signature?: string) =>
      fetch(`http://127.0.0.1:${hook}/hook/${ns}/hooked`, {
        method: "POST",
        body,
        headers: signature ? { "x-hub-signature-256": signature } : {},
      });
    expect((await post()).status).toBe(401);
    expect((await post(sign(body, "test-webhook-secret"))).status).toBe(202);
    const gsType = await client.resourceType("zitadel-operator.dev/v1alpha1", "GitSource");
    const hooked = await client.get(gsType, ns, "hooked");
    expect(hooked?.metadata?.annotations?.["zitadel-operator.dev/requested-at"]).toBeTruthy();

    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
      leaseType,
      ns,
      "zitadel-operator",
    );
    expect(lease?.spec?.holderIdentity ?? "").toBe("");
    expect(stderr).not.toMatch(/"level":"error"/);
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
