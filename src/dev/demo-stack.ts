// The example stack that `dev up` applies: examples/ as published, plus what they reference that a fresh local
// control plane lacks, so the stack converges on the pod simulator instead of waiting forever:
// - the PriorityClass the CockroachCluster's pods ask for (the API server refuses pods of an unknown class);
// - the simulator's StorageClass instead of the example's (kwok binds claims of its own class only);
// - the Secrets the examples name but cannot ship (SMTP configuration, object-store keys), as placeholders that
//   say so. Nothing here is a credential: the simulator runs no container.
// Every change is logged, so what runs locally never differs from the examples silently.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../controlplane/binaries.ts";
import type { KubeClient, KubeObject } from "../runtime/kube.ts";

/** The example files applied, in dependency order: the database before what uses it. */
export const DEMO_EXAMPLES = ["cockroachcluster.yaml", "zitadel.yaml", "backupschedule.yaml"];

/** The StorageClass whose claims kwok's volume stages bind (controlplane.ts makes it the default). */
const SIMULATED_STORAGE_CLASS = "kwok-volume";
const PLACEHOLDER = { "zitadel-operator.dev/demo-placeholder": "true" };

type Obj = KubeObject & { spec?: Record<string, unknown> };

export interface DemoStack {
  /** Cluster-scoped objects first (PriorityClasses), then the namespace's, in apply order. */
  readonly objects: KubeObject[];
  /** One line per change made to the examples for the simulator. */
  readonly adaptations: string[];
}

/** The examples' objects for `namespace`, adapted to the simulator, with the objects they reference. */
export function demoStack(
  examples: readonly { file: string; objects: Obj[] }[],
  namespace: string,
): DemoStack {
  const adaptations: string[] = [];
  const before: KubeObject[] = [];
  const objects: KubeObject[] = [];
  const have = new Set<string>();
  const add = (list: KubeObject[], obj: KubeObject, why: string) => {
    const key = `${obj.kind}/${obj.metadata?.name}`;
    if (have.has(key)) return;
    have.add(key);
    list.push(obj);
    adaptations.push(`added ${obj.kind} ${obj.metadata?.name}: ${why}`);
  };
  const secret = (name: string, stringData: Record<string, string>, why: string) =>
    add(
      objects,
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace, labels: PLACEHOLDER },
        stringData,
      } as KubeObject,
      why,
    );

  for (const { file, objects: docs } of examples) {
    for (const doc of docs) {
      const obj: Obj = structuredClone({ ...doc, metadata: { ...doc.metadata, namespace } });
      const name = obj.metadata?.name;
      const spec = obj.spec ?? {};
      if (obj.kind === "CockroachCluster") {
        const storage = spec.storage as { storageClassName?: string } | undefined;
        if (storage?.storageClassName !== undefined && storage.storageClassName !== SIMULATED_STORAGE_CLASS) {
          adaptations.push(
            `${file}: CockroachCluster ${name} uses StorageClass ${SIMULATED_STORAGE_CLASS} instead of ${storage.storageClassName} (the simulator binds only its own)`,
          );
          storage.storageClassName = SIMULATED_STORAGE_CLASS;
        }
        const priority = (spec.scheduling as { priorityClassName?: string } | undefined)?.priorityClassName;
        if (priority !== undefined) {
          add(
            before,
            {
              apiVersion: "scheduling.k8s.io/v1",
              kind: "PriorityClass",
              metadata: { name: priority },
              value: 1000000,
            } as KubeObject,
            `CockroachCluster ${name} runs its pods at this priority`,
          );
        }
      }
      if (obj.kind === "Zitadel") {
        const config = spec.configSecretRef as { name: string; key?: string } | undefined;
        if (config !== undefined) {
          secret(
            config.name,
            {
              [config.key ?? "config.yaml"]: [
                "# A placeholder from `zitadel-operator dev up`: no mail leaves a simulated cluster.",
                "DefaultInstance:",
                "  SMTPConfiguration:",
                "    SMTP:",
                "      Host: smtp.invalid:587",
                "    From: zitadel@example.com",
                "",
              ].join("\n"),
            },
            `Zitadel ${name} reads extra configuration from it (spec.configSecretRef)`,
          );
        }
      }
      if (obj.kind === "BackupSchedule") {
        const s3 = (spec.template as { destination?: { s3?: { credentialsSecretRef?: { name: string } } } })
          ?.destination?.s3;
        if (s3?.credentialsSecretRef !== undefined) {
          secret(
            s3.credentialsSecretRef.name,
            { AWS_ACCESS_KEY_ID: "placeholder", AWS_SECRET_ACCESS_KEY: "placeholder" },
            `BackupSchedule ${name} writes to S3 with these keys (placeholders: the simulator runs no Job)`,
          );
        }
      }
      objects.push(obj);
    }
  }
  return { objects: [...before, ...objects], adaptations };
}

/** Reads examples/ (the files of DEMO_EXAMPLES that exist). */
export async function readExamples(): Promise<{ file: string; objects: Obj[] }[]> {
  const out: { file: string; objects: Obj[] }[] = [];
  for (const file of DEMO_EXAMPLES) {
    const path = join(repoRoot, "examples", file);
    if (!existsSync(path)) continue;
    const objects = parseAllDocuments(await readFile(path, "utf8"))
      .map((doc) => doc.toJSON() as Obj | null)
      .filter((obj): obj is Obj => obj?.kind !== undefined);
    out.push({ file, objects });
  }
  return out;
}

/** Applies the demo stack into `namespace` (created if missing) and logs every object and adaptation. */
export async function applyDemoStack(
  client: KubeClient,
  namespace: string,
  log: (line: string) => void,
): Promise<DemoStack> {
  const stack = demoStack(await readExamples(), namespace);
  await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  for (const line of stack.adaptations) log(`for the simulator: ${line}`);
  for (const obj of stack.objects) {
    await client.apply(obj);
    log(
      `applied ${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata?.name}`,
    );
  }
  return stack;
}
