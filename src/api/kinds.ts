import type { z } from "zod";
import { type Backup, BackupKind } from "./backup.ts";
import { type BackupSchedule, BackupScheduleKind } from "./backupschedule.ts";
import { type CockroachCluster, CockroachClusterKind } from "./cockroachcluster.ts";
import { type GitSource, GitSourceKind } from "./gitsource.ts";
import type { KindDefinition } from "./kind.ts";
import { type RemoteCluster, RemoteClusterKind } from "./remotecluster.ts";
import { type Restore, RestoreKind } from "./restore.ts";
import { type Zitadel, ZitadelKind } from "./zitadel.ts";

// Every kind of the API, in the order CRDs are printed and documented.
export const KINDS = [
  "CockroachCluster",
  "Zitadel",
  "Backup",
  "BackupSchedule",
  "Restore",
  "GitSource",
  "RemoteCluster",
] as const;

export type KindName = (typeof KINDS)[number];

/** Every resource of this API, discriminated by `kind`, with defaults applied. */
export type Resource =
  | CockroachCluster
  | Zitadel
  | Backup
  | BackupSchedule
  | Restore
  | GitSource
  | RemoteCluster;

/** The resource type of one kind: `ResourceOf<"Zitadel">` is `Zitadel`. */
export type ResourceOf<K extends KindName> = Extract<Resource, { kind: K }>;

const DEFINITIONS = {
  CockroachCluster: CockroachClusterKind,
  Zitadel: ZitadelKind,
  Backup: BackupKind,
  BackupSchedule: BackupScheduleKind,
  Restore: RestoreKind,
  GitSource: GitSourceKind,
  RemoteCluster: RemoteClusterKind,
} satisfies { [K in KindName]: { kind: K; schema: z.ZodType<ResourceOf<K>, unknown> } };

export function isKindName(value: unknown): value is KindName {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

/** Names, printer columns and schema of one kind. */
export function kindDefinition(kind: KindName): KindDefinition {
  return DEFINITIONS[kind];
}

/** The REST resource name of a kind ("cockroachclusters"), for building API paths. */
export function pluralOf(kind: KindName): string {
  return DEFINITIONS[kind].plural;
}
