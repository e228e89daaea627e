/**
 * The audit log. Events are appended, never changed: the database refuses UPDATE and DELETE (migrations 003,
 * 006) except the retention purge, which it holds to the retention period. Each tenant's events form a keyed
 * chain: event n stores the MAC of event n-1, and each MAC is an HMAC under a key the database never sees, so
 * an edited, inserted or deleted row, or a chain recomputed without the key, shows up in `verifyAuditChain`.
 * The purge leaves a signed anchor where the chain resumes; signed checkpoints of each chain's head, written
 * outside the database, reveal deleted newest events.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Queryable } from "./database.js";
import { invalid } from "./errors.js";
import type { Actor, StoreContext } from "./model.js";

/** Azure DevOps action ids, with their area and category. */
export const AUDIT_ACTIONS = {
  "Token.PatCreateEvent": { area: "Token", category: "Create" },
  "Token.PatUpdateEvent": { area: "Token", category: "Modify" },
  "Token.PatRevokeEvent": { area: "Token", category: "Remove" },
  "Token.PatSystemRevokeEvent": { area: "Token", category: "Remove" },
  "Token.PatExpiredEvent": { area: "Token", category: "Modify" },
  "Token.PatPublicDiscoveryEvent": { area: "Token", category: "Access" },
  "Policy.PolicyValueUpdated": { area: "Policy", category: "Modify" },
  // Directory changes. Azure DevOps ids where it has them (Organization.Create, Group.UpdateGroupMembership.*).
  "Tenant.Create": { area: "Tenant", category: "Create" },
  "Tenant.IdentityProviderUpdated": { area: "Tenant", category: "Modify" },
  "Organization.Create": { area: "Organization", category: "Create" },
  "User.Create": { area: "User", category: "Create" },
  "User.Disable": { area: "User", category: "Modify" },
  "User.Enable": { area: "User", category: "Modify" },
  "Group.UpdateGroupMembership.Add": { area: "Group", category: "Modify" },
  "Group.UpdateGroupMembership.Remove": { area: "Group", category: "Modify" },
} as const;

export type AuditActionId = keyof typeof AUDIT_ACTIONS;
export type AuditData = Record<string, string | number | boolean | null>;

/** The previous hash of a tenant's first event. */
export const GENESIS_HASH = "0".repeat(64);
/** First key of the two-key advisory lock that serialises appends per tenant (ASCII "audi"). */
const AUDIT_LOCK_CLASS = 0x61756469;

export interface AuditEventInput {
  tenantId: string;
  organization: { id: string; name: string } | null;
  actor: Actor;
  actionId: AuditActionId;
  /** One sentence for people. Never a token. */
  details: string;
  /** Structured details: names, ids, repository locations. Never a token. */
  data: AuditData;
  correlationId?: string | null;
  ipAddress?: string | null;
}

export interface AuditEvent {
  id: string;
  tenantId: string;
  seq: number;
  timestamp: Date;
  organizationId: string | null;
  organizationName: string | null;
  actorKind: Actor["kind"];
  actorUserId: string | null;
  actorDisplayName: string;
  actorUpn: string | null;
  actionId: string;
  area: string;
  category: string;
  details: string;
  data: AuditData;
  correlationId: string | null;
  ipAddress: string | null;
  prevHash: string;
  hash: string;
}

interface AuditRow {
  tenant_id: string;
  seq: number | string;
  id: string;
  occurred_at: Date;
  organization_id: string | null;
  organization_name: string | null;
  actor_kind: Actor["kind"];
  actor_user_id: string | null;
  actor_display_name: string;
  actor_upn: string | null;
  action_id: string;
  area: string;
  category: string;
  details: string;
  data: AuditData;
  correlation_id: string | null;
  ip_address: string | null;
  prev_hash: string;
  hash: string;
}

const AUDIT_COLUMNS = `tenant_id, seq, id, occurred_at, organization_id, organization_name, actor_kind, actor_user_id,
  actor_display_name, actor_upn, action_id, area, category, details, data, correlation_id, ip_address, prev_hash, hash`;

function eventFromRow(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    seq: Number(row.seq),
    timestamp: row.occurred_at,
    organizationId: row.organization_id,
    organizationName: row.organization_name,
    actorKind: row.actor_kind,
    actorUserId: row.actor_user_id,
    actorDisplayName: row.actor_display_name,
    actorUpn: row.actor_upn,
    actionId: row.action_id,
    area: row.area,
    category: row.category,
    details: row.details,
    data: row.data,
    correlationId: row.correlation_id,
    ipAddress: row.ip_address,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** JSON with object keys sorted at every level, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

const hmac = (key: Buffer, material: unknown) =>
  createHmac("sha256", key).update(canonicalJson(material)).digest("hex");

function macEquals(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** An event's MAC: HMAC-SHA256, under the chain key, of the canonical JSON of every stored field but itself. */
export function auditEventHash(event: Omit<AuditEvent, "hash">, chainKey: Buffer): string {
  const material = {
    v: 2,
    id: event.id,
    tenantId: event.tenantId,
    seq: event.seq,
    timestamp: event.timestamp.toISOString(),
    organizationId: event.organizationId,
    organizationName: event.organizationName,
    actorKind: event.actorKind,
    actorUserId: event.actorUserId,
    actorDisplayName: event.actorDisplayName,
    actorUpn: event.actorUpn,
    actionId: event.actionId,
    area: event.area,
    category: event.category,
    details: event.details,
    data: event.data,
    correlationId: event.correlationId,
    ipAddress: event.ipAddress,
    prevHash: event.prevHash,
  };
  return hmac(chainKey, material);
}

interface Anchor {
  tenantId: string;
  seq: number;
  hash: string;
  purgedAt: Date;
}

function anchorMac(anchor: Anchor, anchorKey: Buffer): string {
  return hmac(anchorKey, {
    v: 2,
    tenantId: anchor.tenantId,
    seq: anchor.seq,
    hash: anchor.hash,
    purgedAt: anchor.purgedAt.toISOString(),
  });
}

/**
 * People read `details`; the values in it come from users. Quote them as JSON strings, and escape the
 * characters that would let a value end the quote, start a new line or reorder the text around it.
 */
export function quoted(value: string): string {
  return JSON.stringify(value).replace(
    /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// Postgres text cannot hold NUL; strip it rather than fail an audit write.
const withoutNul = (s: string) => s.replaceAll("\u0000", "");

function actorFields(actor: Actor) {
  switch (actor.kind) {
    case "user":
      return {
        kind: actor.kind,
        userId: actor.user.id,
        displayName: actor.user.displayName,
        upn: actor.user.email,
      };
    case "admin":
    case "system":
      return { kind: actor.kind, userId: null, displayName: actor.name, upn: null };
  }
}

/** Serialises writers of one tenant's chain until the transaction ends (re-entrant within it). */
export async function lockTenantAuditChain(tx: Queryable, tenantId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))", [AUDIT_LOCK_CLASS, tenantId]);
}

/**
 * Appends one event to the tenant's chain. Call it as the last statement of the transaction that made the
 * change, so the event commits with it and the per-tenant lock is held only briefly (and always taken last,
 * which keeps lock order the same everywhere).
 */
export async function appendAuditEvent(
  ctx: Pick<StoreContext, "auditKeys">,
  tx: Queryable,
  input: AuditEventInput,
): Promise<AuditEvent> {
  await lockTenantAuditChain(tx, input.tenantId);
  const { rows: last } = await tx.query<{ seq: number | string; hash: string }>(
    `SELECT seq, hash FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`,
    [input.tenantId],
  );
  let previous = last[0];
  if (!previous) {
    const { rows: anchors } = await tx.query<{ seq: number | string; hash: string }>(
      "SELECT seq, hash FROM audit_chain_anchors WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
      [input.tenantId],
    );
    previous = anchors[0] ?? { seq: 0, hash: GENESIS_HASH };
  }
  // The database clock, read under the lock, keeps timestamps in chain order across processes.
  const { rows: clock } = await tx.query<{ now: Date }>(
    "SELECT date_trunc('milliseconds', clock_timestamp()) AS now",
  );
  const actor = actorFields(input.actor);
  const { area, category } = AUDIT_ACTIONS[input.actionId];
  const data: AuditData = {};
  for (const [key, value] of Object.entries(input.data))
    data[key] = typeof value === "string" ? withoutNul(value) : value;
  const event: Omit<AuditEvent, "hash"> = {
    id: randomUUID(),
    tenantId: input.tenantId,
    seq: Number(previous.seq) + 1,
    timestamp: clock[0].now,
    organizationId: input.organization?.id ?? null,
    organizationName: input.organization?.name ?? null,
    actorKind: actor.kind,
    actorUserId: actor.userId,
    actorDisplayName: withoutNul(actor.displayName),
    actorUpn: actor.upn,
    actionId: input.actionId,
    area,
    category,
    details: withoutNul(input.details),
    data,
    correlationId: input.correlationId ?? null,
    ipAddress: input.ipAddress ?? null,
    prevHash: previous.hash,
  };
  const hash = auditEventHash(event, ctx.auditKeys.chain);
  await tx.query(
    `INSERT INTO audit_events (${AUDIT_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17, $18, $19)`,
    [
      event.tenantId,
      event.seq,
      event.id,
      event.timestamp,
      event.organizationId,
      event.organizationName,
      event.actorKind,
      event.actorUserId,
      event.actorDisplayName,
      event.actorUpn,
      event.actionId,
      event.area,
      event.category,
      event.details,
      JSON.stringify(event.data),
      event.correlationId,
      event.ipAddress,
      event.prevHash,
      hash,
    ],
  );
  return { ...event, hash };
}

export interface AuditQuery {
  tenantId: string;
  /** The organization's events and the tenant-wide ones (tenant policy changes). */
  organizationId?: string;
  startTime?: Date;
  endTime?: Date;
  actionId?: string;
  batchSize?: number;
  continuationToken?: string;
}

export interface AuditPage {
  entries: AuditEvent[];
  continuationToken: string | null;
  hasMore: boolean;
}

export const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ seq })).toString("base64url");

function decodeCursor(token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { seq?: unknown };
    if (typeof parsed.seq === "number" && Number.isSafeInteger(parsed.seq) && parsed.seq > 0)
      return parsed.seq;
  } catch {
    // fall through to the error below
  }
  throw invalid("continuationToken is not one this service issued");
}

/** Newest first, as Azure DevOps pages its audit log. */
export async function queryAuditLog(ctx: StoreContext, query: AuditQuery): Promise<AuditPage> {
  const batchSize = query.batchSize ?? 200;
  const before = query.continuationToken ? decodeCursor(query.continuationToken) : null;
  const { rows } = await ctx.db.query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE tenant_id = $1
        AND ($2::uuid IS NULL OR organization_id = $2 OR organization_id IS NULL)
        AND ($3::timestamptz IS NULL OR occurred_at >= $3)
        AND ($4::timestamptz IS NULL OR occurred_at < $4)
        AND ($5::text IS NULL OR action_id = $5)
        AND ($6::bigint IS NULL OR seq < $6)
      ORDER BY seq DESC
      LIMIT $7`,
    [
      query.tenantId,
      query.organizationId ?? null,
      query.startTime ?? null,
      query.endTime ?? null,
      query.actionId ?? null,
      before,
      batchSize + 1,
    ],
  );
  const hasMore = rows.length > batchSize;
  const entries = rows.slice(0, batchSize).map(eventFromRow);
  return {
    entries,
    hasMore,
    continuationToken: hasMore ? encodeCursor(entries[entries.length - 1].seq) : null,
  };
}

/** Every event in chain order, read in batches: the JSON-lines export and the chain check both use it. */
async function* eventsInChainOrder(
  ctx: StoreContext,
  tenantId: string,
  filter: { organizationId?: string; startTime?: Date; endTime?: Date } = {},
): AsyncGenerator<AuditEvent> {
  let after = 0;
  for (;;) {
    const { rows } = await ctx.db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events
        WHERE tenant_id = $1 AND seq > $2
          AND ($3::uuid IS NULL OR organization_id = $3 OR organization_id IS NULL)
          AND ($4::timestamptz IS NULL OR occurred_at >= $4)
          AND ($5::timestamptz IS NULL OR occurred_at < $5)
        ORDER BY seq ASC
        LIMIT 1000`,
      [tenantId, after, filter.organizationId ?? null, filter.startTime ?? null, filter.endTime ?? null],
    );
    for (const row of rows) yield eventFromRow(row);
    if (rows.length < 1000) return;
    after = Number(rows[rows.length - 1].seq);
  }
}

/** One JSON object per line, oldest first, with `prevHash` and `hash` so the export can be checked offline. */
export async function* exportAuditLog(
  ctx: StoreContext,
  tenantId: string,
  filter: { organizationId?: string; startTime?: Date; endTime?: Date } = {},
): AsyncGenerator<string> {
  for await (const event of eventsInChainOrder(ctx, tenantId, filter)) {
    yield `${JSON.stringify({ ...event, timestamp: event.timestamp.toISOString() })}\n`;
  }
}

export type AuditChainReport =
  | {
      ok: true;
      checked: number;
      lastSeq: number;
      /** Signed checkpoints (outside the database) that matched the chain. */
      checkpoints: number;
      /** Where the chain starts after retention purges: the signed anchor's sequence number, or 0. */
      startsAfter: number;
    }
  | {
      ok: false;
      checked: number;
      brokenAt: { seq: number; id: string | null; reason: string };
    };

export interface AuditCheckpoint {
  type: "patrol.audit.checkpoint";
  v: 1;
  tenantId: string;
  seq: number;
  hash: string;
  at: string;
  mac: string;
}

function checkpointMac(checkpoint: Omit<AuditCheckpoint, "mac">, checkpointKey: Buffer): string {
  return hmac(checkpointKey, checkpoint);
}

/** A tenant's checkpoints from the checkpoint file; a line whose MAC does not verify is reported, not skipped. */
async function readCheckpoints(
  ctx: StoreContext,
  tenantId: string,
  file: string | undefined,
): Promise<{ checkpoints: AuditCheckpoint[]; forgedLine: number | null }> {
  if (file === undefined) return { checkpoints: [], forgedLine: null };
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { checkpoints: [], forgedLine: null };
    throw error;
  }
  const checkpoints: AuditCheckpoint[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let parsed: AuditCheckpoint;
    try {
      parsed = JSON.parse(lines[i]) as AuditCheckpoint;
    } catch {
      return { checkpoints, forgedLine: i + 1 };
    }
    if (parsed?.type !== "patrol.audit.checkpoint" || parsed.tenantId !== tenantId) continue;
    const { mac, ...rest } = parsed;
    const material = {
      type: rest.type,
      v: rest.v,
      tenantId: rest.tenantId,
      seq: rest.seq,
      hash: rest.hash,
      at: rest.at,
    };
    if (typeof mac !== "string" || !macEquals(checkpointMac(material, ctx.auditKeys.checkpoint), mac)) {
      return { checkpoints, forgedLine: i + 1 };
    }
    checkpoints.push(parsed);
  }
  return { checkpoints, forgedLine: null };
}

/**
 * Walks a tenant's chain from its start (or its latest signed retention anchor), checks every MAC, and checks
 * it against the signed checkpoints in `checkpointFile` (default: the configured one): each checkpointed event
 * must still be there with the same MAC, unless a signed anchor says the purge removed it.
 */
export async function verifyAuditChain(
  ctx: StoreContext,
  tenantId: string,
  options: { checkpointFile?: string } = {},
): Promise<AuditChainReport> {
  const { rows: anchors } = await ctx.db.query<{
    seq: number | string;
    hash: string;
    purged_at: Date;
    mac: string | null;
  }>(
    "SELECT seq, hash, purged_at, mac FROM audit_chain_anchors WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
    [tenantId],
  );
  const anchorRow = anchors[0];
  if (anchorRow) {
    const anchor = {
      tenantId,
      seq: Number(anchorRow.seq),
      hash: anchorRow.hash,
      purgedAt: anchorRow.purged_at,
    };
    if (anchorRow.mac === null || !macEquals(anchorMac(anchor, ctx.auditKeys.anchor), anchorRow.mac)) {
      return {
        ok: false,
        checked: 0,
        brokenAt: {
          seq: anchor.seq + 1,
          id: null,
          reason: `the retention anchor at event ${anchor.seq} has no valid signature: events before it were deleted outside the purge`,
        },
      };
    }
  }
  const startsAfter = anchorRow ? Number(anchorRow.seq) : 0;
  const { checkpoints, forgedLine } = await readCheckpoints(
    ctx,
    tenantId,
    options.checkpointFile ?? ctx.auditCheckpointFile,
  );
  if (forgedLine !== null) {
    return {
      ok: false,
      checked: 0,
      brokenAt: {
        seq: 0,
        id: null,
        reason: `line ${forgedLine} of the checkpoint file is not a checkpoint signed with this audit key`,
      },
    };
  }
  const expectedBySeq = new Map<number, AuditCheckpoint>();
  for (const checkpoint of checkpoints) {
    if (checkpoint.seq > startsAfter) expectedBySeq.set(checkpoint.seq, checkpoint);
    // A checkpoint of the anchor's own event: the anchor must carry the same MAC.
    if (checkpoint.seq === startsAfter && anchorRow && checkpoint.hash !== anchorRow.hash) {
      return {
        ok: false,
        checked: 0,
        brokenAt: {
          seq: startsAfter,
          id: null,
          reason: "the retention anchor does not match the checkpoint of its event",
        },
      };
    }
  }
  let expectedSeq = startsAfter + 1;
  let expectedPrev = anchorRow?.hash ?? GENESIS_HASH;
  let checked = 0;
  let matched = 0;
  for await (const event of eventsInChainOrder(ctx, tenantId)) {
    const broken = (reason: string): AuditChainReport => ({
      ok: false,
      checked,
      brokenAt: { seq: event.seq, id: event.id, reason },
    });
    if (event.seq !== expectedSeq) {
      return broken(`expected event ${expectedSeq} next but found ${event.seq}: events are missing`);
    }
    if (event.prevHash !== expectedPrev) {
      return broken("its previous-MAC does not match the MAC of the event before it");
    }
    const { hash, ...rest } = event;
    if (!macEquals(auditEventHash(rest, ctx.auditKeys.chain), hash))
      return broken(
        "its contents do not match its MAC: the row was changed or written without the audit key (events written before migration 006 were not keyed)",
      );
    const checkpoint = expectedBySeq.get(event.seq);
    if (checkpoint) {
      if (checkpoint.hash !== hash) return broken(`it differs from the checkpoint of ${checkpoint.at}`);
      matched++;
    }
    expectedSeq = event.seq + 1;
    expectedPrev = hash;
    checked++;
  }
  const lastSeq = expectedSeq - 1;
  const newest = checkpoints.reduce<AuditCheckpoint | null>((a, c) => (a && a.seq >= c.seq ? a : c), null);
  if (newest && newest.seq > lastSeq) {
    return {
      ok: false,
      checked,
      brokenAt: {
        seq: lastSeq + 1,
        id: null,
        reason: `events ${lastSeq + 1} to ${newest.seq} are missing: the checkpoint of ${newest.at} saw the chain reach event ${newest.seq}`,
      },
    };
  }
  return { ok: true, checked, lastSeq, checkpoints: matched, startsAfter };
}

/**
 * Appends a signed checkpoint of each tenant's chain head (sequence number and MAC) to the checkpoint file and
 * to the log, for every head that moved since this process last wrote one. Kept outside the database, these
 * let `audit verify` see that newest events were deleted.
 */
export async function writeAuditCheckpoints(
  ctx: StoreContext,
  written: Map<string, number> = new Map(),
): Promise<{ written: number }> {
  // One index probe per tenant for its newest event, rather than a walk over every event.
  const { rows } = await ctx.db.query<{ tenant_id: string; seq: number | string; hash: string; now: Date }>(
    `SELECT t.id AS tenant_id, e.seq, e.hash, date_trunc('milliseconds', clock_timestamp()) AS now
       FROM tenants t
       CROSS JOIN LATERAL (
         SELECT seq, hash FROM audit_events WHERE tenant_id = t.id ORDER BY seq DESC LIMIT 1
       ) e
      ORDER BY t.id`,
  );
  const lines: string[] = [];
  for (const row of rows) {
    const seq = Number(row.seq);
    if (written.get(row.tenant_id) === seq) continue;
    const material = {
      type: "patrol.audit.checkpoint" as const,
      v: 1 as const,
      tenantId: row.tenant_id,
      seq,
      hash: row.hash,
      at: row.now.toISOString(),
    };
    const checkpoint: AuditCheckpoint = {
      ...material,
      mac: checkpointMac(material, ctx.auditKeys.checkpoint),
    };
    lines.push(`${JSON.stringify(checkpoint)}\n`);
    ctx.logger.info({ auditCheckpoint: checkpoint }, "audit checkpoint");
    written.set(row.tenant_id, seq);
  }
  if (lines.length > 0 && ctx.auditCheckpointFile !== undefined) {
    await mkdir(path.dirname(ctx.auditCheckpointFile), { recursive: true });
    // One append per batch: O_APPEND keeps concurrent writers' lines whole.
    await appendFile(ctx.auditCheckpointFile, lines.join(""), { mode: 0o600 });
  }
  return { written: lines.length };
}

/**
 * Deletes events older than the retention period (default from config), tenant by tenant, and records where
 * each chain now starts in a signed anchor. The database allows these DELETEs only because this transaction
 * sets the cutoff, and never for events younger than the retention period it holds (migration 006).
 */
export async function purgeAuditLog(
  ctx: StoreContext,
  options: { now?: Date } = {},
): Promise<{ deleted: number }> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - ctx.auditRetentionDays * 86_400_000);
  await ctx.db.query(
    "UPDATE audit_retention SET retention_days = $1, updated_at = now() WHERE retention_days <> $1",
    [ctx.auditRetentionDays],
  );
  const { rows: tenants } = await ctx.db.query<{ tenant_id: string }>(
    "SELECT DISTINCT tenant_id FROM audit_events WHERE occurred_at < $1",
    [cutoff],
  );
  let deleted = 0;
  for (const { tenant_id: tenantId } of tenants) {
    deleted += await ctx.db.transaction(async (tx) => {
      await lockTenantAuditChain(tx, tenantId);
      await tx.query("SELECT set_config('patrol.audit_purge_before', $1, true)", [cutoff.toISOString()]);
      const { rows } = await tx.query<{ seq: number | string; hash: string }>(
        // Never ask for what the database would refuse: its clock and retention bound the cutoff too.
        `DELETE FROM audit_events
          WHERE tenant_id = $1 AND occurred_at < least($2::timestamptz, now() - make_interval(days => $3::int))
          RETURNING seq, hash`,
        [tenantId, cutoff, ctx.auditRetentionDays],
      );
      await tx.query("SELECT set_config('patrol.audit_purge_before', '', true)");
      if (rows.length === 0) return 0;
      const last = rows.reduce((a, b) => (Number(a.seq) > Number(b.seq) ? a : b));
      const { rows: clock } = await tx.query<{ now: Date }>(
        "SELECT date_trunc('milliseconds', clock_timestamp()) AS now",
      );
      const anchor = { tenantId, seq: Number(last.seq), hash: last.hash, purgedAt: clock[0].now };
      await tx.query(
        "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at, mac) VALUES ($1, $2, $3, $4, $5)",
        [tenantId, anchor.seq, anchor.hash, anchor.purgedAt, anchorMac(anchor, ctx.auditKeys.anchor)],
      );
      return rows.length;
    });
  }
  if (deleted > 0)
    ctx.logger.info({ deleted, cutoff: cutoff.toISOString() }, "purged audit events past retention");
  return { deleted };
}
