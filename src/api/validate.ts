import type { z } from "zod";
import { API_VERSION } from "./group.ts";
import { isKindName, KINDS, type KindName, kindDefinition, type Resource, type ResourceOf } from "./kinds.ts";

export { API_VERSION, CATEGORY, GROUP, VERSION } from "./group.ts";
export { isKindName, KINDS, type KindName, type Resource, type ResourceOf } from "./kinds.ts";

/** One problem with a resource: `path` is dotted ("spec.regions[1].name"), "" for the object itself. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; resource: Resource } | { ok: false; issues: ValidationIssue[] };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `["spec", "regions", 1, "name"]` -> `spec.regions[1].name`; odd keys are quoted: `labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment))
      out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "object") return "object";
  return typeof value;
}

// Messages for the person editing YAML, instead of zod's "Invalid input: expected string, received undefined".
const messages: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) return "required field is missing";
    // z.int() reports "number"; its format says it wants an integer.
    const format = (issue.inst as { _zod?: { def?: { format?: unknown } } } | undefined)?._zod?.def?.format;
    const integer = issue.expected === "int" || (typeof format === "string" && format.includes("int"));
    const expected = issue.expected === "array" ? "list" : integer ? "integer" : issue.expected;
    return `expected ${expected}, got ${typeName(issue.input)}`;
  }
  if (issue.code === "invalid_value" && issue.values.length > 1) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return undefined;
};

function toIssues(error: z.ZodError): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // One issue per unknown field, at the field itself: "spec.replica: unknown field".
      for (const key of issue.keys)
        issues.push({ path: formatPath([...issue.path, key]), message: "unknown field" });
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return issues;
}

/**
 * Checks any value against the API: returns the typed resource with defaults applied (as the API server would
 * store it), or every problem found. Never throws: the operator reports the issues in a Ready=False condition
 * with reason InvalidSpec. CEL rules comparing with the previous object (immutability) are the API server's job.
 */
export function parseResource(obj: unknown): ParseResult {
  try {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      return { ok: false, issues: [{ path: "", message: `expected an object, got ${typeName(obj)}` }] };
    }
    const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
    if (apiVersion !== API_VERSION) {
      return { ok: false, issues: [{ path: "apiVersion", message: `must be ${API_VERSION}` }] };
    }
    if (!isKindName(kind)) {
      return { ok: false, issues: [{ path: "kind", message: `must be one of ${KINDS.join(", ")}` }] };
    }
    const result = kindDefinition(kind).schema.safeParse(obj, { error: messages });
    if (result.success) return { ok: true, resource: result.data as Resource };
    return { ok: false, issues: toIssues(result.error) };
  } catch (err) {
    // A bug in a refinement, or a hostile object (throwing getters, proxies): still an answer, not a crash.
    return {
      ok: false,
      issues: [{ path: "", message: `cannot validate: ${err instanceof Error ? err.message : String(err)}` }],
    };
  }
}

/** parseResource for callers that expect one kind, such as the reconciler of that kind. */
export function parseResourceAs<K extends KindName>(
  kind: K,
  obj: unknown,
): { ok: true; resource: ResourceOf<K> } | { ok: false; issues: ValidationIssue[] } {
  const result = parseResource(obj);
  if (!result.ok) return result;
  if (result.resource.kind !== kind)
    return { ok: false, issues: [{ path: "kind", message: `must be ${kind}` }] };
  return { ok: true, resource: result.resource as ResourceOf<K> };
}

/** One line for a condition message: "spec.nodes: ...; spec.storage.size: ...". */
export function describeIssues(issues: readonly ValidationIssue[], max = 5): string {
  const shown = issues.slice(0, max).map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`));
  if (issues.length > max) shown.push(`and ${issues.length - max} more`);
  return shown.join("; ");
}
