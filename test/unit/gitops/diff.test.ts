import { describe, expect, it } from "vitest";
import { parseRefArgument } from "../../../src/cli/plan.ts";
import { changedFields } from "../../../src/gitops/diff.ts";
import { REVISION_ANNOTATION } from "../../../src/gitops/manifests.ts";

describe("changedFields", () => {
  const live = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "db",
      resourceVersion: "12",
      uid: "u",
      managedFields: [{ manager: "x" }],
      annotations: { [REVISION_ANNOTATION]: "aaa", owner: "team-a" },
    },
    data: { password: "b2xk", user: "dXNlcg==" },
    status: { whatever: true },
  };

  it("names the paths that differ, never the values", () => {
    const desired = {
      ...live,
      metadata: {
        ...live.metadata,
        resourceVersion: "13",
        annotations: { [REVISION_ANNOTATION]: "bbb", owner: "team-b" },
      },
      data: { password: "bmV3", user: "dXNlcg==", extra: "eA==" },
    };
    const fields = changedFields(live, desired);
    expect(fields).toEqual(["data.extra", "data.password", "metadata.annotations.owner"]);
    expect(fields.join(" ")).not.toContain("bmV3");
  });

  it("ignores server-maintained fields, status and the per-commit annotations", () => {
    const desired = {
      ...live,
      metadata: {
        ...live.metadata,
        resourceVersion: "99",
        annotations: { [REVISION_ANNOTATION]: "ccc", owner: "team-a" },
      },
      status: {},
    };
    expect(changedFields(live, desired)).toEqual([]);
  });

  it("compares lists item by item and reports a length change once", () => {
    expect(
      changedFields({ spec: { regions: [{ n: 1 }, { n: 2 }] } }, { spec: { regions: [{ n: 1 }, { n: 3 }] } }),
    ).toEqual(["spec.regions[1].n"]);
    expect(changedFields({ spec: { regions: [1] } }, { spec: { regions: [1, 2] } })).toEqual([
      "spec.regions",
    ]);
  });
});

describe("plan --ref", () => {
  it("reads branches, tag:, semver:, commit: and bare commit hashes", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect(parseRefArgument("main")).toEqual({ branch: "main" });
    expect(parseRefArgument("tag:v1.2.0")).toEqual({ tag: "v1.2.0" });
    expect(parseRefArgument("semver:>=1.0.0 <2.0.0")).toEqual({ semver: ">=1.0.0 <2.0.0" });
    expect(parseRefArgument(sha)).toEqual({ commit: sha });
    expect(parseRefArgument(`commit:${sha}`)).toEqual({ commit: sha });
  });
});
