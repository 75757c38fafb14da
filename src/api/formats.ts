import { z } from "zod";

// String formats shared by several kinds. Each pattern is written once and used twice: by zod here and as the CRD
// `pattern` the API server checks with Go's RE2. So: no look-around, no back-references, no named groups.

const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN = `${LABEL}([.]${LABEL})*`;
export const DNS1123_LABEL = `^${LABEL}$`;
export const DNS1123_SUBDOMAIN = `^${SUBDOMAIN}$`;
// Service names must be DNS-1035 labels (start with a letter); our kinds prefix Service names with theirs.
export const DNS1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
export const VERSION_PATTERN = "^v(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$";
export const IMAGE_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$";
// A DNS name or an IPv4/IPv6 address, as a client would dial it.
export const HOST_PATTERN = `^(${SUBDOMAIN}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$`;
// A certificate subject alternative name: a host, optionally a wildcard DNS name.
export const SAN_PATTERN = `^([*][.])?(${SUBDOMAIN}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$`;
// Unquoted SQL identifiers, valid in both CockroachDB and PostgreSQL without quoting.
export const SQL_IDENTIFIER = "^[a-z_][a-z0-9_]*$";
// A relative path inside a repository or volume; segments starting with "." are refused, which rules out "..".
export const RELATIVE_PATH = "^[.]?(/?[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*)*/?$";

/** A non-empty string of at most `maxLength` characters matching `pattern`, with a message for the YAML author. */
export function patterned(pattern: string, maxLength: number, message: string) {
  return z
    .string()
    .min(1, "must not be empty")
    .max(maxLength, `must be at most ${maxLength} characters`)
    .regex(new RegExp(pattern), message);
}

export const dnsLabel = (maxLength = 63) =>
  patterned(
    DNS1123_LABEL,
    maxLength,
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  );

/** The name of another object in the same namespace (Secrets, PVCs, our own kinds). */
export const objectName = () =>
  patterned(
    DNS1123_SUBDOMAIN,
    253,
    "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
  );

export const versionString = () => patterned(VERSION_PATTERN, 64, 'must be a version like "v25.2.4"');

export const imageReference = () =>
  patterned(
    IMAGE_PATTERN,
    512,
    'must be an image reference like "registry.example.com/cockroachdb/cockroach:v25.2.4"',
  );

export const hostName = () =>
  patterned(HOST_PATTERN, 253, "must be a lowercase DNS name or an IP address, without scheme or port");

export const sqlIdentifier = () =>
  patterned(
    SQL_IDENTIFIER,
    63,
    "must be a lowercase SQL identifier: letters, digits and '_', not starting with a digit",
  );

export const port = () =>
  z.int("must be an integer").min(1, "must be between 1 and 65535").max(65535, "must be between 1 and 65535");

/** An RFC 3339 time such as 2025-01-02T03:04:05Z (the OpenAPI date-time format). */
export const timestamp = () =>
  z.iso.datetime({ offset: true, error: "must be an RFC 3339 time like 2025-01-02T03:04:05Z" }).max(64);
