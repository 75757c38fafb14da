// `zitadel-operator restore <name> --backup <backup>`: creates a Restore and, with --wait, follows it through
// scaling ZITADEL down, the restore Job, setup and the scale-up, until it completed or failed. Restoring over the
// live database needs --overwrite, as the Restore's overwrite field does.
import type { Command } from "commander";
import { API_VERSION } from "../api/index.ts";
import {
  type ClusterOptions,
  checkOutput,
  connect,
  describeRun,
  follow,
  print,
  printDescription,
  type RunObject,
  TYPES,
  withClusterOptions,
} from "./backup.ts";

export interface RestoreFlags {
  backup?: string;
  zitadel?: string;
  cockroachCluster?: string;
  database?: string;
  newDatabase?: string;
  asOf?: string;
  ageIdentitySecret?: string;
  overwrite?: boolean;
}

export function restoreResource(namespace: string, name: string, flags: RestoreFlags) {
  if (flags.zitadel !== undefined && flags.cockroachCluster !== undefined)
    throw new Error("give at most one of --zitadel or --cockroach-cluster");
  const target = {
    ...(flags.zitadel ? { zitadelRef: { name: flags.zitadel } } : {}),
    ...(flags.cockroachCluster ? { cockroachClusterRef: { name: flags.cockroachCluster } } : {}),
    ...(flags.database ? { database: flags.database } : {}),
    ...(flags.newDatabase ? { newDatabaseName: flags.newDatabase } : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: "Restore",
    metadata: { name, namespace },
    spec: {
      backupRef: { name: flags.backup ?? "" },
      ...(Object.keys(target).length > 0 ? { target } : {}),
      ...(flags.asOf ? { asOf: flags.asOf } : {}),
      ...(flags.ageIdentitySecret ? { ageIdentitySecretRef: { name: flags.ageIdentitySecret } } : {}),
      overwrite: flags.overwrite === true,
    },
  };
}

export function registerRestoreCommand(program: Command): void {
  withClusterOptions(program.command("restore <name>"))
    .description(
      "restore a Backup into the database it was taken of (or --new-database next to it); with --wait, follow it",
    )
    .option("--backup <name>", "the Completed Backup to restore")
    .option("--zitadel <name>", "the Zitadel to restore into (default: the one the Backup was taken of)")
    .option("--cockroach-cluster <name>", "the CockroachCluster to restore into (default: the backed-up one)")
    .option("--database <name>", "CockroachDB: which database of the backup to restore")
    .option(
      "--as-of <time>",
      "CockroachDB: an earlier point in time (RFC 3339), from a Backup with revisionHistory",
    )
    .option(
      "--age-identity-secret <secret>",
      "Secret with the age identity (key identity) that decrypts the backup's masterkey, when it is not the Zitadel's",
    )
    .option("--new-database <name>", "restore next to the live database under this name")
    .option("--overwrite", "replace the live database; ZITADEL is scaled to zero meanwhile")
    .option("--wait", "follow the Restore until it completed or failed; exit 1 if it failed")
    .option("--timeout <seconds>", "with --wait: give up after this long", "3600")
    .option("--describe", "instead of creating: show the Restore <name>, its conditions and Events")
    .action(
      async (
        name: string,
        opts: RestoreFlags &
          ClusterOptions & { output: string; wait?: boolean; timeout: string; describe?: boolean },
      ) => {
        const output = checkOutput(opts.output);
        const { client, namespace } = connect(opts);
        if (opts.describe) {
          const d = await describeRun(client, TYPES.restore, namespace, name);
          return output === "table" ? printDescription(d) : print(d, output);
        }
        if (opts.backup === undefined) throw new Error("give --backup <name>: the Backup to restore");
        const created = await client.create<RunObject>(
          restoreResource(namespace, name, { ...opts, backup: opts.backup }),
        );
        if (!opts.wait) {
          if (output === "table") console.log(`Restore ${namespace}/${name} created`);
          else print(created, output);
          return;
        }
        const done = await follow(client, TYPES.restore, namespace, name, {
          timeoutMs: Number(opts.timeout) * 1000,
          onProgress: (line) => (output === "table" ? console.log(line) : console.error(line)),
        });
        if (output !== "table") print(done, output);
        if (done.status?.phase !== "Completed") process.exitCode = 1;
      },
    );
}
