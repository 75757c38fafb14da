// What the operator must be allowed to do in a RemoteCluster's namespace (REMOTE_RULES of src/install/rbac.ts),
// and which of it a SelfSubjectRulesReview says is missing.
import { type PermissionRule, REMOTE_RULES, type Verb } from "../install/rbac.ts";

export interface Right {
  readonly group: string;
  readonly resource: string;
  readonly verb: Verb;
}

/** A rule of SelfSubjectRulesReview status.resourceRules. */
export interface ResourceRule {
  readonly verbs: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** Every (group, resource, verb) the remote namespace must allow. */
export function remoteRights(rules: readonly PermissionRule[] = REMOTE_RULES): Right[] {
  return rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) =>
      rule.resources.flatMap((resource) => rule.verbs.map((verb) => ({ group, resource, verb }))),
    ),
  );
}

function allows(rule: ResourceRule, right: Right): boolean {
  const has = (list: readonly string[] | undefined, value: string) =>
    (list ?? []).includes("*") || (list ?? []).includes(value);
  // A rule limited to names grants neither list, watch nor create, and not every object: it does not count.
  if ((rule.resourceNames ?? []).length > 0) return false;
  return (
    has(rule.verbs, right.verb) && has(rule.apiGroups, right.group) && has(rule.resources, right.resource)
  );
}

/** The rights no rule grants, in the order of `needed`. */
export function missingRights(
  rules: readonly ResourceRule[],
  needed: readonly Right[] = remoteRights(),
): Right[] {
  return needed.filter((right) => !rules.some((rule) => allows(rule, right)));
}

/** "create, delete statefulsets.apps; get secrets": missing rights grouped by resource, for a message. */
export function describeRights(rights: readonly Right[]): string {
  const byResource = new Map<string, Verb[]>();
  for (const r of rights) {
    const key = r.group === "" ? r.resource : `${r.resource}.${r.group}`;
    byResource.set(key, [...(byResource.get(key) ?? []), r.verb]);
  }
  return [...byResource].map(([resource, verbs]) => `${verbs.join(", ")} ${resource}`).join("; ");
}
