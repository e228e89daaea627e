import type { z } from "zod";

/**
 * The errors the issuing store reports to callers. PAT lifecycle failures carry an Azure DevOps
 * `SessionTokenError` name (`patTokenError` on the wire); the others say what kind of failure it is.
 */

/** The `SessionTokenError` values patrol answers with (Azure DevOps names). */
export type PatTokenError =
  | "none"
  | "displayNameRequired"
  | "invalidDisplayName"
  | "invalidValidTo"
  | "invalidScope"
  | "invalidTargetAccounts"
  | "invalidUserId"
  | "invalidAuthorizationId"
  | "authorizationNotFound"
  | "accessDenied"
  | "invalidToken"
  | "expiredPatCannotBeExtended"
  | "globalPatPolicyViolation"
  | "fullScopePatPolicyViolation"
  | "patLifespanPolicyViolation"
  | "disablePatCreationPolicyViolation";

export type IssuerErrorKind =
  /** No valid credentials (HTTP 401). */
  | "unauthenticated"
  /** The request is malformed or breaks a rule (HTTP 400). */
  | "invalid"
  /** A policy forbids it (HTTP 400, with the policy's patTokenError, as Azure DevOps answers). */
  | "policy"
  /** The caller may not do this (HTTP 403). */
  | "forbidden"
  /** No such thing, or not one the caller may see (HTTP 404). */
  | "notFound"
  /** It already exists (HTTP 409). */
  | "conflict";

export class IssuerError extends Error {
  override name = "IssuerError";
  constructor(
    readonly kind: IssuerErrorKind,
    message: string,
    readonly patTokenError?: PatTokenError,
  ) {
    super(message);
  }
}

export const invalid = (message: string, patTokenError?: PatTokenError) =>
  new IssuerError("invalid", message, patTokenError);
export const notFound = (message: string, patTokenError?: PatTokenError) =>
  new IssuerError("notFound", message, patTokenError);
export const forbidden = (message: string, patTokenError?: PatTokenError) =>
  new IssuerError("forbidden", message, patTokenError);
export const unauthenticated = (message: string) => new IssuerError("unauthenticated", message);
export const conflict = (message: string) => new IssuerError("conflict", message);

/** Parses with zod; the first problem becomes an `invalid` error naming what was wrong. */
export function parseInput<T>(
  schema: z.ZodType<T>,
  value: unknown,
  what: string,
  patTokenError?: PatTokenError,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? ` (${issue.path.join(".")})` : "";
    throw invalid(`${what}${where}: ${issue.message}`, patTokenError);
  }
  return result.data;
}

/** Postgres unique_violation, the same code from `pg` and PGlite. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}
