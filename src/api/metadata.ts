import { z } from "zod";
import { DNS1123_LABEL } from "./formats.ts";

/** The names a kind accepts: stricter than Kubernetes' default because our names prefix child object names. */
export interface NameRule {
  pattern: string;
  maxLength: number;
  /** Why the limit exists, for the error message. */
  reason: string;
}

export function nameRuleMessage(rule: NameRule): string {
  return `metadata.name must match ${rule.pattern} and be at most ${rule.maxLength} characters: ${rule.reason}`;
}

/** The CEL twin of `objectMeta`'s name check, for the CRD root (metadata.name is the only metadata CEL may read). */
export function nameRuleCel(rule: NameRule): string {
  return `self.metadata.name.size() <= ${rule.maxLength} && self.metadata.name.matches('${rule.pattern}')`;
}

// Loose on purpose: objects read back from the API server carry uid, resourceVersion, managedFields and more.
export function objectMeta(rule: NameRule) {
  return z
    .looseObject({
      name: z
        .string()
        .max(rule.maxLength, nameRuleMessage(rule))
        .regex(new RegExp(rule.pattern), nameRuleMessage(rule))
        .optional(),
      generateName: z.string().max(253).optional(),
      namespace: z.string().max(63).regex(new RegExp(DNS1123_LABEL), "must be a DNS-1123 label").optional(),
      labels: z.record(z.string().max(317), z.string().max(63)).optional(),
      annotations: z.record(z.string().max(317), z.string()).optional(),
      generation: z.int().min(0).optional(),
      uid: z.string().optional(),
      resourceVersion: z.string().optional(),
      deletionTimestamp: z.string().optional(),
      finalizers: z.array(z.string()).optional(),
    })
    .refine((m) => m.name !== undefined || m.generateName !== undefined, {
      message: "required field is missing",
      path: ["name"],
    });
}

export type ObjectMeta = z.output<ReturnType<typeof objectMeta>>;
