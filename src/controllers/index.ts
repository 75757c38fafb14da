// Every controller of the operator, registered with a manager: one per kind.
import { EventRecorder } from "../runtime/events.ts";
import type { Manager } from "../runtime/manager.ts";
import { backupController } from "./backup/controller.ts";
import { backupScheduleController } from "./backupschedule/controller.ts";
import { cockroachClusterController } from "./cockroachcluster/controller.ts";
import { gitSourceController } from "./gitsource/controller.ts";
import { remoteClusterController } from "./remotecluster/controller.ts";
import { restoreController } from "./restore/controller.ts";
import { zitadelController } from "./zitadel/controller.ts";

export interface ControllerSettings {
  namespaces?: string[];
  /** Reconciles of one controller that may run at the same time. */
  concurrency?: number;
  /** Where GitSources keep their repositories (an emptyDir in the operator's pod). */
  gitCacheDir?: string;
}

export function registerControllers(manager: Manager, settings: ControllerSettings = {}): void {
  const events = new EventRecorder(manager.client);
  const common = {
    client: manager.client,
    events,
    log: manager.log,
    namespaces: settings.namespaces,
    concurrency: settings.concurrency,
  };
  manager.add(cockroachClusterController(common));
  manager.add(zitadelController(common));
  manager.add(backupController(common));
  manager.add(backupScheduleController(common));
  manager.add(restoreController(common));
  manager.add(gitSourceController({ ...common, cacheDir: settings.gitCacheDir }));
  manager.add(remoteClusterController(common));
}
