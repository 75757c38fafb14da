import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CustomResourceDefinition,
  renderCrdFiles,
  renderCrds,
  renderCrdsYaml,
} from "../../../src/api/crds.ts";
import { KINDS } from "../../../src/api/kinds.ts";
import type { JSONSchemaProps } from "../../../src/api/openapi.ts";
import { validateValue, walkSchema } from "./openapi-check.ts";

const CRDS_DIR = join(import.meta.dirname, "../../../crds");

function schemaOf(crd: CustomResourceDefinition): JSONSchemaProps {
  const version = crd.spec.versions[0];
  if (!version) throw new Error(`${crd.metadata.name} has no version`);
  return version.schema.openAPIV3Schema;
}

const crds = renderCrds();
const nodes = crds.flatMap((crd) =>
  walkSchema(schemaOf(crd)).map((node) => ({ crd: crd.spec.names.kind, ...node })),
);

describe("crds/", () => {
  it("matches what `zitadel-operator crds --out crds` generates (run it after changing src/api)", async () => {
    const expected = renderCrdFiles();
    const present = (await readdir(CRDS_DIR)).filter((name) => name.endsWith(".yaml")).sort();
    expect(present).toEqual([...expected.keys()].sort());
    for (const [name, content] of expected) {
      expect(await readFile(join(CRDS_DIR, name), "utf8"), name).toBe(content);
    }
  });

  it("renders the same bytes every time", () => {
    expect(renderCrdsYaml()).toBe(renderCrdsYaml());
  });

  it("has one CRD per kind, named <plural>.<group>", () => {
    expect(crds.map((crd) => crd.spec.names.kind)).toEqual([...KINDS]);
    for (const crd of crds) {
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.zitadel-operator.dev`);
      expect(crd.spec.names.categories).toEqual(["zitadel-operator"]);
    }
  });
});

describe("CRD schemas are structural", () => {
  it("give every node a type (or int-or-string, or preserved unknown fields)", () => {
    const types = ["object", "array", "string", "integer", "number", "boolean"];
    const untyped = nodes.filter(
      ({ schema }) =>
        !types.includes(schema.type ?? "") &&
        !schema["x-kubernetes-int-or-string"] &&
        !schema["x-kubernetes-preserve-unknown-fields"],
    );
    expect(untyped.map((n) => `${n.crd} ${n.path}`)).toEqual([]);
  });

  it("use no $ref, oneOf, allOf or not, and anyOf only for int-or-string", () => {
    for (const { crd, path, schema } of nodes) {
      const keys = Object.keys(schema);
      expect(
        keys.filter((k) => ["$ref", "oneOf", "allOf", "not", "nullable"].includes(k)),
        `${crd} ${path}`,
      ).toEqual([]);
      if (schema.anyOf) {
        expect(schema["x-kubernetes-int-or-string"], `${crd} ${path}`).toBe(true);
        expect(schema.anyOf).toEqual([{ type: "integer" }, { type: "string" }]);
        expect(schema.type).toBeUndefined();
      }
    }
  });

  it("describe every field but metadata", () => {
    // metadata is the exception: the API server refuses anything but its type there.
    const undescribed = nodes.filter(
      (n) => n.property !== undefined && n.path !== "metadata" && !n.schema.description?.trim(),
    );
    expect(undescribed.map((n) => `${n.crd} ${n.path}`)).toEqual([]);
  });

  it("never combine properties with additionalProperties, nor forbid additional properties", () => {
    for (const { crd, path, schema } of nodes) {
      expect(schema.properties && schema.additionalProperties, `${crd} ${path}`).toBeFalsy();
      expect(schema.additionalProperties as unknown, `${crd} ${path}`).not.toBe(false);
    }
  });

  it("keep unknown fields only in Zitadel's free-form config", () => {
    const preserved = nodes.filter((n) => n.schema["x-kubernetes-preserve-unknown-fields"]);
    expect(preserved.map((n) => `${n.crd} ${n.path}`)).toEqual(["Zitadel spec.config"]);
  });

  it("bound every list and string, so CEL rules stay within the cost budget", () => {
    // The root apiVersion and kind are the API server's business, never read by our rules.
    const unbounded = nodes.filter(
      ({ path, schema }) =>
        !["apiVersion", "kind"].includes(path) &&
        ((schema.type === "array" && schema.maxItems === undefined) ||
          (schema.type === "string" && schema.maxLength === undefined && schema.enum === undefined)),
    );
    expect(unbounded.map((n) => `${n.crd} ${n.path}`)).toEqual([]);
  });

  it("have defaults that validate against their own schema", () => {
    const defaulted = nodes.filter((n) => n.schema.default !== undefined);
    expect(defaulted.length).toBeGreaterThan(20);
    for (const { crd, path, schema } of defaulted) {
      expect(validateValue(schema.default, schema), `${crd} ${path}`).toEqual([]);
    }
  });

  it("have list-map keys that are required fields of the items", () => {
    for (const { crd, path, schema } of nodes.filter((n) => n.schema["x-kubernetes-list-type"] === "map")) {
      for (const key of schema["x-kubernetes-list-map-keys"] ?? []) {
        expect(schema.items?.required, `${crd} ${path}`).toContain(key);
      }
    }
  });

  it("point every CEL fieldPath at an existing field", () => {
    const withPaths = nodes.flatMap(({ crd, path, schema }) =>
      (schema["x-kubernetes-validations"] ?? []).map((v) => ({ crd, path, schema, fieldPath: v.fieldPath })),
    );
    expect(withPaths.some((v) => v.fieldPath)).toBe(true);
    for (const { crd, path, schema, fieldPath } of withPaths) {
      if (!fieldPath) continue;
      let node: JSONSchemaProps | undefined = schema;
      for (const segment of fieldPath.split(".").slice(1)) node = node?.properties?.[segment];
      expect(node, `${crd} ${path} ${fieldPath}`).toBeDefined();
    }
  });

  it("keeps transition rules (oldSelf) off items of atomic lists, whose old and new items cannot be paired", () => {
    for (const { crd, path, schema } of nodes) {
      for (const v of schema["x-kubernetes-validations"] ?? []) {
        if (v.rule.includes("oldSelf")) expect(path, `${crd} ${v.rule}`).not.toContain("[]");
      }
    }
  });
});

describe("CRD metadata", () => {
  // Short names of built-in kinds (kubectl api-resources) we must not shadow.
  const builtInShortNames = new Set(
    "cm cs csr ds deploy ep ev hpa ing limits netpol no ns pc pdb po psp pv pvc quota rc rs sa sc sts svc crd crds".split(
      " ",
    ),
  );

  it("gives every kind short names that clash with nothing built in or with each other", () => {
    const all = crds.flatMap((crd) => crd.spec.names.shortNames);
    expect(all.length).toBe(crds.length);
    expect(new Set(all).size).toBe(all.length);
    for (const name of all) expect(builtInShortNames.has(name), name).toBe(false);
  });

  it("has a status subresource everywhere and a scale subresource on Zitadel and CockroachCluster", () => {
    for (const crd of crds) expect(crd.spec.versions[0]?.subresources.status).toEqual({});
    const scaled = crds
      .filter((crd) => crd.spec.versions[0]?.subresources.scale)
      .map((crd) => crd.spec.names.kind);
    expect(scaled.sort()).toEqual(["CockroachCluster", "Zitadel"]);
  });

  it("points scale subresources and printer columns at fields that exist", () => {
    const resolve = (schema: JSONSchemaProps, jsonPath: string) => {
      // Filters such as conditions[?(@.type=="Ready")] select list items.
      const segments = jsonPath
        .replace(/\[\?\(.*?\)\]/g, ".[]")
        .split(".")
        .filter(Boolean);
      let node: JSONSchemaProps | undefined = schema;
      for (const segment of segments) {
        if (segment === "[]") node = node?.items;
        else if (segment === "metadata" && node === schema) return { type: "object" } as JSONSchemaProps;
        else node = node?.properties?.[segment];
      }
      return node;
    };
    for (const crd of crds) {
      const version = crd.spec.versions[0];
      const schema = schemaOf(crd);
      for (const column of version?.additionalPrinterColumns ?? []) {
        expect(resolve(schema, column.jsonPath), `${crd.spec.names.kind} ${column.name}`).toBeDefined();
      }
      const scale = version?.subresources.scale;
      if (scale) {
        expect(resolve(schema, scale.specReplicasPath)?.type).toBe("integer");
        expect(resolve(schema, scale.statusReplicasPath)?.type).toBe("integer");
        expect(resolve(schema, scale.labelSelectorPath)?.type).toBe("string");
      }
    }
  });

  it("shows readiness and age for every kind", () => {
    for (const crd of crds) {
      const columns = crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name) ?? [];
      expect(columns, crd.spec.names.kind).toContain("Age");
      expect(columns.includes("Ready") || columns.includes("Phase"), crd.spec.names.kind).toBe(true);
    }
  });
});
