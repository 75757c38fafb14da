// What every controller of ours is built from: the manager's client, the shared Event recorder and logger, the
// namespaces to watch, how many reconciles may run at once, and a clock tests can replace.
import type { EventRecorder } from "../runtime/events.ts";
import type { KubeClient } from "../runtime/kube.ts";
import type { Logger } from "../runtime/log.ts";

export interface ControllerOptions {
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
  now?: () => Date;
}
