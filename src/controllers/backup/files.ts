// deletionPolicy: Delete. A Backup that says so carries a finalizer from its first reconcile on, so its files go
// with it whichever way it is deleted (by hand, or by a schedule's retention). The operator deletes them itself
// from an S3 or GCS store: one prefix delete of the backup's directory (src/backup/manifest.ts backupDirectory),
// with the credentials of the destination's credentialsSecretRef read for that one call. Files on a PVC cannot be
// reached from the operator's pod: they are kept, and a Warning Event says where they are.
import type { Backup } from "../../api/backup.ts";
import {
  type ClosableStore,
  type StoreCredentials,
  storeForDestination,
} from "../../backup/destination-store.ts";
import { backupDirectory } from "../../backup/manifest.ts";
import { deletePrefix } from "../../backup/store.ts";
import type { KubeClient, KubeObject } from "../../runtime/kube.ts";

export const FILES_FINALIZER = "zitadel-operator.dev/backup-files";

const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };

export type FilesOutcome =
  | { deleted: number; where: string }
  | { kept: string }
  | { failed: { reason: string; message: string } };

export async function deleteBackupFiles(
  client: KubeClient,
  backup: Backup,
  namespace: string,
): Promise<FilesOutcome> {
  const source = backup.spec.source.zitadelRef?.name ?? backup.spec.source.cockroachClusterRef?.name ?? "";
  const directory = backupDirectory({ namespace, source, backupName: backup.metadata.name ?? "" });
  const { s3, gcs, pvc } = backup.spec.destination;
  if (pvc !== undefined)
    return {
      kept: `the files on PVC ${pvc.claimName} under ${pvc.path}/${directory} are kept: the operator cannot reach a volume`,
    };
  const gone = (secret: string): FilesOutcome => ({
    failed: {
      reason: "SecretNotFound",
      message: `Secret ${secret} with the store's credentials is gone; the files under ${directory} cannot be deleted`,
    },
  });
  let credentials: StoreCredentials = {};
  if (s3?.credentialsSecretRef !== undefined) {
    const ref = s3.credentialsSecretRef;
    const read = await secretReader(client, namespace, ref.name);
    const accessKeyId = read(ref.accessKeyIDKey);
    const secretAccessKey = read(ref.secretAccessKeyKey);
    if (accessKeyId === undefined || secretAccessKey === undefined) return gone(ref.name);
    credentials = { s3: { accessKeyId, secretAccessKey } };
  }
  if (gcs?.credentialsSecretRef !== undefined) {
    const ref = gcs.credentialsSecretRef;
    const json = (await secretReader(client, namespace, ref.name))(ref.key);
    if (json === undefined) return gone(ref.name);
    credentials = { gcsCredentialsJson: json };
  }
  let store: ClosableStore;
  try {
    store = storeForDestination({ ...(s3 ? { s3 } : {}), ...(gcs ? { gcs } : {}) }, credentials);
  } catch (err) {
    return {
      failed: {
        reason: "DeleteFailed",
        message: `the store of the files under ${directory}: ${err instanceof Error ? err.message : String(err)}`,
      },
    };
  }
  try {
    const deleted = await deletePrefix(store, directory);
    return { deleted, where: `${store.description}${directory}` };
  } catch (err) {
    return {
      failed: {
        reason: "DeleteFailed",
        message: `deleting ${store.description}${directory}: ${err instanceof Error ? err.message : String(err)}`,
      },
    };
  } finally {
    store.close();
  }
}

/** The decoded values of a Secret, read for one call and not kept. */
async function secretReader(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<(key: string) => string | undefined> {
  const secret = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, namespace, name);
  return (key) => {
    const v = secret?.data?.[key];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
}
