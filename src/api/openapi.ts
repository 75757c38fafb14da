import { z } from "zod";
import type * as core from "zod/v4/core";
import { type CelValidation, crdAnnotations } from "./annotations.ts";

// Turns a zod schema into a *structural* OpenAPI v3 schema as apiextensions.k8s.io/v1 requires: every node has a
// type, no $ref, no oneOf/allOf, anyOf only for int-or-string. One-of-ness lives in CEL rules instead. Anything
// zod can say that a structural schema cannot (a zod type we do not map) is a bug and throws at generation time.

export interface JSONSchemaProps {
  description?: string;
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: JSONSchemaProps;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  anyOf?: JSONSchemaProps[];
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: CelValidation[];
}

type Zod = core.$ZodType;

/** What the wrappers around a core type (optional, default, pipe, ...) add to it. */
interface Wrapped {
  core: core.$ZodTypes;
  description?: string;
  hasDefault: boolean;
  defaultValue?: unknown;
  validations: CelValidation[];
  listMapKeys?: string[];
  intOrString: boolean;
  preserveUnknownFields: boolean;
}

function unwrap(schema: Zod): Wrapped {
  const out: Wrapped = {
    core: schema as core.$ZodTypes,
    hasDefault: false,
    validations: [],
    intOrString: false,
    preserveUnknownFields: false,
  };
  let node: Zod | undefined = schema;
  while (node) {
    // Outer wrappers are more specific than inner ones: the first description and default found win.
    out.description ??= z.globalRegistry.get(node)?.description;
    const annotations = crdAnnotations.get(node);
    if (annotations) {
      out.validations.unshift(...(annotations.validations ?? []));
      out.listMapKeys ??= annotations.listMapKeys;
      out.intOrString ||= annotations.intOrString === true;
      out.preserveUnknownFields ||= annotations.preserveUnknownFields === true;
    }
    const def: core.$ZodTypes["_zod"]["def"] = (node as core.$ZodTypes)._zod.def;
    out.core = node as core.$ZodTypes;
    switch (def.type) {
      case "optional":
      case "nonoptional":
      case "readonly":
        node = def.innerType;
        break;
      case "default":
      case "prefault":
        if (!out.hasDefault) {
          // Spelled out with nested defaults applied: the API server checks CEL rules against the default
          // itself, before defaulting inside it, so `default: {}` would fail rules that read its fields.
          out.hasDefault = true;
          out.defaultValue = structuredClone(z.parse(node as z.ZodType, undefined));
        }
        node = def.innerType;
        break;
      case "pipe":
        // The CRD describes what users write: the input side of a transform.
        node = def.in;
        break;
      default:
        node = undefined;
    }
  }
  return out;
}

function fail(path: string, what: string): never {
  throw new Error(`cannot express ${what} at ${path} in a structural CRD schema`);
}

function checksOf(def: { checks?: core.$ZodCheck[] }): core.$ZodChecks["_zod"]["def"][] {
  return (def.checks ?? []).map((check) => (check as core.$ZodChecks)._zod.def);
}

function stringSchema(def: core.$ZodStringDef, path: string): JSONSchemaProps {
  const out: JSONSchemaProps = { type: "string" };
  // z.iso.datetime() is a string whose own def carries the format.
  const formats = [def, ...checksOf(def)].filter((c) => "check" in c && c.check === "string_format");
  for (const check of checksOf(def)) {
    if (check.check === "min_length") out.minLength = check.minimum;
    else if (check.check === "max_length") out.maxLength = check.maximum;
  }
  for (const format of formats as core.$ZodCheckStringFormatDef[]) {
    if (format.format === "regex" && format.pattern) {
      if (out.pattern !== undefined) fail(path, "two patterns");
      out.pattern = format.pattern.source;
    } else if (format.format === "datetime") {
      out.format = "date-time";
    } else {
      fail(path, `string format ${format.format}`);
    }
  }
  return out;
}

function numberSchema(def: core.$ZodNumberDef): JSONSchemaProps {
  const integer = "format" in def && typeof def.format === "string" && /int/.test(def.format);
  const out: JSONSchemaProps = { type: integer ? "integer" : "number" };
  for (const check of checksOf(def)) {
    if (check.check === "greater_than") {
      out.minimum = Number(check.value);
      if (!check.inclusive) out.exclusiveMinimum = true;
    } else if (check.check === "less_than") {
      out.maximum = Number(check.value);
      if (!check.inclusive) out.exclusiveMaximum = true;
    }
  }
  return out;
}

function arraySchema(def: core.$ZodArrayDef, path: string): JSONSchemaProps {
  const out: JSONSchemaProps = { type: "array" };
  for (const check of checksOf(def)) {
    if (check.check === "min_length") out.minItems = check.minimum;
    else if (check.check === "max_length") out.maxItems = check.maximum;
  }
  out.items = toOpenApiSchema(def.element, `${path}[]`);
  return out;
}

function objectSchema(def: core.$ZodObjectDef, path: string): JSONSchemaProps {
  const catchall = def.catchall?._zod.def.type;
  if (catchall !== undefined && catchall !== "never") fail(path, "an object that keeps unknown fields");
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const [key, value] of Object.entries(def.shape)) {
    properties[key] = toOpenApiSchema(value, `${path}.${key}`);
    // Defaulted fields are not required: the API server fills them in before validating.
    if (value._zod.optin === undefined) required.push(key);
  }
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
}

function coreSchema(w: Wrapped, path: string): JSONSchemaProps {
  const def = w.core._zod.def;
  if (w.preserveUnknownFields) {
    if (def.type !== "record" && def.type !== "unknown")
      fail(path, "preserved unknown fields on a non-object");
    return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  }
  switch (def.type) {
    case "string":
      return stringSchema(def, path);
    case "number":
      return numberSchema(def);
    case "boolean":
      return { type: "boolean" };
    case "enum":
      return { type: "string", enum: Object.values(def.entries) };
    case "literal":
      return { type: "string", enum: [...def.values] };
    case "array":
      return arraySchema(def, path);
    case "object":
      return objectSchema(def, path);
    case "record":
      return { type: "object", additionalProperties: toOpenApiSchema(def.valueType, `${path}.*`) };
    case "union": {
      if (!w.intOrString) fail(path, "a union (express one-of-ness with a CEL rule)");
      // Value validation of the string branch (a quantity pattern) applies to strings only, as in Kubernetes' own
      // Quantity fields.
      const branches = def.options.map((option, i) => toOpenApiSchema(option, `${path}|${i}`));
      const pattern = branches.find((b) => b.type === "string")?.pattern;
      return {
        anyOf: [{ type: "integer" }, { type: "string" }],
        ...(pattern ? { pattern } : {}),
        "x-kubernetes-int-or-string": true,
      };
    }
    default:
      return fail(path, `zod type ${def.type}`);
  }
}

/** The structural OpenAPI schema of a zod schema; `path` only names the field in errors. */
export function toOpenApiSchema(schema: Zod, path = "$"): JSONSchemaProps {
  const w = unwrap(schema);
  const body = coreSchema(w, path);
  // Key order is fixed here so the generated YAML reads the same way for every field.
  const out: JSONSchemaProps = {};
  if (w.description !== undefined) out.description = w.description;
  Object.assign(out, body);
  if (w.hasDefault) out.default = w.defaultValue;
  if (w.listMapKeys) {
    out["x-kubernetes-list-type"] = "map";
    out["x-kubernetes-list-map-keys"] = [...w.listMapKeys];
  }
  if (w.validations.length > 0) out["x-kubernetes-validations"] = w.validations.map((v) => ({ ...v }));
  return out;
}
