// Structured logs: one JSON object per line ({time, level, msg, ...fields}), written to stderr so that stdout
// stays clean for commands that print manifests. Child loggers carry bound fields such as the controller, the
// reconcile key, the generation and the Git commit, so every line can be traced back to the object it is about.
//
// Secrets must never reach a log line (STYLE.md), and the operator handles many: CA keys, the ZITADEL
// masterkey, database passwords, Git tokens and age keys. Rather than trusting every call site, the logger
// redacts on the way out: by field name, and by value for strings that carry credentials whatever the field is
// called (PEM blocks, age secret keys, URLs with user information).

export type LogLevel = "debug" | "info" | "warn" | "error";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line; the child's fields win over the parent's. */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Fields on every line, e.g. the operator's version. */
  fields?: LogFields;
  /** Where a finished line (without newline) goes. Default: stderr. */
  write?: (line: string) => void;
  now?: () => Date;
}

export const REDACTED = "[redacted]";

export function createLogger(opts: LoggerOptions = {}): Logger {
  const sink: Sink = {
    level: opts.level ?? "info",
    write: opts.write ?? ((line) => process.stderr.write(`${line}\n`)),
    now: opts.now ?? (() => new Date()),
  };
  return new JsonLogger(sink, opts.fields ?? {});
}

/** Reads a level from a flag or an environment variable; anything else is a usage error. */
export function parseLogLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`unknown log level "${value}": use one of ${LOG_LEVELS.join(", ")}`);
}

interface Sink {
  level: LogLevel;
  write: (line: string) => void;
  now: () => Date;
}

class JsonLogger implements Logger {
  private readonly sink: Sink;
  private readonly fields: LogFields;

  constructor(sink: Sink, fields: LogFields) {
    this.sink = sink;
    this.fields = fields;
  }

  get level(): LogLevel {
    return this.sink.level;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  with(fields: LogFields): Logger {
    return new JsonLogger(this.sink, { ...this.fields, ...fields });
  }

  private log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(this.sink.level)) return;
    const line: LogFields = { time: this.sink.now().toISOString(), level, msg: redactString(msg) };
    for (const [name, value] of Object.entries({ ...this.fields, ...fields })) {
      // A field cannot overwrite the envelope; it is kept under another name rather than lost.
      const key = name in line ? `field_${name}` : name;
      line[key] = redactField(name, value);
    }
    this.sink.write(JSON.stringify(line));
  }
}

/**
 * The value as it may be logged: "[redacted]" if the field's name says it holds a secret, otherwise the value
 * with secrets removed from its strings, Errors turned into plain objects, and nested objects done the same way.
 */
export function redactField(name: string, value: unknown): unknown {
  if (isSecretFieldName(name) && isSet(value)) return REDACTED;
  return redactValue(value, new WeakSet(), 0);
}

// "password is empty" is worth knowing and gives nothing away.
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

const SECRET_WORDS = [
  "password",
  "passwd",
  "passphrase",
  "token",
  "secret",
  "credential",
  "privatekey",
  "masterkey",
  "apikey",
  "authorization",
  "cookie",
];

// Fields that name a secret rather than hold it (`secretRef`, `masterkeySecretName`) are what an engineer on
// call needs to see.
const REFERENCE_SUFFIXES = ["name", "ref", "namespace"];

/**
 * Whether a field named like this holds a secret: its name contains a word such as password, token, secret,
 * credential, privateKey or masterkey (case-insensitive, camelCase, snake_case and kebab-case alike), or ends in
 * "key" after another word (`sshKey`, `tls_key`, `accessKey`). A field called just `key` is the reconcile key
 * (`namespace/name`) by convention and is kept; a PEM or age key in it is still caught by its value.
 */
export function isSecretFieldName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const last = words.at(-1);
  if (last === undefined || REFERENCE_SUFFIXES.includes(last)) return false;
  const joined = words.join("");
  if (SECRET_WORDS.some((word) => joined.includes(word))) return true;
  return words.length > 1 && (last === "key" || last === "keys");
}

const PEM = /-----BEGIN/;
const AGE_SECRET_KEY = /AGE-SECRET-KEY-1/i;
// scheme://userinfo@ — the userinfo may be `user:password` or a bare token (`https://ghp_xxx@github.com`).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

/** A string with credentials removed: PEM blocks and age keys blank the whole value, URL userinfo is cut out. */
export function redactString(value: string): string {
  if (PEM.test(value) || AGE_SECRET_KEY.test(value)) return REDACTED;
  return value.replace(URL_USERINFO, `$1${REDACTED}@`);
}

const MAX_DEPTH = 8;

function redactValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Date) return value.toISOString();
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, seen, depth + 1));
  const source = value instanceof Error ? errorFields(value) : (value as LogFields);
  const out: LogFields = {};
  for (const [name, field] of Object.entries(source)) {
    out[name] = isSecretFieldName(name) && isSet(field) ? REDACTED : redactValue(field, seen, depth + 1);
  }
  return out;
}

// JSON.stringify turns an Error into {}: keep what explains it. The stack says where; the cause says why.
function errorFields(err: Error): LogFields {
  const fields: LogFields = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) fields.code = code;
  if (err.cause !== undefined) fields.cause = err.cause;
  if (err.stack !== undefined) fields.stack = err.stack;
  return fields;
}
