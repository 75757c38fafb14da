import { z } from "zod";
import { withRules } from "./annotations.ts";
import { parseQuantity, quantityString } from "./quantity.ts";

export const RETAIN_POLICIES = ["Retain", "Delete"] as const;

// PersistentVolumeClaims can grow but never shrink, and cannot move to another storage class: both are rejected
// at admission instead of failing later inside the StatefulSet controller.
export const StorageSchema = withRules(
  z.strictObject({
    size: quantityString()
      .default("10Gi")
      .describe(
        "Size of each node's volume. It can grow (the storage class must allow volume expansion) but never shrink.",
      ),
    storageClassName: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("StorageClass of the volumes; the cluster default when unset. Cannot change once set."),
    retainPolicy: z
      .enum(RETAIN_POLICIES)
      .default("Retain")
      .describe(
        "What happens to a node's volume when the cluster is deleted or the node is removed by a scale-down: " +
          "Retain keeps the PersistentVolumeClaim (and the data), Delete removes it.",
      ),
  }),
  [
    {
      rule: "quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0",
      message: "size cannot shrink: PersistentVolumeClaims can only grow",
      fieldPath: ".size",
    },
    {
      rule:
        "has(self.storageClassName) == has(oldSelf.storageClassName) && " +
        "(!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",
      message: "storageClassName is immutable: volumes cannot move to another storage class",
      fieldPath: ".storageClassName",
    },
    {
      rule: "quantity(self.size).compareTo(quantity('1Gi')) >= 0",
      message: "size must be at least 1Gi",
      fieldPath: ".size",
      check: (s) => (parseQuantity(s.size) ?? 0) >= 2 ** 30,
    },
  ],
);

export type Storage = z.output<typeof StorageSchema>;
