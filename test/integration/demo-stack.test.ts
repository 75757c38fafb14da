// The stack `zitadel-operator dev up` (the README's first command) applies converges on the simulator: the
// CockroachCluster and the Zitadel become Ready and the BackupSchedule schedules, with the real operator.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_VERSION } from "../../src/api/index.ts";
import { applyDemoStack } from "../../src/dev/demo-stack.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
let ns: string;
let operator: Manager | undefined;

type WithConditions = KubeObject & {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
};

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "demo");
  operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [ns] });
  await operator.start();
});

afterAll(async () => {
  await operator?.stop();
});

describe("the demo stack of dev up", () => {
  it("becomes Ready on the simulator: CockroachCluster, Zitadel, BackupSchedule", async () => {
    const logged: string[] = [];
    const t0 = Date.now();
    await applyDemoStack(client, ns, (line) => logged.push(line));
    expect(logged.filter((l) => l.startsWith("for the simulator:"))).toHaveLength(4);
    const ready = async (kind: string, name: string) => {
      const type = await client.resourceType(API_VERSION, kind);
      await eventually(
        async () => {
          const o = await client.get<WithConditions>(type, ns, name);
          const r = o?.status?.conditions?.find((c) => c.type === "Ready");
          expect(r?.status, `${kind} ${name}: ${r?.message}`).toBe("True");
        },
        { timeoutMs: 90_000 },
      );
    };
    await ready("CockroachCluster", "identity-db");
    await ready("Zitadel", "zitadel");
    await ready("BackupSchedule", "identity-db-nightly");
    console.info(`demo stack Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
