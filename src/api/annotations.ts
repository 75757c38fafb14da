import { z } from "zod";

// CRD-only facts (CEL rules, list semantics, int-or-string, free-form objects) live next to the zod schema they
// belong to, in this registry, so the CRD generator never needs a hand-kept copy of the field list.

/** A CEL rule exactly as the API server runs it (`x-kubernetes-validations`). */
export interface CelValidation {
  rule: string;
  message: string;
  /** Where the API server reports the error, relative to the schema the rule sits on (".postgres.port"). */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

/**
 * A CEL rule plus the same rule in TypeScript, so `parseResource` and the API server agree. Transition rules
 * (those reading `oldSelf`) have no `check`: only the API server sees the previous object.
 */
export interface Rule<T> extends CelValidation {
  check?: (self: T) => boolean;
}

export interface CrdAnnotations {
  validations?: CelValidation[];
  /** `x-kubernetes-list-type: map` keyed by these fields: unique keys, and server-side apply merges by key. */
  listMapKeys?: string[];
  /** A union of integer and string that becomes `x-kubernetes-int-or-string` (quantities like `2` or `"500m"`). */
  intOrString?: true;
  /** Free-form object kept as written (`x-kubernetes-preserve-unknown-fields`). */
  preserveUnknownFields?: true;
}

export const crdAnnotations = z.registry<CrdAnnotations>();

function annotate<S extends z.ZodType>(schema: S, extra: CrdAnnotations): S {
  const clone = schema.clone() as S;
  crdAnnotations.add(clone, { ...crdAnnotations.get(schema), ...extra });
  return clone;
}

/** Zod path segments for a CEL `fieldPath` such as ".database.postgres". */
function pathSegments(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split(".").filter((s) => s !== "") : [];
}

/** Attaches CEL rules to a schema and runs their TypeScript twins during zod parsing. */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const checked = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (rule.check && !rule.check(value)) {
        ctx.addIssue({ code: "custom", message: rule.message, path: pathSegments(rule.fieldPath) });
      }
    }
  }) as S;
  const validations: CelValidation[] = [
    ...(crdAnnotations.get(schema)?.validations ?? []),
    ...rules.map(({ rule, message, fieldPath, reason }) => ({
      rule,
      message,
      ...(fieldPath ? { fieldPath } : {}),
      ...(reason ? { reason } : {}),
    })),
  ];
  crdAnnotations.add(checked, { ...crdAnnotations.get(schema), validations });
  return checked;
}

/** A list whose items are identified by `keys` (unique, merged by key under server-side apply). */
export function listMap<S extends z.ZodType<Record<string, unknown>[]>>(schema: S, keys: string[]): S {
  // The API server refuses duplicate keys in such a list; say so here too.
  const checked = schema.superRefine((items, ctx) => {
    const seen = new Set<string>();
    for (const [i, item] of items.entries()) {
      const id = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(id)) {
        ctx.addIssue({
          code: "custom",
          path: [i, ...keys.slice(0, 1)],
          message: `duplicate ${keys.join("/")}`,
        });
      }
      seen.add(id);
    }
  }) as S;
  crdAnnotations.add(checked, { ...crdAnnotations.get(schema), listMapKeys: keys });
  return checked;
}

export function intOrString<S extends z.ZodType>(schema: S): S {
  return annotate(schema, { intOrString: true });
}

export function preserveUnknownFields<S extends z.ZodType>(schema: S): S {
  return annotate(schema, { preserveUnknownFields: true });
}
