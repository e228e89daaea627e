/**
 * How request values arrive on the wire, read the way Azure DevOps reads them: parameter and property names
 * without regard to case, enum and boolean values without regard to case, integers as decimal text, date-times
 * with or without a zone (none means UTC), and `api-version` from 6.1-preview on.
 *
 * Each schema carries its OpenAPI shape as `openapi` metadata, so the served document shows the real type
 * (boolean, int32, enum, date-time) rather than the string the query string delivers.
 */
import { z } from "zod";
import { requireDateTime } from "../dates.js";
import { IssuerError, invalid, type PatTokenError } from "../errors.js";

/** OpenAPI 3.0 schema fragment that replaces a zod schema's generated one in the served document. */
export type OpenApiShape = Record<string, unknown>;

const withShape = <T extends z.ZodType>(schema: T, openapi: OpenApiShape): T =>
  schema.meta({ openapi }) as unknown as T;

/**
 * Renames the keys of `value` that match one of `keys` without regard to case to that spelling. Two keys that
 * differ only in case are refused: which one was meant is not knowable.
 */
export function canonicalKeys(value: unknown, keys: readonly string[], part: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const byLower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const name = byLower.get(key.toLowerCase()) ?? key;
    if (Object.hasOwn(result, name)) {
      throw invalid(`${part} names ${JSON.stringify(name)} twice (names are not case-sensitive)`);
    }
    result[name] = item;
  }
  return result;
}

/** One of `values`, matched without regard to case and answered in the spelling given here. */
export function caseInsensitiveEnum<const V extends readonly [string, ...string[]]>(values: V, name: string) {
  const byLower = new Map(values.map((v) => [v.toLowerCase(), v]));
  return withShape(
    z.preprocess(
      (v) => (typeof v === "string" ? (byLower.get(v.toLowerCase()) ?? v) : v),
      z.enum(values, { error: `${name} must be one of ${values.join(", ")}` }),
    ),
    { type: "string", enum: [...values] },
  );
}

/** A query-string boolean: true or false in any case. */
export function queryBoolean(name: string) {
  return withShape(
    z.preprocess(
      (v) => (typeof v === "string" ? (({ true: true, false: false } as const)[v.toLowerCase()] ?? v) : v),
      z.boolean({ error: `${name} must be true or false` }),
    ),
    { type: "boolean" },
  );
}

/** A query-string integer from `min` to `max`; the message is the one text for this parameter. */
export function queryInteger(min: number, max: number, message: string) {
  return withShape(
    z
      .string({ error: message })
      .regex(/^\s*\d{1,9}\s*$/, message)
      .transform(Number)
      .refine((n) => n >= min && n <= max, message),
    { type: "integer", format: "int32", minimum: min, maximum: max },
  );
}

/** A date-time (ISO 8601; without a zone it is UTC), checked against patrol's date range. */
export function dateTimeField(name: string, patTokenError?: PatTokenError) {
  return withShape(
    z.string({ error: `${name} must be an ISO 8601 date-time` }).transform((text, ctx) => {
      try {
        return requireDateTime(text, name, patTokenError);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
    { type: "string", format: "date-time" },
  );
}

/** An api-version the client asked for. */
export interface ApiVersion {
  text: string;
  major: number;
  minor: number;
  preview: boolean;
}

const API_VERSION = /^(\d{1,2})\.(\d{1,2})(-preview(?:\.(\d{1,2}))?)?$/i;
const OLDEST = { major: 6, minor: 1 };
const NEWEST = { major: 7, minor: 2 };
const at = (v: { major: number; minor: number }) => v.major * 100 + v.minor;

/**
 * Parses `api-version`. Accepted: 6.1 to 7.2, as `-preview`, `-preview.1` or (patrol is lenient here) the
 * release number alone. Resource version 1 is the only one these APIs have.
 */
export function parseApiVersion(text: string): ApiVersion {
  const match = API_VERSION.exec(text.trim());
  const supported = `use one from 6.1-preview to 7.2-preview (e.g. api-version=7.1-preview.1)`;
  if (!match)
    throw invalid(`api-version ${JSON.stringify(text.slice(0, 32))} is not a version: ${supported}`);
  const version = {
    text,
    major: Number(match[1]),
    minor: Number(match[2]),
    preview: match[3] !== undefined,
  };
  if (at(version) < at(OLDEST) || at(version) > at(NEWEST) || (match[4] !== undefined && match[4] !== "1")) {
    throw invalid(`api-version ${JSON.stringify(text.slice(0, 32))} is not supported: ${supported}`);
  }
  return version;
}

export const apiVersionSchema = withShape(
  z.string({ error: "api-version is required (e.g. api-version=7.1-preview.1)" }).transform((text, ctx) => {
    try {
      return parseApiVersion(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as IssuerError).message });
      return z.NEVER;
    }
  }),
  { type: "string", example: "7.1-preview.1" },
);

/** The api-version of a request, when it sent a valid one (read without regard to the parameter's case). */
export function requestApiVersion(query: unknown): ApiVersion | null {
  if (query === null || typeof query !== "object") return null;
  for (const [key, value] of Object.entries(query)) {
    if (key.toLowerCase() !== "api-version" || typeof value !== "string") continue;
    try {
      return parseApiVersion(value);
    } catch (error) {
      if (error instanceof IssuerError) return null;
      throw error;
    }
  }
  return null;
}

/**
 * SessionTokenError values that the 7.2 contract added, and what a caller of an older version gets instead
 * (the 6.1-7.1 enums do not have them; a strict client would fail to read them).
 */
const NEWER_PAT_TOKEN_ERRORS: Partial<Record<PatTokenError, PatTokenError>> = {
  disablePatCreationPolicyViolation: "accessDenied",
  expiredPatCannotBeExtended: "invalidToken",
};

/** The patTokenError that a caller of `version` can read. */
export function patTokenErrorFor(error: PatTokenError, version: ApiVersion | null): PatTokenError {
  const older = version === null || at(version) < at(NEWEST);
  return (older && NEWER_PAT_TOKEN_ERRORS[error]) || error;
}
