// spec.users: every listed user gets a client certificate (certificates.ts) and, once the cluster is initialized,
// a SQL user of that name, made by a SQL Job as root. The Job is named after its statements, so it runs once per
// list of users and again only when the list changes. Grants stay the user's: the operator creates users only.
// Removing a name from the list keeps its SQL user (dropping a user that still owns objects fails, and an
// operator that drops users on a typo loses access for whoever used it); drop it yourself if you mean it.
// The UsersReady condition reports the step; it never makes the cluster un-Ready, as SQL still serves.
import type { Condition } from "../../api/conditions.ts";
import { createUser } from "../../db/cockroach.ts";
import { renderSqlJob } from "../../render/cockroach/index.ts";
import type { ConditionInput } from "../../runtime/status.ts";
import type { StepContext } from "./context.ts";
import { clusterPods, record } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";

export const USERS_CONDITION = "UsersReady";
const POLL_MS = 2_000;
const FAILED_POLL_MS = 30_000;

export interface UsersOutcome {
  /** undefined: no users and never had any, so the cluster carries no UsersReady condition. */
  readonly condition?: ConditionInput;
  readonly requeueAfterMs?: number;
}

/** The SQL statements that create spec.users, in name order (so reordering the list runs nothing). */
export function usersStatements(users: readonly { readonly name: string }[]): string[] {
  return [...new Set(users.map((u) => u.name))].sort().map(createUser);
}

export async function usersStep(
  ctx: StepContext,
  initialized: boolean,
  previous: readonly Condition[] | undefined,
): Promise<UsersOutcome> {
  const names = [...new Set((ctx.cluster.spec.users ?? []).map((u) => u.name))].sort();
  const before = previous?.find((c) => c.type === USERS_CONDITION);
  const condition = (status: "True" | "False", reason: string, message: string): ConditionInput => ({
    type: USERS_CONDITION,
    status,
    reason,
    message,
  });
  if (names.length === 0) {
    return before === undefined
      ? {}
      : { condition: condition("True", "NoUsers", "spec.users lists no users") };
  }
  const listed = names.map((n) => `"${n}"`).join(", ");
  if (!initialized) {
    return {
      condition: condition("False", "WaitingForInit", `users ${listed} are created after cockroach init`),
    };
  }

  const desired = renderSqlJob(
    ctx.cluster,
    "users",
    usersStatements(ctx.cluster.spec.users ?? []),
    ctx.render,
  );
  const name = desired.metadata?.name ?? "";
  const job = ctx.cache.get<JobObject>(JOB, desired.metadata?.namespace, name);
  const running = condition("False", "CreatingUsers", `Job ${name} creates users ${listed}`);
  if (job === undefined) {
    await ctx.client.apply(desired);
    await record(ctx, {
      type: "Normal",
      reason: "CreatingUsers",
      action: "CreateUsers",
      note: `started Job ${name} to create SQL users ${listed}`,
    });
    return { condition: running, requeueAfterMs: POLL_MS };
  }
  switch (jobPhase(job)) {
    case "running":
      return { condition: running, requeueAfterMs: POLL_MS };
    case "failed": {
      const message = `Job ${name} could not create users ${listed}: ${jobOutput(job, clusterPods(ctx)) ?? "no output"}. Delete the Job to try again`;
      if (before?.reason !== "UsersFailed" || before.message !== message) {
        await record(ctx, { type: "Warning", reason: "UsersFailed", action: "CreateUsers", note: message });
      }
      return { condition: condition("False", "UsersFailed", message), requeueAfterMs: FAILED_POLL_MS };
    }
    case "succeeded": {
      const message = `SQL users ${listed} exist (Job ${name})`;
      if (before?.status !== "True" || before.message !== message) {
        await record(ctx, { type: "Normal", reason: "UsersCreated", action: "CreateUsers", note: message });
      }
      return { condition: condition("True", "UsersExist", message) };
    }
  }
}
