/**
 * The issuing store: PATs, policies, PAT authentication and the audit log (DESIGN.md §3).
 *
 * - `openIssuerStore({config, logger})` opens Postgres (DATABASE_URL) or PGlite (data dir), migrates, and returns
 *   the `IssuerStore` that everything else calls.
 * - `issuerRoutes` is the Fastify plugin with the HTTP API; `buildIssuerServer` a server with only that.
 * - `scheduleIssuerMaintenance` runs the expiry sweep and the audit retention purge periodically.
 */

export type { AuditChainReport, AuditEvent, AuditPage, AuditQuery } from "./audit.js";
export { AUDIT_ACTIONS, type AuditActionId } from "./audit.js";
export type { PatAuthFailure, PatAuthResult, PatIdentity } from "./auth.js";
export { DataDirectoryInUse } from "./data-dir-lock.js";
export { type Database, type OpenDatabaseOptions, openDatabase, type Queryable } from "./database.js";
export { EARLIEST_DATE, LATEST_DATE, parseDateTime, requireDateTime } from "./dates.js";
export { IssuerError, type IssuerErrorKind, type PatTokenError } from "./errors.js";
export {
  buildIssuerServer,
  type HistoryScanStarter,
  type IssuerRoutesOptions,
  issuerRoutes,
  type StartedHistoryScan,
} from "./http/index.js";
export { patTokenView } from "./http/pats.js";
export type {
  IncidentAction,
  IncidentPage,
  IncidentQuery,
  LeakedPatMatch,
  LeakIncident,
  LeakLocation,
  PublicDiscoveryInput,
  RecordIncidentInput,
  SystemRevokeResult,
} from "./leaks.js";
export { MigrationError, type MigrationReport, migrate } from "./migrations.js";
export type {
  Actor,
  Organization,
  OrganizationPolicies,
  Pat,
  PatFormat,
  PatStatus,
  Tenant,
  TenantPolicies,
  User,
  UserRole,
  UserStatus,
} from "./model.js";
export { SYSTEM_ACTOR } from "./model.js";
export type {
  CreatePatInput,
  IssuedPat,
  ListPatsInput,
  PatPage,
  RevokedPat,
  UpdatePatInput,
} from "./pats.js";
export {
  type Allowlist,
  type AllowlistInput,
  POLICY_NAMES,
  type PolicyName,
  type TenantPolicyName,
} from "./policies.js";
export { FULL_SCOPE, NAMED_SCOPES } from "./scopes.js";
export { IssuerStore, type IssuerStoreOptions, openIssuerStore, scheduleIssuerMaintenance } from "./store.js";
