// Which fields a server-side apply would change: the live object against the dry-run result. Pure.
//
// Only field paths come out, never values, so a Secret's diff shows `data.password` and nothing of the password.
// Fields the API server maintains and our per-commit annotations are left out: a new commit alone is not a change.

import { formatPath } from "../api/validate.ts";
import type { KubeObject } from "../runtime/kube.ts";
import { AUTHOR_ANNOTATION, REVISION_ANNOTATION } from "./manifests.ts";

const SERVER_FIELDS = new Set([
  "metadata.managedFields",
  "metadata.resourceVersion",
  "metadata.generation",
  "metadata.uid",
  "metadata.creationTimestamp",
  "metadata.selfLink",
  "status",
]);
const PER_COMMIT_ANNOTATIONS = new Set([REVISION_ANNOTATION, AUTHOR_ANNOTATION]);

/** Dotted paths (as validation messages print them) whose values differ between `live` and `desired`. */
export function changedFields(live: KubeObject, desired: KubeObject): string[] {
  const changes: string[] = [];
  compare(live, desired, [], changes);
  return changes;
}

function compare(a: unknown, b: unknown, path: (string | number)[], out: string[]): void {
  const formatted = formatPath(path);
  if (SERVER_FIELDS.has(formatted)) return;
  if (
    path.length === 3 &&
    path[0] === "metadata" &&
    path[1] === "annotations" &&
    PER_COMMIT_ANNOTATIONS.has(String(path[2]))
  ) {
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) {
      out.push(formatted);
      return;
    }
    a.forEach((item, i) => {
      compare(item, b[i], [...path, i], out);
    });
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) compare(a[key], b[key], [...path, key], out);
    return;
  }
  if (!Object.is(a, b)) out.push(formatted === "" ? "(whole object)" : formatted);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
