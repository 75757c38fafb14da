// Where CockroachDB writes a backup: the same directory as the one the PostgreSQL engine writes to
// (<prefix>/<namespace>/<source>/<backupName>/, manifest.ts), used as a backup collection of its own. One
// collection per Backup means `LATEST` in it is always this Backup's, deleting a Backup is one prefix delete, and
// two Backups can never race for a collection's `LATEST`.
import { type StorageLocation, storageUri } from "../db/cockroach.ts";
import { type BackupLocation, backupDirectory } from "./manifest.ts";

export interface CollectionStore {
  readonly s3?: {
    readonly bucket: string;
    readonly prefix?: string;
    readonly endpoint?: string;
    readonly region?: string;
    readonly forcePathStyle?: boolean;
    readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  readonly gcs?: { readonly bucket: string; readonly prefix?: string; readonly credentialsJson?: string };
}

/** The collection's URI (with credentials: never log it) and its description (without). */
export function backupCollection(
  store: CollectionStore,
  location: BackupLocation,
): { uri: string; description: string } {
  const directory = backupDirectory(location).replace(/\/$/, "");
  const join = (prefix: string | undefined) =>
    [prefix?.replace(/^\/+|\/+$/g, ""), directory].filter((p) => p !== undefined && p !== "").join("/");
  let target: StorageLocation;
  let description: string;
  if (store.s3 !== undefined) {
    const { credentials, prefix, ...rest } = store.s3;
    target = { kind: "s3", ...rest, prefix: join(prefix), ...(credentials ? { credentials } : {}) };
    description = `s3://${store.s3.bucket}/${join(prefix)}`;
  } else if (store.gcs !== undefined) {
    const { credentialsJson, prefix, bucket } = store.gcs;
    target = { kind: "gcs", bucket, prefix: join(prefix), ...(credentialsJson ? { credentialsJson } : {}) };
    description = `gs://${bucket}/${join(prefix)}`;
  } else {
    throw new Error(
      "CockroachDB writes backups from its own nodes straight to object storage: use destination.s3 or destination.gcs, not a PVC",
    );
  }
  return { uri: storageUri(target), description };
}
