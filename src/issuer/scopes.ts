/**
 * PAT scopes: a space-separated list. `app_token` is full access; otherwise each entry must be a known
 * named scope. Unknown scopes are rejected rather than silently dropped.
 */
import { invalid } from "./errors.js";

export const FULL_SCOPE = "app_token";

/** The named scopes patrol issues (Azure DevOps names). */
export const NAMED_SCOPES: readonly string[] = [
  "vso.agentpools",
  "vso.agentpools_manage",
  "vso.analytics",
  "vso.build",
  "vso.build_execute",
  "vso.code",
  "vso.code_write",
  "vso.code_manage",
  "vso.code_status",
  "vso.graph",
  "vso.identity",
  "vso.packaging",
  "vso.packaging_write",
  "vso.packaging_manage",
  "vso.profile",
  "vso.project",
  "vso.project_write",
  "vso.project_manage",
  "vso.release",
  "vso.release_execute",
  "vso.release_manage",
  "vso.test",
  "vso.test_write",
  "vso.tokens",
  "vso.variablegroups_read",
  "vso.variablegroups_write",
  "vso.variablegroups_manage",
  "vso.wiki",
  "vso.wiki_write",
  "vso.work",
  "vso.work_write",
  "vso.work_full",
];

const KNOWN = new Set([FULL_SCOPE, ...NAMED_SCOPES]);
const PACKAGING = new Set(["vso.packaging", "vso.packaging_write", "vso.packaging_manage"]);
export const MAX_SCOPE_LENGTH = 2048;

/** Checks and normalises a scope string: single spaces, no duplicates, order kept. Throws invalidScope. */
export function normalizeScope(scope: string): string {
  if (scope.length > MAX_SCOPE_LENGTH)
    throw invalid(`scope is longer than ${MAX_SCOPE_LENGTH} characters`, "invalidScope");
  const entries = [...new Set(scope.split(/\s+/).filter((s) => s !== ""))];
  if (entries.length === 0) throw invalid("scope must name at least one scope", "invalidScope");
  const unknown = entries.filter((s) => !KNOWN.has(s));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((s) => JSON.stringify(s.slice(0, 64)));
    throw invalid(`unknown scope${unknown.length > 1 ? "s" : ""}: ${shown.join(", ")}`, "invalidScope");
  }
  return entries.join(" ");
}

export function isFullScope(scope: string): boolean {
  return scope.split(" ").includes(FULL_SCOPE);
}

/** True when every scope is a packaging scope (what the organization's packaging-only option allows). */
export function isPackagingOnly(scope: string): boolean {
  return scope.split(" ").every((s) => PACKAGING.has(s));
}
