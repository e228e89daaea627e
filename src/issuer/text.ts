/** Text that people will read back (names, reasons, identifiers): what it may not contain. */
import { z } from "zod";

/**
 * Control characters (NUL included: Postgres text cannot hold it), line and paragraph separators, and the
 * bidirectional controls that can make a name read differently from what it is (U+202E and friends).
 */
export const UNSAFE_TEXT = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
export const UNSAFE_TEXT_MESSAGE =
  "must not contain control, line-separator or bidirectional-control characters";

export const hasUnsafeText = (value: string) => UNSAFE_TEXT.test(value);

/** A single-line string of at most `max` characters without unsafe characters. */
export function plainText(max: number) {
  return z
    .string()
    .max(max)
    .refine((value) => !hasUnsafeText(value), UNSAFE_TEXT_MESSAGE);
}
