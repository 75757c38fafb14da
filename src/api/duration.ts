import { z } from "zod";
import { withRules } from "./annotations.ts";

// Durations are written like "90d", "8760h" or "1h30m": units d, h, m, s, largest first, each at most once.
// Days are allowed because certificate lifetimes and retention read naturally in days; Go's time.ParseDuration
// (and so CEL's duration()) has no days, which is why celDurationSeconds below exists.
export const DURATION_PATTERN = "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$";
const DURATION_RE = new RegExp(DURATION_PATTERN);
const MAX_LENGTH = 32;

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNITS = Object.keys(UNIT_SECONDS) as Unit[];

/** Milliseconds in a duration such as "1h30m", or undefined if the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text.length < 2 || text.length > MAX_LENGTH || !DURATION_RE.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+)([dhms])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit as Unit];
  }
  return seconds * 1000;
}

/** A duration string field; `min` (in the same notation) is checked by zod and by the API server. */
export function duration(min?: string) {
  const base = z
    .string()
    .min(2, 'must be a duration like "90d", "8760h" or "1h30m"')
    .max(MAX_LENGTH, `must be at most ${MAX_LENGTH} characters`)
    .regex(
      DURATION_RE,
      'must be a duration like "90d", "8760h" or "1h30m" (units d, h, m, s, largest first)',
    );
  if (min === undefined) return base;
  const minMs = parseDuration(min);
  if (minMs === undefined) throw new Error(`bad minimum duration ${min}`);
  return withRules(base, [
    {
      rule: `${celDurationSeconds("self")} >= ${minMs / 1000}`,
      message: `must be at least ${min}`,
      check: (text) => (parseDuration(text) ?? 0) >= minMs,
    },
  ]);
}

/**
 * A CEL expression for the number of seconds in the duration string `expr`, so CRD rules can compare durations
 * (CEL's own duration() knows no days). Relies on DURATION_PATTERN: each unit occurs at most once.
 */
export function celDurationSeconds(expr: string): string {
  // find() yields "" for an absent unit, and int("0") is 0; leading zeros are fine for int().
  const terms = UNITS.map(
    (unit) => `int('0' + ${expr}.find('[0-9]+${unit}').replace('${unit}', '')) * ${UNIT_SECONDS[unit]}`,
  );
  return `(${terms.join(" + ")})`;
}
