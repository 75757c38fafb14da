// The one place that turns a Backup's object store destination (destination.s3 or destination.gcs) and the
// credentials read for it into an ObjectStore: the Jobs (src/cli/job.ts, from their flags) and the operator
// (deleting a Backup's files, src/controllers/backup/files.ts) build their stores here, so both address the same
// objects. A PVC is no object store: the Job opens the mounted directory itself (fs-store.ts), the operator cannot
// reach it at all.
import type { Destination } from "../api/destination.ts";
import { GcsStore } from "./gcs-store.ts";
import { S3Store } from "./s3-store.ts";
import type { ObjectStore } from "./store.ts";

export type S3Destination = Omit<NonNullable<Destination["s3"]>, "credentialsSecretRef">;
export type GcsDestination = Omit<NonNullable<Destination["gcs"]>, "credentialsSecretRef">;

/** Credentials as read from the destination's Secret; ambient credentials are used for whatever is unset. */
export interface StoreCredentials {
  readonly s3?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** A service account JSON key. */
  readonly gcsCredentialsJson?: string;
}

export interface ClosableStore extends ObjectStore {
  /** Releases the client's connections, so a short-lived process exits promptly. */
  close(): void;
}

export function storeForDestination(
  destination: { readonly s3?: S3Destination; readonly gcs?: GcsDestination },
  credentials: StoreCredentials = {},
): ClosableStore {
  const { s3, gcs } = destination;
  if (gcs !== undefined && s3 === undefined)
    return new GcsStore({
      bucket: gcs.bucket,
      ...(gcs.prefix ? { prefix: gcs.prefix } : {}),
      ...(gcs.endpoint ? { endpoint: gcs.endpoint } : {}),
      ...(credentials.gcsCredentialsJson === undefined
        ? {}
        : { credentialsJson: credentials.gcsCredentialsJson }),
    });
  if (s3 !== undefined && gcs === undefined)
    return new S3Store({
      bucket: s3.bucket,
      ...(s3.prefix ? { prefix: s3.prefix } : {}),
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.region ? { region: s3.region } : {}),
      forcePathStyle: s3.forcePathStyle,
      ...(credentials.s3 === undefined ? {} : { credentials: { ...credentials.s3 } }),
    });
  throw new Error("an object store destination has exactly one of s3 or gcs");
}
