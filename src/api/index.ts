// The v1alpha1 API: types, schemas, defaults and validation of every kind, and the CRDs generated from them.
// Other layers import from here; nothing in src/api does I/O.

export * from "./backup.ts";
export * from "./backupschedule.ts";
export * from "./cockroachcluster.ts";
export { CONDITION_STATUSES, type Condition, ConditionSchema, type ConditionStatus } from "./conditions.ts";
export { type CustomResourceDefinition, renderCrdFiles, renderCrds, renderCrdsYaml } from "./crds.ts";
export { type CronSchedule, nextRun, parseCron } from "./cron.ts";
export type { Destination } from "./destination.ts";
export { parseDuration } from "./duration.ts";
export * from "./gitsource.ts";
export type { KindDefinition, PrinterColumn } from "./kind.ts";
export { kindDefinition, pluralOf } from "./kinds.ts";
export type { ObjectMeta } from "./metadata.ts";
export { parseQuantity } from "./quantity.ts";
export type { CredentialsSecretRef, LocalRef, SecretKeyRef } from "./refs.ts";
export * from "./remotecluster.ts";
export type { ResourceRequirements } from "./resources.ts";
export * from "./restore.ts";
export type { Scheduling } from "./scheduling.ts";
export type { Storage } from "./storage.ts";
export * from "./validate.ts";
export * from "./zitadel.ts";
