/**
 * Attacks on the audit log by someone with write access to the database but not the audit key: each one is
 * tried here as that attacker would, and `audit verify` must catch it.
 */
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIssuerCommand } from "../../src/cli/issuer-commands.js";
import { ConfigError, estimatedEntropyBits, loadConfig } from "../../src/config.js";
import {
  auditEventHash,
  canonicalJson,
  verifyAuditChain,
  writeAuditCheckpoints,
} from "../../src/issuer/audit.js";
import { DEV_AUDIT_KEY_FILE, deriveAuditKeys, loadAuditKey } from "../../src/issuer/audit-keys.js";
import type { AuditEvent } from "../../src/issuer/index.js";
import { IssuerStore, migrate, scheduleIssuerMaintenance } from "../../src/issuer/index.js";
import { defaultMigrationsDir } from "../../src/issuer/migrations.js";
import { openTestDatabase } from "../support/database.js";
import { asUser, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

/** A tenant whose log holds its creation and `pats` PAT creations. */
async function tenantWithLog(pats = 3) {
  const s = await seedTenant(issuer.store);
  for (let i = 0; i < pats; i++) {
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: `pat ${i}`,
      scope: "vso.code",
      actor: asUser(s.alice),
    });
  }
  return { ...s, events: await events(s.tenant.id) };
}

async function events(tenantId: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const line of issuer.store.exportAuditLog(tenantId)) {
    const e = JSON.parse(line);
    out.push({ ...e, timestamp: new Date(e.timestamp) });
  }
  return out;
}

/** As an attacker with table access: past every trigger (session_replication_role needs no table rights). */
async function asAttacker(statements: [string, unknown[]][]) {
  await issuer.store.db.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = replica");
    for (const [sql, params] of statements) await tx.query(sql, params);
  });
}

/** The hash the chain used before it was keyed: SHA-256 of the same material, which anyone can compute. */
function unkeyedHash(event: Omit<AuditEvent, "hash">): string {
  const { id, tenantId, seq, timestamp, prevHash, ...rest } = event;
  return createHash("sha256")
    .update(canonicalJson({ v: 1, id, tenantId, seq, timestamp: timestamp.toISOString(), ...rest, prevHash }))
    .digest("hex");
}

describe("audit log attacks", () => {
  it("edit: a changed row is caught at that row", async () => {
    const s = await tenantWithLog();
    const target = s.events[s.events.length - 2];
    await asAttacker([
      [
        "UPDATE audit_events SET details = 'nothing happened' WHERE tenant_id = $1 AND seq = $2",
        [s.tenant.id, target.seq],
      ],
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: target.seq } });
  });

  it("edit a row, recompute its hash, rewrite the next row's prev_hash: caught, the key is missing", async () => {
    const s = await tenantWithLog();
    const [edited, next] = s.events.slice(-2);
    const forged = { ...edited, details: "a harmless rename" };
    const { hash: _h, ...material } = forged;
    // With the unkeyed algorithm, and with a key the attacker made up: neither verifies.
    for (const forgedHash of [unkeyedHash(material), auditEventHash(material, randomBytes(32))]) {
      await asAttacker([
        [
          "UPDATE audit_events SET details = $3, hash = $4 WHERE tenant_id = $1 AND seq = $2",
          [s.tenant.id, edited.seq, forged.details, forgedHash],
        ],
        [
          "UPDATE audit_events SET prev_hash = $3 WHERE tenant_id = $1 AND seq = $2",
          [s.tenant.id, next.seq, forgedHash],
        ],
      ]);
      const report = await issuer.store.verifyAuditChain(s.tenant.id);
      expect(report).toMatchObject({ ok: false, brokenAt: { seq: edited.seq } });
      if (!report.ok) expect(report.brokenAt.reason).toMatch(/without the audit key/);
    }
  });

  it("recompute the whole chain without the key: caught at its first event", async () => {
    const s = await tenantWithLog();
    let prevHash = "0".repeat(64);
    const statements: [string, unknown[]][] = [];
    for (const e of s.events) {
      const { hash: _h, ...rest } = { ...e, prevHash, actorDisplayName: "someone else" };
      const hash = unkeyedHash(rest);
      statements.push([
        "UPDATE audit_events SET actor_display_name = $3, prev_hash = $4, hash = $5 WHERE tenant_id = $1 AND seq = $2",
        [s.tenant.id, e.seq, rest.actorDisplayName, prevHash, hash],
      ]);
      prevHash = hash;
    }
    await asAttacker(statements);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, checked: 0, brokenAt: { seq: 1 } });
  });

  it("delete the tail: invisible to the chain alone, caught by a signed checkpoint", async () => {
    const s = await tenantWithLog();
    const head = s.events[s.events.length - 1].seq;
    const { written } = await issuer.store.writeAuditCheckpoints();
    expect(written).toBeGreaterThanOrEqual(1);
    // The checkpoint also went to the log, for a log pipeline to keep.
    expect(issuer.logs.some((l) => l.includes('"auditCheckpoint"') && l.includes(s.tenant.id))).toBe(true);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: true, checkpoints: 1 });

    await asAttacker([
      ["DELETE FROM audit_events WHERE tenant_id = $1 AND seq >= $2", [s.tenant.id, head - 1]],
    ]);
    // What the chain alone says: the shortened chain is consistent.
    const emptyFile = path.join(tmpdir(), `patrol-no-checkpoints-${process.pid}.jsonl`);
    expect(await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: emptyFile })).toMatchObject({
      ok: true,
      lastSeq: head - 2,
    });
    // What the checkpoint says.
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: head - 1 } });
    if (!report.ok)
      expect(report.brokenAt.reason).toMatch(new RegExp(`events ${head - 1} to ${head} are missing`));

    // The CLI says so too, and exits 1.
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
    };
    const code = await runIssuerCommand(["audit", "verify", "--tenant", s.tenant.name], io, {
      store: issuer.store,
    });
    expect(code).toBe(1);
    expect(out.join("")).toMatch(/BROKEN/);
  });

  it("checkpoints are written by the periodic maintenance, once per new head", async () => {
    const s = await tenantWithLog(1);
    const mine = async () =>
      (await readFile(issuer.config.audit.checkpointFile, "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l.includes(s.tenant.id)).length;
    const before = await mine();
    const stop = scheduleIssuerMaintenance(issuer.store, { intervalMs: 3_600_000 });
    await stop();
    expect(await mine()).toBe(before + 1);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checkpoints: before + 1,
    });
  });

  it("a checkpoint rewritten in the file, or signed with another key, is refused", async () => {
    const s = await tenantWithLog(1);
    await issuer.store.writeAuditCheckpoints();
    const file = issuer.config.audit.checkpointFile;
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    const mine = lines.map((l) => JSON.parse(l)).filter((c) => c.tenantId === s.tenant.id);
    expect(mine.length).toBeGreaterThanOrEqual(1);
    const forgedFile = path.join(tmpdir(), `patrol-forged-${process.pid}-${Date.now()}.jsonl`);
    const lowered = { ...mine[mine.length - 1], seq: 1 };
    await writeFile(forgedFile, `${JSON.stringify(lowered)}\n`);
    const report = await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: forgedFile });
    expect(report).toMatchObject({ ok: false });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/not a checkpoint signed with this audit key/);
    await rm(forgedFile, { force: true });
  });

  it("delete the head and forge an anchor: caught, the anchor is not signed", async () => {
    const s = await tenantWithLog();
    const cut = s.events[2];
    await asAttacker([
      ["DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2", [s.tenant.id, cut.seq]],
      [
        "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at) VALUES ($1, $2, $3, now())",
        [s.tenant.id, cut.seq, cut.hash],
      ],
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: cut.seq + 1 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/no valid signature/);

    // A MAC made up by the attacker does not help either.
    await asAttacker([
      [
        "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at, mac) VALUES ($1, $2, $3, now(), $4)",
        [s.tenant.id, cut.seq + 1, s.events[3].hash, "ab".repeat(32)],
      ],
      ["DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2", [s.tenant.id, cut.seq + 1]],
    ]);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: false });
  });

  it("delete the head without an anchor: caught as missing events", async () => {
    const s = await tenantWithLog();
    await asAttacker([["DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= 2", [s.tenant.id]]]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: 3 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/missing/);
  });

  it("the purge path cannot delete events younger than the retention the database holds", async () => {
    const s = await tenantWithLog(1);
    const count = s.events.length;
    const purgeAll = (cutoff: string) =>
      issuer.store.db.transaction(async (tx) => {
        await tx.query("SELECT set_config('patrol.audit_purge_before', $1, true)", [cutoff]);
        await tx.query("DELETE FROM audit_events WHERE tenant_id = $1", [s.tenant.id]);
      });
    // A cutoff in the future, as the application's own role could set it.
    await expect(purgeAll("2999-01-01T00:00:00Z")).rejects.toThrow(/append-only/);
    // Lowering the retention to its floor still leaves today's events alone.
    await issuer.store.db.query("UPDATE audit_retention SET retention_days = 1");
    await expect(purgeAll("2999-01-01T00:00:00Z")).rejects.toThrow(/append-only/);
    await expect(issuer.store.db.query("UPDATE audit_retention SET retention_days = 0")).rejects.toThrow();
    await expect(issuer.store.db.query("DELETE FROM audit_retention")).rejects.toThrow(/append-only/);
    await issuer.store.db.query("UPDATE audit_retention SET retention_days = 90");
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1",
      [s.tenant.id],
    );
    expect(rows[0].n).toBe(count);
  });

  it("anchors are append-only", async () => {
    const s = await tenantWithLog(1);
    await issuer.store.db.query(
      "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at) VALUES ($1, 0, $2, now())",
      [s.tenant.id, "0".repeat(64)],
    );
    for (const sql of [
      "UPDATE audit_chain_anchors SET seq = 5 WHERE tenant_id = $1",
      "DELETE FROM audit_chain_anchors WHERE tenant_id = $1",
    ]) {
      await expect(issuer.store.db.query(sql, [s.tenant.id])).rejects.toThrow(/append-only/);
    }
    await expect(issuer.store.db.query("TRUNCATE audit_chain_anchors")).rejects.toThrow(/append-only/);
  });

  it("a store with another key cannot vouch for this log", async () => {
    const s = await tenantWithLog(1);
    const other = new IssuerStore({ db: issuer.store.db, logger: issuer.logger, auditKey: randomBytes(32) });
    expect(await other.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: false, brokenAt: { seq: 1 } });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: true });
  });
});

describe("the checkpoint file", () => {
  it("is created with its directories, readable by its owner only, and gets a line per tenant whose head moved", async () => {
    const s = await tenantWithLog(1);
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-checkpoints-"));
    try {
      const file = path.join(dir, "a", "b", "checkpoints.jsonl");
      const ctx = { ...issuer.store.ctx, auditCheckpointFile: file };
      const written = new Map<string, number>();
      const first = await writeAuditCheckpoints(ctx, written);
      expect(first.written).toBeGreaterThanOrEqual(1);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const lines = (await readFile(file, "utf8")).trim().split("\n");
      expect(lines).toHaveLength(first.written);
      expect(lines.map((l) => JSON.parse(l)).filter((c) => c.tenantId === s.tenant.id)).toEqual([
        expect.objectContaining({ type: "patrol.audit.checkpoint", v: 1, seq: s.events.length }),
      ]);
      // Nothing moved: nothing written. One tenant's head moved: one line.
      expect(await writeAuditCheckpoints(ctx, written)).toEqual({ written: 0 });
      await issuer.store.createPat({
        organization: s.org.name,
        displayName: "moves the head",
        scope: "vso.code",
        actor: asUser(s.alice),
      });
      expect(await writeAuditCheckpoints(ctx, written)).toEqual({ written: 1 });
      expect((await readFile(file, "utf8")).trim().split("\n")).toHaveLength(first.written + 1);
      expect(await verifyAuditChain(ctx, s.tenant.id)).toMatchObject({ ok: true, checkpoints: 2 });
      // Without a file configured, checkpoints go to the log only.
      const logOnly = { ...issuer.store.ctx, auditCheckpointFile: undefined };
      expect((await writeAuditCheckpoints(logOnly)).written).toBeGreaterThanOrEqual(1);
      expect(await verifyAuditChain(logOnly, s.tenant.id)).toMatchObject({ ok: true, checkpoints: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("an event rewritten with the chain key differs from its checkpoint; the newest checkpoint bounds the chain", async () => {
    const s = await tenantWithLog(1);
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-checkpoints-"));
    try {
      const ctx = { ...issuer.store.ctx, auditCheckpointFile: path.join(dir, "all.jsonl") };
      const checkpointLine = async () => {
        await writeAuditCheckpoints(ctx);
        const lines = (await readFile(ctx.auditCheckpointFile, "utf8")).trim().split("\n");
        return lines.filter((l) => JSON.parse(l).tenantId === s.tenant.id).at(-1) as string;
      };
      const older = await checkpointLine();
      const h1 = JSON.parse(older).seq;
      await issuer.store.createPat({
        organization: s.org.name,
        displayName: "after the first checkpoint",
        scope: "vso.code",
        actor: asUser(s.alice),
      });
      const newer = await checkpointLine();
      const h2 = JSON.parse(newer).seq;
      expect(h2).toBe(h1 + 1);
      const file = path.join(dir, "two.jsonl");
      // Writers' lines can land in any order, and twice: the newest is the one with the highest sequence number.
      await writeFile(file, `${older}\n${newer}\n${older}\n`);
      expect(await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: file })).toMatchObject({
        ok: true,
        checkpoints: 2,
      });

      await asAttacker([["DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2", [s.tenant.id, h1]]]);
      const cut = await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: file });
      expect(cut).toMatchObject({ ok: false, brokenAt: { seq: h2, id: null } });
      if (!cut.ok) expect(cut.brokenAt.reason).toMatch(new RegExp(`^events ${h2} to ${h2} are missing`));

      // Someone holding the chain key rewrites the head: the chain verifies, its checkpoint does not.
      const head = (await events(s.tenant.id)).at(-1) as AuditEvent;
      const { hash: _old, ...rest } = { ...head, details: "nothing to see" };
      await asAttacker([
        [
          "UPDATE audit_events SET details = $3, hash = $4 WHERE tenant_id = $1 AND seq = $2",
          [s.tenant.id, head.seq, rest.details, auditEventHash(rest, issuer.store.ctx.auditKeys.chain)],
        ],
      ]);
      const olderFile = path.join(dir, "older.jsonl");
      await writeFile(olderFile, `${older}\n`);
      const rewritten = await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: olderFile });
      expect(rewritten).toMatchObject({
        ok: false,
        brokenAt: {
          seq: h1,
          id: head.id,
          reason: `it differs from the checkpoint of ${JSON.parse(older).at}`,
        },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("passes over blank lines, other records and other tenants; a missing file has none; a bad line is named", async () => {
    const s = await tenantWithLog(1);
    const other = await tenantWithLog(1);
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-checkpoints-"));
    try {
      const source = path.join(dir, "source.jsonl");
      await writeAuditCheckpoints({ ...issuer.store.ctx, auditCheckpointFile: source });
      const all = (await readFile(source, "utf8")).trim().split("\n");
      const mine = all.find((l) => JSON.parse(l).tenantId === s.tenant.id) as string;
      const theirs = all.find((l) => JSON.parse(l).tenantId === other.tenant.id) as string;
      const verify = async (lines: string[]) => {
        const file = path.join(dir, `try-${Math.random().toString(36).slice(2)}.jsonl`);
        await writeFile(file, lines.join("\n"));
        return issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: file });
      };
      const otherRecord = JSON.stringify({ ...JSON.parse(mine), type: "something else" });
      expect(await verify(["", theirs, "   ", "null", otherRecord, mine, ""])).toMatchObject({
        ok: true,
        checkpoints: 1,
      });
      // Another tenant's checkpoint says nothing about this chain, even at the same sequence number.
      expect(JSON.parse(theirs).seq).toBe(JSON.parse(mine).seq);
      expect(await verify([theirs])).toMatchObject({ ok: true, checkpoints: 0 });
      expect(
        await issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: path.join(dir, "none.jsonl") }),
      ).toMatchObject({ ok: true, checkpoints: 0 });
      await expect(issuer.store.verifyAuditChain(s.tenant.id, { checkpointFile: dir })).rejects.toThrow();

      const parsed = JSON.parse(mine);
      for (const [lines, line] of [
        [[theirs, "", "{not json"], 3],
        [[JSON.stringify({ ...parsed, mac: 7 })], 1],
        [[theirs, JSON.stringify({ ...parsed, mac: parsed.mac.slice(0, 10) })], 2],
        [[JSON.stringify({ ...parsed, at: "2000-01-01T00:00:00.000Z" })], 1],
      ] as [string[], number][]) {
        const report = await verify(lines);
        expect(report, lines.join(" | ")).toMatchObject({
          ok: false,
          checked: 0,
          brokenAt: {
            seq: 0,
            id: null,
            reason: `line ${line} of the checkpoint file is not a checkpoint signed with this audit key`,
          },
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the audit key", () => {
  it("is required in production, with a strong admin key", () => {
    const strong = randomBytes(32).toString("hex");
    const base = {
      NODE_ENV: "production",
      PATROL_ADMIN_KEY: strong,
      PATROL_AUDIT_KEY: strong,
      PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
    };
    expect(loadConfig(base).audit.key?.length).toBe(32);
    expect(() => loadConfig({ ...base, PATROL_AUDIT_KEY: undefined })).toThrow(
      /PATROL_AUDIT_KEY is required/,
    );
    expect(() => loadConfig({ ...base, PATROL_AUDIT_KEY: "abcd" })).toThrow(ConfigError);
    for (const weak of [
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "password-password-password",
      "0123456789abcdef",
    ]) {
      expect(() => loadConfig({ ...base, PATROL_ADMIN_KEY: weak }), weak).toThrow(/too weak/);
    }
    expect(estimatedEntropyBits("aaaaaaaaaaaaaaaaaaaa")).toBe(0);
    // Development keeps working without either.
    expect(loadConfig({ NODE_ENV: "development", PATROL_ADMIN_KEY: "aaaaaaaaaaaaaaaaaaaa" }).audit.key).toBe(
      undefined,
    );
  });

  it("in development without one, is generated once into the data directory (0600) with a warning", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "patrol-key-"));
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (l: string) => lines.push(l) });
    try {
      const first = await loadAuditKey({ key: undefined, env: "development", dataDir, logger });
      const again = await loadAuditKey({ key: undefined, env: "development", dataDir, logger });
      expect(first.length).toBe(32);
      expect(again.equals(first)).toBe(true);
      const info = await stat(path.join(dataDir, DEV_AUDIT_KEY_FILE));
      expect(info.mode & 0o777).toBe(0o600);
      expect(lines.join("")).toMatch(/PATROL_AUDIT_KEY is not set/);
      await expect(loadAuditKey({ key: undefined, env: "production", dataDir, logger })).rejects.toThrow(
        /required in production/,
      );
      // Derived keys differ by purpose, so a chain MAC is never a valid checkpoint or anchor MAC.
      const keys = deriveAuditKeys(first);
      expect(new Set([keys.chain, keys.anchor, keys.checkpoint].map((k) => k.toString("hex"))).size).toBe(3);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("migration 006", () => {
  it("applies on top of 004 with a log and an old anchor in place, keeping both", async () => {
    const database = await openTestDatabase({ migrate: false });
    const upTo004 = await mkdtemp(path.join(tmpdir(), "patrol-migrations-"));
    try {
      for (const file of await readdir(defaultMigrationsDir())) {
        if (/^00[1-4]_/.test(file))
          await copyFile(path.join(defaultMigrationsDir(), file), path.join(upTo004, file));
      }
      await migrate(database.db, upTo004);
      const { rows } = await database.db.query<{ id: string }>(
        "INSERT INTO tenants (name) VALUES ('old') RETURNING id",
      );
      const tenantId = rows[0].id;
      await database.db.query(
        `INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_display_name, action_id, area,
           category, details, prev_hash, hash)
         VALUES ($1, 8, gen_random_uuid(), now(), 'system', 'patrol', 'Token.PatExpiredEvent', 'Token', 'Modify', 'x', $2, $3)`,
        [tenantId, "1".repeat(64), "2".repeat(64)],
      );
      await database.db.query(
        "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at) VALUES ($1, 7, $2, now())",
        [tenantId, "1".repeat(64)],
      );
      const report = await migrate(database.db);
      expect(report.applied).toContain("006");
      const { rows: kept } = await database.db.query<{ n: number; anchors: number; retention: number }>(
        `SELECT (SELECT count(*)::int FROM audit_events) AS n, (SELECT count(*)::int FROM audit_chain_anchors) AS anchors,
                (SELECT retention_days FROM audit_retention) AS retention`,
      );
      expect(kept[0]).toEqual({ n: 1, anchors: 1, retention: 90 });
      // The old, unsigned anchor is kept but not trusted: the log before 006 was not keyed.
      const store = new IssuerStore({ db: database.db, logger: issuer.logger });
      expect(await store.verifyAuditChain(tenantId)).toMatchObject({ ok: false });
    } finally {
      await rm(upTo004, { recursive: true, force: true });
      await database.close();
    }
  });
});
