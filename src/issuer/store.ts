/** The issuing store as one object: what the HTTP API, the CLI and the leak-response pipeline call. */
import type { Logger } from "pino";
import type { Config } from "../config.js";
import {
  type AuditChainReport,
  type AuditPage,
  type AuditQuery,
  exportAuditLog,
  purgeAuditLog,
  queryAuditLog,
  verifyAuditChain,
} from "./audit.js";
import { authenticatePat, type PatAuthResult } from "./auth.js";
import { type Database, openDatabase } from "./database.js";
import {
  type CreateTenantInput,
  type CreateUserInput,
  createOrganization,
  createTenant,
  createUser,
  findOrganization,
  findTenant,
  requireUser,
  setUserGroups,
  setUserStatus,
  updateTenantOidc,
  userGroups,
} from "./directory.js";
import {
  findByFingerprints,
  getIncident,
  getIncidentById,
  type IncidentAction,
  type IncidentPage,
  type IncidentQuery,
  type LeakedPatMatch,
  type LeakIncident,
  listIncidents,
  markIncidentMailed,
  type PublicDiscoveryInput,
  type RecordIncidentInput,
  recordIncident,
  recordMailAttempt,
  recordPublicDiscovery,
  type SystemRevokeResult,
  setIncidentAction,
  systemRevoke,
} from "./leaks.js";
import { type MigrationReport, migrate } from "./migrations.js";
import type {
  Actor,
  Organization,
  OrganizationPolicies,
  Pat,
  StoreContext,
  Tenant,
  TenantPolicies,
  User,
  UserStatus,
} from "./model.js";
import {
  adminRevokePat,
  type CreatePatInput,
  createPat,
  expireDuePats,
  getPat,
  type IssuedPat,
  type ListPatsInput,
  listPats,
  type PatPage,
  type RevokedPat,
  revokePat,
  type UpdatePatInput,
  updatePat,
} from "./pats.js";
import {
  type Allowlist,
  type AllowlistInput,
  type AllowlistTarget,
  getAllowlist,
  type OrganizationPoliciesPatch,
  setAllowlist,
  setOrganizationPolicies,
  setTenantPolicies,
  type TenantPoliciesPatch,
} from "./policies.js";

export interface IssuerStoreOptions {
  db: Database;
  logger: Logger;
  /** OIDC defaults and audit retention; defaults: no OIDC, 90 days. */
  config?: { auth: Pick<Config["auth"], "oidc">; audit: Config["audit"] };
  /** The clock for validity and expiry (tests move it). */
  now?: () => Date;
}

export class IssuerStore {
  readonly ctx: StoreContext;

  constructor(options: IssuerStoreOptions) {
    this.ctx = {
      db: options.db,
      logger: options.logger,
      now: options.now ?? (() => new Date()),
      oidcDefaults: options.config?.auth.oidc ?? {
        issuer: undefined,
        audience: undefined,
        jwksUrl: undefined,
      },
      auditRetentionDays: options.config?.audit.retentionDays ?? 90,
    };
  }

  get db(): Database {
    return this.ctx.db;
  }

  migrate(): Promise<MigrationReport> {
    return migrate(this.ctx.db);
  }

  close(): Promise<void> {
    return this.ctx.db.close();
  }

  // Tenants, organizations, users.
  createTenant(input: CreateTenantInput): Promise<Tenant> {
    return createTenant(this.ctx, input);
  }
  /** By name (case-insensitive) or id. */
  findTenant(nameOrId: string): Promise<Tenant | null> {
    return findTenant(this.ctx.db, nameOrId);
  }
  updateTenantOidc(
    tenant: string,
    oidc: { issuer?: string | null; audience?: string | null; jwksUrl?: string | null },
  ): Promise<Tenant> {
    return updateTenantOidc(this.ctx, tenant, oidc);
  }
  createOrganization(input: { tenant: string; name: string }): Promise<Organization> {
    return createOrganization(this.ctx, input);
  }
  findOrganization(name: string): Promise<Organization | null> {
    return findOrganization(this.ctx.db, name);
  }
  createUser(input: CreateUserInput): Promise<User> {
    return createUser(this.ctx, input);
  }
  getUser(tenant: string, email: string): Promise<User> {
    return requireUser(this.ctx.db, tenant, email);
  }
  /** Disabling a user makes every one of their PATs fail authentication at once. */
  setUserStatus(tenant: string, email: string, status: UserStatus): Promise<User> {
    return setUserStatus(this.ctx, tenant, email, status);
  }
  setUserGroups(tenant: string, email: string, groups: string[]): Promise<string[]> {
    return setUserGroups(this.ctx, tenant, email, groups);
  }
  userGroups(userId: string): Promise<string[]> {
    return userGroups(this.ctx.db, userId);
  }

  // Policies.
  setTenantPolicies(tenant: string, patch: TenantPoliciesPatch, actor: Actor): Promise<TenantPolicies> {
    return setTenantPolicies(this.ctx, tenant, patch, actor);
  }
  setOrganizationPolicies(
    organization: string,
    patch: OrganizationPoliciesPatch,
    actor: Actor,
  ): Promise<OrganizationPolicies> {
    return setOrganizationPolicies(this.ctx, organization, patch, actor);
  }
  setAllowlist(target: AllowlistTarget, entries: AllowlistInput, actor: Actor): Promise<Allowlist> {
    return setAllowlist(this.ctx, target, entries, actor);
  }
  getAllowlist(target: AllowlistTarget): Promise<Allowlist> {
    return getAllowlist(this.ctx, target);
  }

  // The PAT lifecycle.
  createPat(input: CreatePatInput): Promise<IssuedPat> {
    return createPat(this.ctx, input);
  }
  listPats(input: ListPatsInput): Promise<PatPage> {
    return listPats(this.ctx, input);
  }
  getPat(input: { organization: string; authorizationId: string; actor: Actor }): Promise<Pat> {
    return getPat(this.ctx, input);
  }
  updatePat(input: UpdatePatInput): Promise<{ pat: Pat; token: string | null }> {
    return updatePat(this.ctx, input);
  }
  revokePat(input: Parameters<typeof revokePat>[1]): Promise<RevokedPat> {
    return revokePat(this.ctx, input);
  }
  /** Any PAT by authorization id, for administrators (CLI, admin API). */
  adminRevokePat(input: Parameters<typeof adminRevokePat>[1]): Promise<RevokedPat> {
    return adminRevokePat(this.ctx, input);
  }
  expireDuePats(options?: { batchSize?: number }): Promise<{ expired: number }> {
    return expireDuePats(this.ctx, options);
  }
  authenticatePat(token: string, options?: { organization?: string }): Promise<PatAuthResult> {
    return authenticatePat(this.ctx, token, options);
  }

  // The leak-response pipeline.
  findByFingerprints(fingerprints: string[]): Promise<LeakedPatMatch[]> {
    return findByFingerprints(this.ctx, fingerprints);
  }
  systemRevoke(
    authorizationId: string,
    reason: string,
    correlationId: string | null,
  ): Promise<SystemRevokeResult> {
    return systemRevoke(this.ctx, authorizationId, reason, correlationId);
  }
  recordPublicDiscovery(input: PublicDiscoveryInput): Promise<{ recorded: boolean }> {
    return recordPublicDiscovery(this.ctx, input);
  }
  recordIncident(
    input: RecordIncidentInput,
  ): Promise<{ incident: LeakIncident; newIncident: boolean; newLocation: boolean }> {
    return recordIncident(this.ctx, input);
  }
  setIncidentAction(fingerprint: string, action: IncidentAction): Promise<LeakIncident> {
    return setIncidentAction(this.ctx, fingerprint, action);
  }
  markIncidentMailed(fingerprint: string, at?: Date): Promise<{ firstTime: boolean }> {
    return markIncidentMailed(this.ctx, fingerprint, at);
  }
  getIncident(fingerprint: string): Promise<LeakIncident | null> {
    return getIncident(this.ctx, fingerprint);
  }
  getIncidentById(id: string): Promise<LeakIncident | null> {
    return getIncidentById(this.ctx, id);
  }
  listIncidents(query: IncidentQuery): Promise<IncidentPage> {
    return listIncidents(this.ctx, query);
  }
  recordMailAttempt(fingerprint: string, error: string | null): Promise<void> {
    return recordMailAttempt(this.ctx, fingerprint, error);
  }

  // The audit log.
  queryAuditLog(query: AuditQuery): Promise<AuditPage> {
    return queryAuditLog(this.ctx, query);
  }
  exportAuditLog(
    tenantId: string,
    filter?: { organizationId?: string; startTime?: Date; endTime?: Date },
  ): AsyncGenerator<string> {
    return exportAuditLog(this.ctx, tenantId, filter);
  }
  verifyAuditChain(tenantId: string): Promise<AuditChainReport> {
    return verifyAuditChain(this.ctx, tenantId);
  }
  purgeAuditLog(options?: { now?: Date }): Promise<{ deleted: number }> {
    return purgeAuditLog(this.ctx, options);
  }
}

/** Opens the configured database (Postgres or PGlite under the data directory), applies migrations, and wraps it. */
export async function openIssuerStore(options: {
  config: Config;
  logger: Logger;
  inMemory?: boolean;
}): Promise<IssuerStore> {
  const db = await openDatabase({
    databaseUrl: options.config.databaseUrl,
    dataDir: options.config.dataDir,
    inMemory: options.inMemory,
  });
  const store = new IssuerStore({ db, logger: options.logger, config: options.config });
  try {
    const report = await store.migrate();
    if (report.applied.length > 0)
      options.logger.info({ applied: report.applied }, "database migrations applied");
  } catch (error) {
    await db.close();
    throw error;
  }
  return store;
}

/**
 * Runs the expiry sweep and the audit retention purge now and then every `intervalMs` (timer unref'd).
 * Any number of processes may run it: both jobs are safe to run concurrently. Returns a stop function.
 */
export function scheduleIssuerMaintenance(
  store: IssuerStore,
  options: { intervalMs?: number } = {},
): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    running = (async () => {
      try {
        await store.expireDuePats();
        await store.purgeAuditLog();
      } catch (error) {
        store.ctx.logger.error({ err: error }, "issuer maintenance failed");
      } finally {
        running = null;
      }
    })();
  };
  run();
  const timer = setInterval(run, options.intervalMs ?? 60_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
