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
  writeAuditCheckpoints,
} from "./audit.js";
import { deriveAuditKeys, loadAuditKey, processAuditKey } from "./audit-keys.js";
import { authenticatePat, type PatAuthResult } from "./auth.js";
import { type Database, openDatabase } from "./database.js";
import {
  type CreateTenantInput,
  type CreateUserInput,
  createOrganization,
  createTenant,
  createUser,
  type DirectoryChange,
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
  type PublicDiscoveryInput,
  type RecordIncidentInput,
  recordIncident,
  recordMailAttempt,
  recordMailSent,
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
  /** OIDC defaults and policy, audit retention, key and checkpoints; defaults: no OIDC, 90 days. */
  config?: Pick<Config, "env" | "auth" | "audit">;
  /** The audit key (openIssuerStore resolves it); else config's, else a random one for this process only. */
  auditKey?: Buffer;
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
      auditKeys: deriveAuditKeys(options.auditKey ?? options.config?.audit.key ?? processAuditKey()),
      auditCheckpointFile: options.config?.audit.checkpointFile,
      oidcPolicy: {
        maxTokenAgeSeconds: options.config?.auth.maxTokenAgeSeconds ?? 7200,
        jwksAllowPrivate: options.config?.auth.jwksAllowPrivate ?? false,
        allowHttpLoopback: (options.config?.env ?? "development") !== "production",
      },
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

  // Tenants, organizations, users: each change is audited; `change` says who made it.
  createTenant(input: CreateTenantInput, change?: DirectoryChange): Promise<Tenant> {
    return createTenant(this.ctx, input, change);
  }
  /** By name (case-insensitive) or id. */
  findTenant(nameOrId: string): Promise<Tenant | null> {
    return findTenant(this.ctx.db, nameOrId);
  }
  /** The platform administrator's act only (an admin actor): refused for tenant administrators. */
  updateTenantOidc(
    tenant: string,
    oidc: { issuer?: string | null; audience?: string | null; jwksUrl?: string | null },
    change?: DirectoryChange,
  ): Promise<Tenant> {
    return updateTenantOidc(this.ctx, tenant, oidc, change);
  }
  createOrganization(
    input: { tenant: string; name: string },
    change?: DirectoryChange,
  ): Promise<Organization> {
    return createOrganization(this.ctx, input, change);
  }
  findOrganization(name: string): Promise<Organization | null> {
    return findOrganization(this.ctx.db, name);
  }
  createUser(input: CreateUserInput, change?: DirectoryChange): Promise<User> {
    return createUser(this.ctx, input, change);
  }
  getUser(tenant: string, email: string): Promise<User> {
    return requireUser(this.ctx.db, tenant, email);
  }
  /** Disabling a user makes every one of their PATs fail authentication at once. */
  setUserStatus(tenant: string, email: string, status: UserStatus, change?: DirectoryChange): Promise<User> {
    return setUserStatus(this.ctx, tenant, email, status, change);
  }
  setUserGroups(
    tenant: string,
    email: string,
    groups: string[],
    change?: DirectoryChange,
  ): Promise<string[]> {
    return setUserGroups(this.ctx, tenant, email, groups, change);
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
  recordMailSent(fingerprint: string, at?: Date): Promise<{ firstTime: boolean }> {
    return recordMailSent(this.ctx, fingerprint, at);
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
  /** Checks the keyed chain and, from `checkpointFile` (default: the configured one), the signed checkpoints. */
  verifyAuditChain(tenantId: string, options?: { checkpointFile?: string }): Promise<AuditChainReport> {
    return verifyAuditChain(this.ctx, tenantId, options);
  }
  /** Signs each tenant's chain head into the checkpoint file and the log (heads in `written` are skipped). */
  writeAuditCheckpoints(written?: Map<string, number>): Promise<{ written: number }> {
    return writeAuditCheckpoints(this.ctx, written);
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
  let store: IssuerStore;
  try {
    const auditKey = await loadAuditKey({
      key: options.config.audit.key,
      env: options.config.env,
      dataDir: options.config.dataDir,
      logger: options.logger,
    });
    store = new IssuerStore({ db, logger: options.logger, config: options.config, auditKey });
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
 * Runs the expiry sweep, the audit retention purge and the audit checkpoints now and then every `intervalMs`
 * (timer unref'd). Any number of processes may run it: the jobs are safe to run concurrently (each process
 * appends its own checkpoints). Returns a stop function.
 */
export function scheduleIssuerMaintenance(
  store: IssuerStore,
  options: { intervalMs?: number } = {},
): () => Promise<void> {
  let running: Promise<void> | null = null;
  const checkpointed = new Map<string, number>();
  const run = () => {
    if (running) return;
    running = (async () => {
      try {
        await store.expireDuePats();
        await store.purgeAuditLog();
        await store.writeAuditCheckpoints(checkpointed);
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
