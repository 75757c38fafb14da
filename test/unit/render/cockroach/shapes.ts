// The parts of rendered objects the tests read, typed for them.
import type { KubeObject } from "../../../../src/runtime/kube.ts";

export interface Container {
  name: string;
  image: string;
  command: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
  resources?: Record<string, Record<string, string>>;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items: { key: string; path: string; mode: number }[] };
}

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    volumes: Volume[];
    affinity?: Record<string, unknown>;
    restartPolicy?: string;
    [field: string]: unknown;
  };
}

export interface StatefulSet extends KubeObject {
  spec: {
    replicas: number;
    updateStrategy: { rollingUpdate: { partition: number } };
    selector: { matchLabels: Record<string, string> };
    template: PodTemplate;
    volumeClaimTemplates: { spec: Record<string, unknown> }[];
    [field: string]: unknown;
  };
}

export interface Job extends KubeObject {
  spec: { backoffLimit: number; template: PodTemplate };
}

export const asStatefulSet = (obj: KubeObject) => obj as StatefulSet;
export const asJob = (obj: KubeObject) => obj as Job;

export function container(template: PodTemplate, name: string): Container {
  const found = template.spec.containers.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** The arguments of `cockroach start`, whether passed as args or inside a bash script. */
export function startFlags(template: PodTemplate): string[] {
  const db = container(template, "cockroachdb");
  if (db.args !== undefined) return db.args.slice(1);
  const exec = (db.command[2] ?? "").split("\n").find((line) => line.startsWith("exec "));
  // Words the script quotes (they hold brackets) are compared unquoted.
  return (exec ?? "")
    .split(" ")
    .slice(3)
    .map((word) => word.replace(/^'(.*)'$/, "$1"));
}

export function flag(flags: readonly string[], name: string): string | undefined {
  return flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
}
