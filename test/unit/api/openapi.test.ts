import { describe, expect, it } from "vitest";
import { z } from "zod";
import { intOrString, listMap, preserveUnknownFields, withRules } from "../../../src/api/annotations.ts";
import { toOpenApiSchema } from "../../../src/api/openapi.ts";

describe("toOpenApiSchema", () => {
  it("maps constraints, descriptions, defaults and required fields", () => {
    const schema = z.strictObject({
      name: z
        .string()
        .min(1)
        .max(10)
        .regex(/^[a-z]+$/)
        .describe("A name."),
      count: z.int().min(1).max(5).default(3).describe("A count."),
      ratio: z.number().gt(0).max(1).optional().describe("A ratio."),
    });
    expect(toOpenApiSchema(schema)).toEqual({
      type: "object",
      properties: {
        name: { description: "A name.", type: "string", minLength: 1, maxLength: 10, pattern: "^[a-z]+$" },
        count: { description: "A count.", type: "integer", minimum: 1, maximum: 5, default: 3 },
        ratio: { description: "A ratio.", type: "number", minimum: 0, exclusiveMinimum: true, maximum: 1 },
      },
      required: ["name"],
    });
  });

  it("spells out nested defaults in an object's default", () => {
    const schema = z.strictObject({ size: z.string().max(8).default("10Gi") }).prefault({});
    expect(toOpenApiSchema(schema).default).toEqual({ size: "10Gi" });
  });

  it("carries CEL rules, list-map keys, int-or-string and preserved fields from the annotations", () => {
    const rule = { rule: "self.a != self.b", message: "a and b differ", check: () => true };
    const item = z.strictObject({ name: z.string().max(5).describe("Key.") });
    expect(toOpenApiSchema(withRules(z.strictObject({}), [rule]))["x-kubernetes-validations"]).toEqual([
      { rule: "self.a != self.b", message: "a and b differ" },
    ]);
    expect(toOpenApiSchema(listMap(z.array(item).max(3), ["name"]))).toMatchObject({
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    });
    expect(toOpenApiSchema(intOrString(z.union([z.int(), z.string().max(3)])))).toEqual({
      anyOf: [{ type: "integer" }, { type: "string" }],
      "x-kubernetes-int-or-string": true,
    });
    expect(toOpenApiSchema(preserveUnknownFields(z.record(z.string(), z.unknown())))).toEqual({
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    });
  });

  it("refuses what a structural schema cannot say", () => {
    expect(() => toOpenApiSchema(z.union([z.string(), z.boolean()]))).toThrow(/union/);
    expect(() => toOpenApiSchema(z.looseObject({ a: z.string() }))).toThrow(/unknown fields/);
    expect(() => toOpenApiSchema(z.string().regex(/a/).regex(/b/))).toThrow(/two patterns/);
    expect(() => toOpenApiSchema(z.email())).toThrow(/format email/);
    expect(() => toOpenApiSchema(z.date())).toThrow(/zod type date/);
  });

  it("keeps the rules of a schema when it is described again", () => {
    const rule = { rule: "true", message: "never fails" };
    const described = withRules(z.strictObject({}), [rule]).describe("Described later.");
    expect(toOpenApiSchema(described)).toMatchObject({
      description: "Described later.",
      "x-kubernetes-validations": [rule],
    });
  });
});
