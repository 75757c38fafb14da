// The status of a Zitadel in words someone on call can act on: one condition per step (DatabaseReady,
// Migrated, Available) and Ready summing them up, plus the numbers `kubectl get` and the scale subresource show.
import type { Condition } from "../../api/conditions.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import { externalUrl } from "../../render/zitadel/config.ts";
import { podSelectorString } from "../../render/zitadel/meta.ts";
import { type ConditionInput, setCondition } from "../../runtime/status.ts";

export type ZitadelStatusObject = {
  observedGeneration?: number;
  conditions?: Condition[];
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  currentVersion?: string;
  migratedVersion?: string;
  url?: string;
  masterkeySecretName?: string;
};

export class StatusBuilder {
  private conditions: Condition[];
  private readonly fields: ZitadelStatusObject;
  private readonly generation: number | undefined;
  private readonly now: Date;

  constructor(zitadel: Zitadel, previous: ZitadelStatusObject | undefined, now: Date) {
    this.generation = zitadel.metadata.generation;
    this.now = now;
    this.conditions = previous?.conditions ?? [];
    // Facts that stay true until a step says otherwise: the migrated and the running version.
    this.fields = {
      ...previous,
      observedGeneration: zitadel.metadata.generation,
      selector: podSelectorString(zitadel),
      url: externalUrl(zitadel.spec),
    };
  }

  set(type: string, status: ConditionInput["status"], reason: string, message: string): this {
    this.conditions = setCondition(
      this.conditions,
      { type, status, reason, message },
      this.generation,
      this.now,
    );
    return this;
  }

  /** Ready=False with the reason of the step that stopped the reconcile. */
  notReady(reason: string, message: string): this {
    return this.set("Ready", "False", reason, message);
  }

  with(fields: Partial<ZitadelStatusObject>): this {
    Object.assign(this.fields, fields);
    return this;
  }

  build(): ZitadelStatusObject {
    const out: Record<string, unknown> = { ...this.fields, conditions: this.conditions };
    for (const [key, value] of Object.entries(out)) if (value === undefined) delete out[key];
    return out as ZitadelStatusObject;
  }
}
