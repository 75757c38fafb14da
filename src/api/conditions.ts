import { z } from "zod";
import { listMap } from "./annotations.ts";
import { timestamp } from "./formats.ts";

// metav1.Condition, field for field, so kubectl, kstatus and `kubectl wait --for=condition=Ready` understand it.
export const CONDITION_STATUSES = ["True", "False", "Unknown"] as const;

export const ConditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/,
      )
      .describe('Type of the condition in CamelCase, such as "Ready".'),
    status: z.enum(CONDITION_STATUSES).describe("Whether the condition holds: True, False or Unknown."),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("The .metadata.generation the condition was computed from."),
    lastTransitionTime: timestamp().describe("When the condition last changed status (RFC 3339)."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('Machine-readable CamelCase reason for the last transition, such as "InvalidSpec".'),
    message: z
      .string()
      .max(32768)
      .describe("Human-readable explanation: what is wrong and what to do about it."),
  })
  .describe("One aspect of the object's state.");

export type Condition = z.output<typeof ConditionSchema>;
export type ConditionStatus = Condition["status"];

/** The two status fields every kind has; spread into each status object. */
export const commonStatusFields = {
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .describe("The .metadata.generation the operator last acted on; status is stale while it lags behind."),
  conditions: listMap(z.array(ConditionSchema).max(32), ["type"])
    .optional()
    .describe('Current state as conditions; "Ready" summarizes the object, its reason and message say why.'),
};
