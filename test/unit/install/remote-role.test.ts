import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { REMOTE_NAME, renderRemoteRole, renderRemoteRoleYaml } from "../../../src/install/manifests.ts";
import { REMOTE_RULES, toPolicyRule } from "../../../src/install/rbac.ts";

describe("install --remote-role", () => {
  it("is a ServiceAccount bound to a Role of the remote rules, in the given namespace only", () => {
    const [account, role, binding] = renderRemoteRole("identity");
    expect([account?.kind, role?.kind, binding?.kind]).toEqual(["ServiceAccount", "Role", "RoleBinding"]);
    for (const obj of [account, role, binding])
      expect(obj?.metadata).toMatchObject({ name: REMOTE_NAME, namespace: "identity" });
    expect(role?.rules).toEqual(REMOTE_RULES.map(toPolicyRule));
    expect(binding?.subjects).toEqual([{ kind: "ServiceAccount", name: REMOTE_NAME, namespace: "identity" }]);
  });

  it("prints as YAML that says how to get a token, with each rule's reason as a comment", () => {
    const text = renderRemoteRoleYaml("identity");
    expect(text).toContain(`kubectl -n identity create token ${REMOTE_NAME}`);
    expect(text).toContain("# CockroachDB nodes, one StatefulSet per region");
    const docs = parseAllDocuments(text).map((d) => d.toJSON() as { kind: string });
    expect(docs.map((d) => d.kind)).toEqual(["ServiceAccount", "Role", "RoleBinding"]);
  });
});
