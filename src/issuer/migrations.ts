/**
 * Plain SQL migrations (`migrations/NNN_name.sql`), applied in order, each in its own transaction and recorded
 * in `schema_migrations`. Safe when several processes start at once: each migration runs under a
 * transaction-scoped advisory lock and is skipped when another process recorded it first.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "./database.js";

/** Arbitrary constant naming the migration lock (the ASCII of "patrolmg"). */
const MIGRATION_LOCK_KEY = "8097881639833333095";

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

/** The `migrations/` folder of the package, found by walking up from this file (works from src and dist). */
export function defaultMigrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "migrations");
    if (existsSync(candidate) && existsSync(path.join(dir, "package.json"))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new MigrationError("cannot find the migrations folder");
    dir = parent;
  }
}

export async function loadMigrations(dir = defaultMigrationsDir()): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d{3,})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`migration file name must look like 001_name.sql: ${file}`);
    const sql = await readFile(path.join(dir, file), "utf8");
    migrations.push({
      version: match[1],
      name: match[2],
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  const versions = new Set(migrations.map((m) => m.version));
  if (versions.size !== migrations.length) throw new MigrationError("two migrations share a version number");
  return migrations;
}

/** Applies every migration not yet recorded; refuses to run when an applied migration's file has changed. */
export async function migrate(db: Database, dir?: string): Promise<MigrationReport> {
  const migrations = await loadMigrations(dir);
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  for (const migration of migrations) {
    await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
      const { rows } = await tx.query<{ checksum: string }>(
        "SELECT checksum FROM schema_migrations WHERE version = $1",
        [migration.version],
      );
      if (rows.length > 0) {
        if (rows[0].checksum !== migration.checksum) {
          throw new MigrationError(
            `migration ${migration.version}_${migration.name} was changed after it was applied; add a new migration instead`,
          );
        }
        report.alreadyApplied.push(migration.version);
        return;
      }
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      report.applied.push(migration.version);
    });
  }
  return report;
}
