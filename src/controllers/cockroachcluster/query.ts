// Asking the running cluster a question: a SQL Job (render/cockroach/jobs.ts) prints the answer as CSV into its
// container's termination message. Each question is a Job of its own: the statements start with a comment saying
// when it was asked, which gives the Job a name of its own (renderSqlJob hashes the statements). A Job name is never
// reused: the Job controller keys its bookkeeping by name, and a Job re-created under the name of one just deleted
// can wait forever for pods it miscounts. A repeated reconcile finds the open question by its label (the Job's
// purpose) instead of starting a second one; once its answer is read the Job is deleted. Nothing is kept in memory:
// a restarted operator finds the Job.
import { LABEL, renderSqlJob } from "../../render/cockroach/index.ts";
import type { StepContext } from "./context.ts";
import { clusterPods } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";

export type Answer =
  | { readonly state: "pending"; readonly message: string }
  | { readonly state: "answered"; readonly output: string }
  | { readonly state: "failed"; readonly message: string };

// The kubelet writes the termination message before the pod reports Succeeded, so it is normally there when the
// Job completes; a little patience covers a status update that trails the Job's (and, in tests, the simulator).
const OUTPUT_GRACE_MS = 15_000;
// An answer older than this was asked for by an earlier reconcile that no longer needed it: ask again.
const STALE_MS = 60_000;

export async function ask(
  ctx: StepContext,
  purpose: string,
  statements: readonly string[],
  parse: (output: string) => string | undefined,
): Promise<Answer> {
  const open = ctx.cache
    .list<JobObject>(JOB, ctx.cluster.metadata.namespace, {
      [LABEL.cluster]: ctx.cluster.metadata.name ?? "",
      [LABEL.component]: purpose,
    })
    .filter((j) => !j.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.creationTimestamp ?? "").localeCompare(b.metadata?.creationTimestamp ?? ""));
  const job = open.at(-1);
  for (const older of open.slice(0, -1)) await remove(ctx, older);
  if (job === undefined) {
    const [first, ...rest] = statements;
    const asked = [`/* asked at ${ctx.now.toISOString()} */ ${first}`, ...rest];
    const desired = renderSqlJob(ctx.cluster, purpose, asked, ctx.render);
    await ctx.client.apply(desired);
    return { state: "pending", message: `asking the cluster (Job ${desired.metadata?.name})` };
  }
  const name = job.metadata?.name;
  const phase = jobPhase(job);
  if (phase === "running") return { state: "pending", message: `waiting for Job ${name}` };
  const finished = Date.parse(job.status?.completionTime ?? "") || ctx.now.getTime();
  if (ctx.now.getTime() - finished > STALE_MS) {
    await remove(ctx, job);
    return { state: "pending", message: `the answer of Job ${name} is stale; asking again` };
  }
  const output = jobOutput(job, clusterPods(ctx)) ?? "";
  if (phase === "failed") {
    await remove(ctx, job);
    return { state: "failed", message: `Job ${name} failed: ${output || "no output"}` };
  }
  const problem = parse(output);
  if (problem !== undefined) {
    if (ctx.now.getTime() - finished < OUTPUT_GRACE_MS)
      return { state: "pending", message: `waiting for the output of Job ${name}` };
    await remove(ctx, job);
    return {
      state: "failed",
      message: `Job ${name} printed an unreadable answer (${problem}); asking again`,
    };
  }
  await remove(ctx, job);
  return { state: "answered", output };
}

function remove(ctx: StepContext, job: JobObject): Promise<void> {
  return ctx.client.delete(JOB, job.metadata?.namespace, job.metadata?.name ?? "", {
    propagationPolicy: "Background",
  });
}
