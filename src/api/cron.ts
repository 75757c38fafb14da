import { z } from "zod";

// Five-field cron ("minute hour day-of-month month day-of-week", evaluated in UTC) plus the usual @macros.
// The same grammar is expressed twice: as a regular expression the API server checks (CRONTAB_PATTERN, so a bad
// schedule never gets stored) and as a parser that also catches what a regex cannot (reversed ranges, steps
// larger than the field, a day that never comes) and computes the next run.

interface Field {
  name: string;
  min: number;
  max: number;
  /** Regex alternatives for one value, kept within min..max. */
  value: string;
  names?: string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** "jan" in any letter case, for RE2 and JavaScript alike (neither shares a case-insensitive flag syntax). */
function anyCase(word: string): string {
  return [...word].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join("");
}

const FIELDS: Field[] = [
  { name: "minute", min: 0, max: 59, value: "[0-5]?[0-9]" },
  { name: "hour", min: 0, max: 23, value: "[01]?[0-9]|2[0-3]" },
  { name: "day of month", min: 1, max: 31, value: "0?[1-9]|[12][0-9]|3[01]" },
  { name: "month", min: 1, max: 12, value: `0?[1-9]|1[0-2]|${MONTHS.map(anyCase).join("|")}`, names: MONTHS },
  // 0 and 7 are both Sunday.
  { name: "day of week", min: 0, max: 7, value: `[0-7]|${WEEKDAYS.map(anyCase).join("|")}`, names: WEEKDAYS },
];

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function fieldPattern(field: Field): string {
  const value = `(${field.value})`;
  const element = `([*]|${value}(-${value})?)(/[1-9][0-9]?)?`;
  return `${element}(,${element})*`;
}

export const CRONTAB_PATTERN = `^(@(${Object.keys(MACROS)
  .map((m) => m.slice(1))
  .join("|")})|${FIELDS.map(fieldPattern).join(" +")})$`;
const CRONTAB_RE = new RegExp(CRONTAB_PATTERN);

export interface CronSchedule {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday. */
  daysOfWeek: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, a day matches if either matches. */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

export type CronParseResult = { ok: true; schedule: CronSchedule } | { ok: false; error: string };

function parseValue(text: string, field: Field): number {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + (field.name === "month" ? 1 : 0);
  return /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
}

function parseField(text: string, field: Field): Set<number> | string {
  const values = new Set<number>();
  for (const element of text.split(",")) {
    const [range = "", stepText] = element.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let low = field.min;
    let high = field.max;
    if (range !== "*") {
      const [from = "", to] = range.split("-");
      low = parseValue(from, field);
      high = to === undefined ? (stepText === undefined ? low : field.max) : parseValue(to, field);
    }
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < field.min || high > field.max) {
      return `${field.name} "${element}" is outside ${field.min}-${field.max}`;
    }
    if (low > high) return `${field.name} range "${range}" runs backwards`;
    if (!Number.isInteger(step) || step < 1 || step > field.max - field.min + 1) {
      return `${field.name} step "${stepText}" must be between 1 and ${field.max - field.min + 1}`;
    }
    for (let v = low; v <= high; v += step) values.add(field.name === "day of week" ? v % 7 : v);
  }
  return values;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const GRAMMAR_MESSAGE = 'must be a 5-field cron expression like "0 2 * * *" or a macro like "@daily"';

export function parseCron(text: string): CronParseResult {
  if (!CRONTAB_RE.test(text)) return { ok: false, error: GRAMMAR_MESSAGE };
  const parts = (MACROS[text] ?? text).split(/ +/);
  const sets: Set<number>[] = [];
  for (const [i, field] of FIELDS.entries()) {
    const parsed = parseField(parts[i] ?? "", field);
    if (typeof parsed === "string") return { ok: false, error: parsed };
    sets.push(parsed);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  const schedule: CronSchedule = {
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    dayOfMonthRestricted: !(parts[2] ?? "").startsWith("*"),
    dayOfWeekRestricted: !(parts[4] ?? "").startsWith("*"),
  };
  const dayExists = [...months].some((m) => [...daysOfMonth].some((d) => d <= (DAYS_IN_MONTH[m - 1] ?? 0)));
  if (!dayExists && !schedule.dayOfWeekRestricted) {
    return { ok: false, error: "the day of month never occurs in the selected months" };
  }
  return { ok: true, schedule };
}

function dayMatches(s: CronSchedule, date: Date): boolean {
  const dom = s.daysOfMonth.has(date.getUTCDate());
  const dow = s.daysOfWeek.has(date.getUTCDay());
  if (s.dayOfMonthRestricted && s.dayOfWeekRestricted) return dom || dow;
  return dom && dow;
}

/** The first run strictly after `after` (UTC, whole minutes), or undefined if none within five years. */
export function nextRun(schedule: CronSchedule, after: Date): Date | undefined {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
    } else if (!dayMatches(schedule, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
    } else if (!schedule.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
    } else if (!schedule.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
    } else {
      return t;
    }
  }
  return undefined;
}

/** A cron schedule field: the API server checks the grammar, zod additionally runs the parser. */
export const crontab = () =>
  z
    .string()
    .min(1, "must not be empty")
    .max(256, "must be at most 256 characters")
    .regex(CRONTAB_RE, GRAMMAR_MESSAGE)
    .superRefine((text, ctx) => {
      // The grammar was reported by the regex check above; only report what the parser adds.
      const parsed = parseCron(text);
      if (!parsed.ok && CRONTAB_RE.test(text)) ctx.addIssue({ code: "custom", message: parsed.error });
    });
