// Picking the highest tag that satisfies a semver range, for `ref.semver`.
//
// A deliberately small subset of node-semver's range grammar (the `semver` package would be the well-kept full
// implementation): comparators `=`, `>`, `>=`, `<`, `<=`, caret `^1.2`, tilde `~1.2.3`, wildcards `1.x`, `1.2.*`,
// `*`, hyphen ranges `1.2.3 - 2.0.0`; comparators separated by spaces or commas must all hold, `||` separates
// alternatives. Tags may carry a leading "v". Pre-release tags are only chosen when the range names a
// pre-release of the same major.minor.patch, as in node-semver, so "^1.2" never lands on 1.3.0-rc.1.

export interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
}

interface Comparator {
  op: "<" | "<=" | ">" | ">=" | "=";
  version: Version;
}

/** Alternatives, each a list of comparators that must all hold; an empty list matches everything. */
export type Range = Comparator[][];

const VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$/;

/** A full version such as "v1.2.3" or "1.2.3-rc.1", or undefined when the text is not one. */
export function parseVersion(text: string): Version | undefined {
  const match = VERSION.exec(text.trim());
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4] === undefined ? [] : match[4].split("."),
  };
}

export function compareVersions(a: Version, b: Version): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return Math.sign(core);
  // A release is higher than its pre-releases.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length);
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn && Number(x) !== Number(y)) return Math.sign(Number(x) - Number(y));
    if (xn !== yn) return xn ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Parses a range; throws an Error naming the part it does not understand. */
export function parseRange(text: string): Range {
  return text.split("||").map((alternative) => parseAlternative(alternative.trim(), text));
}

function parseAlternative(text: string, whole: string): Comparator[] {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen) {
    return [...expand(">=", hyphen[1] ?? "", whole), ...expand("<=", hyphen[2] ?? "", whole)];
  }
  const tokens = text
    .replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1")
    .split(/[\s,]+/)
    .filter((token) => token !== "");
  return tokens.flatMap((token) => {
    const match = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(token);
    return expand(match?.[1] ?? "", match?.[2] ?? "", whole);
  });
}

// One comparator as written -> plain comparators, with wildcards and missing parts spelled out.
function expand(op: string, text: string, whole: string): Comparator[] {
  const match = PARTIAL.exec(text);
  if (!match)
    throw new Error(`not a semver range: ${JSON.stringify(whole)} (cannot read ${JSON.stringify(text)})`);
  const part = (i: number) => {
    const value = match[i];
    return value === undefined || /^[xX*]$/.test(value) ? undefined : Number(value);
  };
  const [major, minor, patch] = [part(1), part(2), part(3)];
  const prerelease = match[4] === undefined ? [] : match[4].split(".");
  const v = (a: number, b: number, c: number, pre: string[] = []): Version => ({
    major: a,
    minor: b,
    patch: c,
    prerelease: pre,
  });
  if (major === undefined) return op === "<" || op === ">" ? [{ op: "<", version: v(0, 0, 0) }] : [];
  const low = v(major, minor ?? 0, patch ?? 0, prerelease);
  // The first version above the written precision: 1 -> 2.0.0, 1.2 -> 1.3.0.
  const next =
    minor === undefined ? v(major + 1, 0, 0) : patch === undefined ? v(major, minor + 1, 0) : undefined;
  switch (op) {
    case "^": {
      const upper =
        major > 0 || minor === undefined
          ? v(major + 1, 0, 0)
          : minor > 0 || patch === undefined
            ? v(0, minor + 1, 0)
            : v(0, 0, (patch ?? 0) + 1);
      return [
        { op: ">=", version: low },
        { op: "<", version: withFloor(upper) },
      ];
    }
    case "~": {
      const upper = minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0);
      return [
        { op: ">=", version: low },
        { op: "<", version: withFloor(upper) },
      ];
    }
    case ">":
      return [next ? { op: ">=", version: next } : { op: ">", version: low }];
    case "<=":
      return [next ? { op: "<", version: withFloor(next) } : { op: "<=", version: low }];
    case ">=":
    case "<":
      return [{ op: op, version: low }];
    default:
      return next
        ? [
            { op: ">=", version: low },
            { op: "<", version: withFloor(next) },
          ]
        : [{ op: "=", version: low }];
  }
}

// An upper bound we derived (from ^, ~, wildcards) excludes that version's pre-releases too: "^1.2" must not
// admit 2.0.0-rc.1 even when the range also names a pre-release. A bound the user wrote is taken as written.
function withFloor(version: Version): Version {
  return version.prerelease.length > 0 ? version : { ...version, prerelease: ["0"] };
}

function holds(c: Comparator, version: Version): boolean {
  const order = compareVersions(version, c.version);
  switch (c.op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
    default:
      return order === 0;
  }
}

function sameCore(a: Version, b: Version): boolean {
  return a.major === b.major && a.minor === b.minor && a.patch === b.patch;
}

export function satisfies(version: Version, range: Range): boolean {
  return range.some(
    (comparators) =>
      comparators.every((c) => holds(c, version)) &&
      (version.prerelease.length === 0 ||
        comparators.some(
          (c) =>
            c.version.prerelease.length > 0 &&
            !(c.version.prerelease.length === 1 && c.version.prerelease[0] === "0") &&
            sameCore(c.version, version),
        )),
  );
}

/** The tag with the highest version satisfying `range`, or undefined; tags that are not versions are ignored. */
export function highestMatchingTag(tags: readonly string[], range: string): string | undefined {
  const parsed = parseRange(range);
  let best: { tag: string; version: Version } | undefined;
  for (const tag of tags) {
    const version = parseVersion(tag);
    if (version === undefined || !satisfies(version, parsed)) continue;
    if (best === undefined || compareVersions(version, best.version) > 0) best = { tag, version };
  }
  return best?.tag;
}
