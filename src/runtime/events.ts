// Kubernetes Events (events.k8s.io/v1) for every action the operator takes, so `kubectl describe` and
// `kubectl events` tell the story. Events are created, never updated: that is what they are for, so this is a
// plain create rather than server-side apply. The same event for the same object is not repeated within a
// window, so a failing reconcile that retries does not flood the API server.
import { randomBytes } from "node:crypto";
import type { KubeClient, KubeObject } from "./kube.ts";
import { redactString } from "./log.ts";

export const REPORTING_CONTROLLER = "zitadel-operator.dev/operator";

export interface EventInput {
  type: "Normal" | "Warning";
  /** CamelCase, e.g. "CertificateIssued". */
  reason: string;
  /** What the operator did or tried, e.g. "Issue". */
  action: string;
  /** A sentence for people. Secrets are redacted on the way out. */
  note: string;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly instance: string;
  private readonly windowMs: number;
  private readonly recent = new Map<string, number>();

  constructor(client: KubeClient, opts: { instance?: string; dedupeWindowMs?: number } = {}) {
    this.client = client;
    this.instance = opts.instance ?? process.env.POD_NAME ?? "zitadel-operator";
    this.windowMs = opts.dedupeWindowMs ?? 5 * 60_000;
  }

  /** Records an event about `regarding`. Never throws: an event that cannot be written is not worth a failed reconcile. */
  async record(regarding: KubeObject, input: EventInput): Promise<boolean> {
    const meta = regarding.metadata ?? {};
    const note = redactString(input.note).slice(0, 1024);
    const dedupeKey = `${meta.uid}|${input.type}|${input.reason}|${note}`;
    const now = Date.now();
    const last = this.recent.get(dedupeKey);
    if (last !== undefined && now - last < this.windowMs) return false;
    this.recent.set(dedupeKey, now);
    if (this.recent.size > 10_000) this.recent.clear();
    try {
      await this.client.create({
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: {
          name: `${meta.name}.${randomBytes(8).toString("hex")}`,
          namespace: meta.namespace ?? "default",
        },
        // MicroTime: the API server wants exactly six fractional digits.
        eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: this.instance,
        action: input.action,
        reason: input.reason,
        type: input.type,
        note,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
      });
      return true;
    } catch {
      this.recent.delete(dedupeKey);
      return false;
    }
  }
}
