import { z } from "zod";
import { resourceQuantity } from "./quantity.ts";

// Only the resource names that make sense for our pods, spelled out, so a typo such as "memroy" is an error
// instead of a silently ignored key.
const ResourceListSchema = z.strictObject({
  cpu: resourceQuantity().optional().describe('CPU, in cores ("2") or millicores ("500m").'),
  memory: resourceQuantity().optional().describe('Memory, such as "4Gi".'),
  "ephemeral-storage": resourceQuantity().optional().describe('Local scratch space, such as "1Gi".'),
});

export const ResourceRequirementsSchema = z.strictObject({
  requests: ResourceListSchema.optional().describe("Resources the scheduler reserves for each pod."),
  limits: ResourceListSchema.optional().describe(
    "Upper bounds for each pod. Setting the memory limit equal to the request avoids OOM kills under node pressure.",
  ),
});

export type ResourceRequirements = z.output<typeof ResourceRequirementsSchema>;
