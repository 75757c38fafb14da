import type { JSONSchemaProps } from "../../../src/api/openapi.ts";

// Test helpers: a walk over CRD schemas, and a small validator for the OpenAPI subset the generator emits, so
// tests can check values against the CRD itself (not only against zod). CEL rules are not evaluated.

export interface SchemaNode {
  path: string;
  schema: JSONSchemaProps;
  /** Set when the node is an object property (not array items or map values). */
  property?: string;
}

export function walkSchema(schema: JSONSchemaProps, path = ""): SchemaNode[] {
  const nodes: SchemaNode[] = [{ path, schema }];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const [first, ...rest] = walkSchema(child, path === "" ? name : `${path}.${name}`);
    if (first) nodes.push({ ...first, property: name }, ...rest);
  }
  if (schema.items) nodes.push(...walkSchema(schema.items, `${path}[]`));
  if (schema.additionalProperties) nodes.push(...walkSchema(schema.additionalProperties, `${path}.*`));
  return nodes;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Problems of `value` against `schema`, with unknown fields reported (as kubectl --validate=strict does). */
export function validateValue(value: unknown, schema: JSONSchemaProps, path = ""): string[] {
  const at = path === "" ? "<root>" : path;
  // The API server validates metadata itself; CRDs only declare it an object.
  if (path === "metadata") return typeOf(value) === "object" ? [] : [`${at}: not an object`];
  if (schema["x-kubernetes-preserve-unknown-fields"])
    return typeOf(value) === "object" ? [] : [`${at}: not an object`];
  if (schema["x-kubernetes-int-or-string"]) {
    if (typeof value === "string") {
      return schema.pattern && !new RegExp(schema.pattern).test(value)
        ? [`${at}: does not match pattern`]
        : [];
    }
    return typeOf(value) === "integer" ? [] : [`${at}: not an integer or string`];
  }
  const actual = typeOf(value);
  const typeOk = actual === schema.type || (schema.type === "number" && actual === "integer");
  if (!typeOk) return [`${at}: expected ${schema.type}, got ${actual}`];
  const problems: string[] = [];
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: not in enum`);
  if (typeof value === "string") {
    if (schema.pattern && !new RegExp(schema.pattern).test(value))
      problems.push(`${at}: does not match pattern`);
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: too long`);
    if (schema.format === "date-time" && Number.isNaN(Date.parse(value)))
      problems.push(`${at}: not a date-time`);
  }
  if (typeof value === "number") {
    if (
      schema.minimum !== undefined &&
      (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)
    ) {
      problems.push(`${at}: below minimum`);
    }
    if (
      schema.maximum !== undefined &&
      (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)
    ) {
      problems.push(`${at}: above maximum`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${at}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${at}: too many items`);
    value.forEach((item, i) => {
      if (schema.items) problems.push(...validateValue(item, schema.items, `${path}[${i}]`));
    });
  }
  if (actual === "object") {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in object)) problems.push(`${at}: missing ${key}`);
    for (const [key, child] of Object.entries(object)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      const childPath = path === "" ? key : `${path}.${key}`;
      if (!sub) problems.push(`${childPath}: unknown field`);
      else problems.push(...validateValue(child, sub, childPath));
    }
  }
  return problems;
}
