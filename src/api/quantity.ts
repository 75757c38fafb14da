import { z } from "zod";
import { intOrString } from "./annotations.ts";

// A subset of Kubernetes resource quantities: no exponents, no signs. Everything it accepts the API server
// accepts too, and CEL's quantity() can compare it.
export const QUANTITY_PATTERN = "^[0-9]+([.][0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$";
const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);

const SUFFIX_FACTOR: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity ("2Gi" -> 2147483648, "500m" -> 0.5), or undefined if it is not one. */
export function parseQuantity(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text : undefined;
  if (!QUANTITY_RE.test(text)) return undefined;
  const match = /^([0-9.]+)(.*)$/.exec(text);
  const factor = SUFFIX_FACTOR[match?.[2] ?? ""];
  return match?.[1] !== undefined && factor !== undefined ? Number(match[1]) * factor : undefined;
}

const QUANTITY_MESSAGE = 'must be a quantity like "500m", "2", "1.5Gi" or "10Gi"';

/** A quantity written as a string ("10Gi"): what storage sizes use, so CEL can compare them. */
export const quantityString = () =>
  z
    .string()
    .min(1, QUANTITY_MESSAGE)
    .max(64, "must be at most 64 characters")
    .regex(QUANTITY_RE, QUANTITY_MESSAGE);

/**
 * A quantity as Kubernetes resource lists take it: `cpu: 2` or `memory: "4Gi"`. Always a string once parsed, so
 * the operator can copy it into a Pod spec unchanged.
 */
export const resourceQuantity = () =>
  intOrString(z.union([z.int().min(0), quantityString()], { error: QUANTITY_MESSAGE })).pipe(
    z.transform((value: number | string) => String(value)),
  );
