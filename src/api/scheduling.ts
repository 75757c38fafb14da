import { z } from "zod";
import { withRules } from "./annotations.ts";

const TolerationSchema = withRules(
  z.strictObject({
    key: z
      .string()
      .min(1)
      .max(317)
      .optional()
      .describe("Taint key the toleration applies to; empty means all taints."),
    operator: z
      .enum(["Exists", "Equal"])
      .default("Equal")
      .describe("Equal matches the taint value; Exists matches any value."),
    value: z.string().max(63).optional().describe("Taint value to match when operator is Equal."),
    effect: z
      .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
      .optional()
      .describe("Taint effect to match; empty matches all effects."),
    tolerationSeconds: z
      .int()
      .min(0)
      .optional()
      .describe("For NoExecute taints: how long the pod stays bound after the taint appears."),
  }),
  [
    {
      rule: "self.operator != 'Exists' || !has(self.value)",
      message: "value must be empty when operator is Exists",
      fieldPath: ".value",
      check: (t) => t.operator !== "Exists" || t.value === undefined,
    },
  ],
).describe("Allows pods onto nodes with a matching taint.");

export const SchedulingSchema = z.strictObject({
  nodeSelector: z
    .record(z.string().max(317), z.string().max(63))
    .optional()
    .describe("Pods only run on nodes carrying all of these labels."),
  tolerations: z.array(TolerationSchema).max(32).optional().describe("Taints the pods tolerate."),
  priorityClassName: z
    .string()
    .min(1)
    .max(253)
    .optional()
    .describe("PriorityClass of the pods; databases usually deserve a high one."),
  podAntiAffinity: z
    .enum(["Preferred", "Required", "None"])
    .default("Preferred")
    .describe(
      "How hard the scheduler spreads pods of this object over Kubernetes nodes. Required refuses to co-locate two " +
        "pods (pods stay Pending if nodes run out); Preferred co-locates only when it must.",
    ),
});

export type Scheduling = z.output<typeof SchedulingSchema>;
