/**
 * PAT scopes: a space-separated list. `app_token` is full access; otherwise each entry must be a known
 * named scope. Unknown scopes are rejected rather than silently dropped.
 */
import { invalid } from "./errors.js";

export const FULL_SCOPE = "app_token";

/**
 * Azure DevOps' published scope names: every `vso.*` scope that the REST specifications (MicrosoftDocs/
 * vsts-rest-api-specs, 7.1 and 7.2) declare, plus the ones Microsoft's scope reference lists that no spec
 * declares (vso.analytics, vso.code_full, vso.pats, vso.hooks*, ...).
 */
export const NAMED_SCOPES: readonly string[] = [
  "vso.advsec",
  "vso.advsec_write",
  "vso.advsec_manage",
  "vso.agentpools",
  "vso.agentpools_manage",
  "vso.analytics",
  "vso.auditlog",
  "vso.auditstreams_manage",
  "vso.build",
  "vso.build_execute",
  "vso.chat_write",
  "vso.chat_manage",
  "vso.code",
  "vso.code_write",
  "vso.code_manage",
  "vso.code_full",
  "vso.code_status",
  "vso.connected_server",
  "vso.dashboards",
  "vso.dashboards_manage",
  "vso.entitlements",
  "vso.environment_manage",
  "vso.extension",
  "vso.extension_manage",
  "vso.extension.data",
  "vso.extension.data_write",
  "vso.gallery",
  "vso.gallery_acquire",
  "vso.gallery_publish",
  "vso.gallery_manage",
  "vso.githubconnections",
  "vso.githubconnections_manage",
  "vso.graph",
  "vso.graph_manage",
  "vso.hooks",
  "vso.hooks_write",
  "vso.hooks_interact",
  "vso.identity",
  "vso.identity_manage",
  "vso.loadtest",
  "vso.loadtest_write",
  "vso.machinegroup_manage",
  "vso.memberentitlementmanagement",
  "vso.memberentitlementmanagement_write",
  "vso.notification",
  "vso.notification_write",
  "vso.notification_manage",
  "vso.notification_diagnostics",
  "vso.packaging",
  "vso.packaging_write",
  "vso.packaging_manage",
  "vso.pats",
  "vso.pipelineresources_use",
  "vso.pipelineresources_manage",
  "vso.profile",
  "vso.profile_write",
  "vso.project",
  "vso.project_write",
  "vso.project_manage",
  "vso.release",
  "vso.release_execute",
  "vso.release_manage",
  "vso.securefiles_read",
  "vso.securefiles_write",
  "vso.securefiles_manage",
  "vso.security_manage",
  "vso.serviceendpoint",
  "vso.serviceendpoint_query",
  "vso.serviceendpoint_manage",
  "vso.settings",
  "vso.settings_write",
  "vso.symbols",
  "vso.symbols_write",
  "vso.symbols_manage",
  "vso.taskgroups_read",
  "vso.taskgroups_write",
  "vso.taskgroups_manage",
  "vso.test",
  "vso.test_write",
  "vso.threads_full",
  "vso.tokenadministration",
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
/** The scope that lets a PAT read the audit log (Azure DevOps' audit API security). */
export const AUDIT_LOG_SCOPE = "vso.auditlog";
const PACKAGING = new Set(["vso.packaging", "vso.packaging_write", "vso.packaging_manage"]);
export const MAX_SCOPE_LENGTH = 2048;

/**
 * Checks and normalises a scope string: single spaces, lower case (Azure DevOps matches scope names without
 * regard to case), no duplicates, order kept. Throws invalidScope.
 */
export function normalizeScope(scope: string): string {
  if (scope.length > MAX_SCOPE_LENGTH)
    throw invalid(`scope is longer than ${MAX_SCOPE_LENGTH} characters`, "invalidScope");
  const entries = [
    ...new Set(
      scope
        .split(/\s+/)
        .filter((s) => s !== "")
        .map((s) => s.toLowerCase()),
    ),
  ];
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

/** True when the scope string grants `needed` (full access grants everything). */
export function grantsScope(scope: string, needed: string): boolean {
  const entries = scope.split(" ");
  return entries.includes(FULL_SCOPE) || entries.includes(needed);
}
