// deletionPolicy: Delete. A Backup that says so carries a finalizer from its first reconcile on, so its files go
// with it whichever way it is deleted (by hand, or by a schedule's retention). The operator deletes them itself
// from an S3 store: one prefix delete of the backup's directory (src/backup/manifest.ts backupDirectory), with the
// credentials of destination.s3.credentialsSecretRef read for that one call. Files on a PVC cannot be reached from
// the operator's pod: they are kept, and a Warning Event says where they are.
import type { Backup } from "../../api/backup.ts";
import { backupDirectory } from "../../backup/manifest.ts";
import { S3Store } from "../../backup/s3-store.ts";
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
  const { s3, pvc } = backup.spec.destination;
  if (pvc !== undefined)
    return {
      kept: `the files on PVC ${pvc.claimName} under ${pvc.path}/${directory} are kept: the operator cannot reach a volume`,
    };
  if (s3 === undefined) return { kept: "only S3 destinations are cleaned up by the operator" };
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  const ref = s3.credentialsSecretRef;
  if (ref !== undefined) {
    const secret = await client.get<KubeObject & { data?: Record<string, string> }>(
      SECRET,
      namespace,
      ref.name,
    );
    const read = (key: string) => {
      const v = secret?.data?.[key];
      return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
    };
    const accessKeyId = read(ref.accessKeyIDKey);
    const secretAccessKey = read(ref.secretAccessKeyKey);
    if (accessKeyId === undefined || secretAccessKey === undefined)
      return {
        failed: {
          reason: "SecretNotFound",
          message: `Secret ${ref.name} with the store's credentials is gone; the files under ${directory} cannot be deleted`,
        },
      };
    credentials = { accessKeyId, secretAccessKey };
  }
  const store = new S3Store({
    bucket: s3.bucket,
    ...(s3.prefix ? { prefix: s3.prefix } : {}),
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.region ? { region: s3.region } : {}),
    forcePathStyle: s3.forcePathStyle,
    ...(credentials ? { credentials } : {}),
  });
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
