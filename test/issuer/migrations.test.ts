import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/issuer/migrations.js";
import { MEANINGFUL_ON_POSTGRES, openTestDatabase, type TestDatabase } from "../support/database.js";

describe("migrations", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await openTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await database.close();
  });

  it(`applies every migration file in order and records each once, even when two processes start together ${MEANINGFUL_ON_POSTGRES}`, async () => {
    const files = await loadMigrations();
    expect(files.map((m) => m.version)).toEqual([...files.map((m) => m.version)].sort());
    expect(files.length).toBeGreaterThanOrEqual(4);

    const second = await database.connectAgain();
    const [a, b] = await Promise.all([migrate(database.db), migrate(second)]);
    // Between them every migration was applied exactly once.
    expect([...a.applied, ...b.applied].sort()).toEqual(files.map((m) => m.version));
    expect([...a.alreadyApplied, ...b.alreadyApplied].sort()).toEqual(files.map((m) => m.version));

    const { rows } = await database.db.query<{ version: string; checksum: string }>(
      "SELECT version, checksum FROM schema_migrations ORDER BY version",
    );
    expect(rows.map((r) => r.version)).toEqual(files.map((m) => m.version));
    expect(rows.map((r) => r.checksum)).toEqual(files.map((m) => m.checksum));
    const { rows: tables } = await database.db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(["tenants", "organizations", "users", "pats", "audit_events", "leak_incidents"]),
    );
  });

  it("is a no-op the second time", async () => {
    const report = await migrate(database.db);
    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied.length).toBe((await loadMigrations()).length);
  });

  it("refuses to run when an applied migration file was changed", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-migrations-"));
    const files = await loadMigrations();
    for (const m of files) await writeFile(path.join(dir, `${m.version}_${m.name}.sql`), m.sql);
    await writeFile(
      path.join(dir, `${files[0].version}_${files[0].name}.sql`),
      `${files[0].sql}\n-- edited\n`,
    );
    await expect(migrate(database.db, dir)).rejects.toThrow(/was changed after it was applied/);
  });

  it("applies a new migration added later, inside a transaction that rolls back on error", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-migrations-"));
    const files = await loadMigrations();
    for (const m of files) await writeFile(path.join(dir, `${m.version}_${m.name}.sql`), m.sql);
    await writeFile(
      path.join(dir, "900_broken.sql"),
      "CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;",
    );
    await expect(migrate(database.db, dir)).rejects.toThrow(/no_such_table/);
    const { rows } = await database.db.query("SELECT to_regclass('half_done') AS t");
    expect(rows).toEqual([{ t: null }]);

    await writeFile(path.join(dir, "900_broken.sql"), "CREATE TABLE half_done (x int);");
    const report = await migrate(database.db, dir);
    expect(report.applied).toEqual(["900"]);
  });
});
