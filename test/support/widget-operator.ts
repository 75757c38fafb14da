// A whole operator process around the Widget controller, for tests that kill and restart operators or run
// two replicas. Configured by environment: KUBECONFIG_PATH, NAMESPACE, LEADER_ELECTION (a Lease namespace),
// IDENTITY, APPLY_DELAY_MS (a pause between applying the ConfigMap and writing status: a window to kill in).
// It prints one JSON line per reconcile on stdout: {"reconcile": key, "identity": ...}.
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "../../src/runtime/log.ts";
import { Manager } from "../../src/runtime/manager.ts";
import { widgetController } from "./widget.ts";

const env = process.env;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(env.KUBECONFIG_PATH ?? "");
const identity = env.IDENTITY ?? `widget-${process.pid}`;
const manager = new Manager({
  kubeConfig,
  log: createLogger({ level: "warn" }),
  leaderElection: env.LEADER_ELECTION
    ? {
        namespace: env.LEADER_ELECTION,
        name: "widget-operator",
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
      }
    : undefined,
});
const delay = Number(env.APPLY_DELAY_MS ?? 0);
manager.add(
  widgetController({
    client: manager.client,
    log: manager.log,
    namespaces: env.NAMESPACE ? [env.NAMESPACE] : undefined,
    onReconcile: (key) => {
      process.stdout.write(`${JSON.stringify({ reconcile: key, identity })}\n`);
    },
    afterApply: delay ? () => new Promise((r) => setTimeout(r, delay)) : undefined,
  }),
);
await manager.start();
process.stdout.write(`${JSON.stringify({ started: identity })}\n`);
process.once("SIGTERM", () => {
  void manager.stop().then(() => process.exit(0));
});
