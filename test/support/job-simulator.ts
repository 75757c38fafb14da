// Plays `zitadel-operator job backup|restore|verify` where no database runs the Job: kwok ends the Job's pod, and
// this writes the JSON result line the command would have printed into the pod's termination message, through the
// pod status subresource, as the kubelet would. Owners (Backups, Restores) named in `hold` get no answer yet: their
// Jobs look still busy, as a long backup would.
import type { KubeClient, KubeObject } from "../../src/runtime/kube.ts";

const POD = { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true };

type PodObject = KubeObject & {
  spec?: { containers?: { args?: string[] }[] };
  status?: {
    phase?: string;
    containerStatuses?: { name: string; state?: { terminated?: Record<string, unknown> } }[];
  };
};

/** What the command would print for one finished pod, or undefined to leave it unanswered. */
export type Answer = (pod: {
  owner: string;
  command: string;
  args: string[];
  flag: (name: string) => string | undefined;
}) => Record<string, unknown> | undefined;

export class JobSimulator {
  readonly hold = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly commands: readonly string[];
  private readonly answer: Answer;

  constructor(client: KubeClient, namespace: string, commands: readonly string[], answer: Answer) {
    this.client = client;
    this.namespace = namespace;
    this.commands = commands;
    this.answer = answer;
  }

  start(): this {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.answerAll()
        .catch(() => {})
        .finally(() => {
          this.busy = false;
        });
    }, 100);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async answerAll(): Promise<void> {
    const { items } = await this.client.list<PodObject>(POD, {
      namespace: this.namespace,
      labelSelector: `app.kubernetes.io/managed-by=zitadel-operator,app.kubernetes.io/component in (${this.commands.join(",")})`,
    });
    for (const pod of items) {
      const owner = pod.metadata?.labels?.["zitadel-operator.dev/backup-owner"] ?? "";
      const command = pod.metadata?.labels?.["app.kubernetes.io/component"] ?? "";
      const status = pod.status?.containerStatuses?.[0];
      const terminated = status?.state?.terminated;
      if (pod.status?.phase !== "Succeeded" || !terminated || terminated.message || this.hold.has(owner))
        continue;
      const args = pod.spec?.containers?.[0]?.args ?? [];
      const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
      const result = this.answer({ owner, command, args, flag });
      if (result === undefined) continue;
      await this.client.apply(
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: pod.metadata?.name, namespace: this.namespace },
          status: {
            containerStatuses: [
              {
                ...status,
                state: { terminated: { ...terminated, message: JSON.stringify({ command, ...result }) } },
              },
            ],
          },
        },
        { subresource: "status", fieldManager: "job-simulator" },
      );
    }
  }
}
