import { z } from "zod";
import { API_VERSION } from "./group.ts";
import { type NameRule, objectMeta } from "./metadata.ts";

// Everything the CRD of one kind needs besides its field schemas: names, printer columns, subresources.

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  /** 1 = only with `kubectl get -o wide`. */
  priority?: number;
}

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath: string;
}

export interface KindOptions<K extends string, Spec extends z.ZodType, Status extends z.ZodType> {
  kind: K;
  plural: string;
  shortNames: string[];
  /** What the kind is, for `kubectl explain`. */
  description: string;
  name: NameRule;
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  scale?: ScaleSubresource;
}

export function defineKind<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  options: KindOptions<K, Spec, Status>,
) {
  const schema = z.strictObject({
    apiVersion: z.literal(API_VERSION, `must be ${API_VERSION}`),
    kind: z.literal(options.kind, `must be ${options.kind}`),
    metadata: objectMeta(options.name),
    spec: options.spec,
    status: options.status.optional(),
  });
  return { ...options, singular: options.kind.toLowerCase(), listKind: `${options.kind}List`, schema };
}

/** A kind with its types erased, for code that handles every kind alike (CRD generation, validation). */
export interface KindDefinition extends KindOptions<string, z.ZodType, z.ZodType> {
  singular: string;
  listKind: string;
  schema: z.ZodType;
}

export const READY_COLUMN: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: "Whether the object is ready.",
};

export const REASON_COLUMN: PrinterColumn = {
  name: "Reason",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: "Why the object is (not) ready.",
  priority: 1,
};

export const AGE_COLUMN: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since the object was created.",
};
