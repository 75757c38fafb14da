// What a backup, restore or verify Job reports: one JSON line on stdout and in the termination message
// (/dev/termination-log), which the controller reads from the Pod's status. Kubernetes keeps at most 4096 bytes of
// it, so the line is shortened to fit: the long lists go first, then the message is cut.
// https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/
import { redactString } from "../runtime/log.ts";

export const TERMINATION_MESSAGE_LIMIT = 4096;

export interface JobResult {
  readonly ok: boolean;
  readonly command: "backup" | "restore" | "verify";
  readonly reason?: string;
  readonly message?: string;
  readonly [field: string]: unknown;
}

/** The result as one JSON line of at most 4096 bytes, with every string scrubbed of credentials. */
export function terminationMessage(result: JobResult, secrets: readonly string[] = []): string {
  const scrub = (value: unknown): unknown => {
    if (typeof value === "string") {
      let text = redactString(value);
      for (const secret of secrets) if (secret !== "") text = text.replaceAll(secret, "[redacted]");
      return text;
    }
    if (Array.isArray(value)) return value.map(scrub);
    if (typeof value === "object" && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
    return value;
  };
  const clean = scrub(result) as Record<string, unknown>;
  let line = JSON.stringify(clean);
  if (fits(line)) return line;
  // Lists of tables and differences are details; the status needs the outcome and the reason.
  for (const [key, value] of Object.entries(clean)) {
    if (Array.isArray(value)) clean[key] = { omitted: value.length };
    else if (typeof value === "object" && value !== null && "differences" in value)
      clean[key] = { ...value, differences: { omitted: (value.differences as unknown[]).length } };
  }
  line = JSON.stringify(clean);
  if (fits(line)) return line;
  const message = String(clean.message ?? "");
  while (!fits(line) && (clean.message as string | undefined)?.length) {
    clean.message = `${message.slice(0, Math.max(0, (clean.message as string).length - 256))}…`;
    line = JSON.stringify(clean);
  }
  return fits(line)
    ? line
    : JSON.stringify({ ok: result.ok, command: result.command, reason: result.reason });
}

function fits(line: string): boolean {
  return Buffer.byteLength(line, "utf8") <= TERMINATION_MESSAGE_LIMIT;
}
