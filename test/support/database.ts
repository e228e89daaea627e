/**
 * A fresh database for each test file: with DATABASE_URL set, a uniquely named database created on that
 * server and dropped afterwards; otherwise an in-memory PGlite. Migrations are applied unless asked not to.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { type Database, migrate, openDatabase } from "../../src/issuer/index.js";

/**
 * PGlite is a single connection: "concurrent" transactions on it run one after another, so a test of a race or
 * a lock passes on PGlite whatever the locking code does (removing the per-tenant audit lock passes there and
 * fails on PostgreSQL). Such tests run on both and end their names with this; CI runs the suite on both.
 */
export const MEANINGFUL_ON_POSTGRES = "(meaningful on PostgreSQL: PGlite serialises connections)";

export interface TestDatabase {
  db: Database;
  engine: Database["engine"];
  /** Another handle on the same database: a second pool on Postgres; on PGlite the same single connection. */
  connectAgain(): Promise<Database>;
  close(): Promise<void>;
}

export async function openTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const { databaseUrl } = loadConfig();
  if (!databaseUrl) {
    const db = await openDatabase({ inMemory: true });
    if (options.migrate !== false) await migrate(db);
    return {
      db,
      engine: db.engine,
      connectAgain: async () => ({ ...db, close: async () => {} }),
      close: () => db.close(),
    };
  }
  const scratch = await createScratchDatabase(databaseUrl);
  const url = scratch.url;
  const opened: Database[] = [];
  const connectAgain = async () => {
    const db = await openDatabase({ databaseUrl: url.toString(), maxConnections: 5 });
    opened.push(db);
    return db;
  };
  const db = await connectAgain();
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    engine: db.engine,
    connectAgain,
    async close() {
      for (const handle of opened) await handle.close().catch(() => {});
      await scratch.drop();
    },
  };
}

/** A new, empty database on the server of `serverUrl`: its URL, and how to drop it. */
export async function createScratchDatabase(
  serverUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `patrol_test_${process.pid}_${randomBytes(6).toString("hex")}`;
  await onServer(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function onServer(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
