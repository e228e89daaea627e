/**
 * One SQL dialect over two engines: Postgres through `pg` when a connection string is given, otherwise
 * PGlite (WASM Postgres) persisted under the data directory, or held in memory for tests.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { lockDataDirectory } from "./data-dir-lock.js";

/** Something that runs SQL: the database itself or one transaction on it. */
export interface Queryable {
  /**
   * One statement with `$n` parameters. `options.name` makes it a prepared statement on Postgres (planned once
   * per connection): for hot queries only, and one name per SQL text.
   */
  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<{ rows: T[] }>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface QueryOptions {
  name?: string;
}

export interface Database extends Queryable {
  readonly engine: "postgres" | "pglite";
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Postgres connection string; when absent PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite keeps its files in `${dataDir}/pglite`. */
  dataDir?: string | undefined;
  /** PGlite in memory, gone at close (tests). Ignored when `databaseUrl` is set. */
  inMemory?: boolean;
  /** Postgres pool size. */
  maxConnections?: number;
}

/**
 * Connects once to the Postgres server of `databaseUrl` and runs `select 1`, within `timeoutMs`; throws an error
 * that names the server (never the password) and the reason. A pool would wait for a dead server without end.
 */
export async function assertPostgresReachable(databaseUrl: string, timeoutMs = 10_000): Promise<void> {
  let where = "the database";
  try {
    const url = new URL(databaseUrl);
    where = `the database at ${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    // libpq key=value strings: pg reads them, and the message stays generic.
  }
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
  } catch (error) {
    // Node reports a refused connection to every address of a name as an AggregateError with no message.
    const reasons = error instanceof AggregateError ? (error.errors as Error[]) : [error as Error];
    const reason = reasons.map((e) => e.message || e.name).join("; ");
    throw new Error(`cannot reach ${where} (${reason}): check DATABASE_URL`);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.maxConnections ?? 10);
  if (options.inMemory) return openPglite(undefined);
  if (!options.dataDir) throw new Error("openDatabase needs a databaseUrl, a dataDir or inMemory");
  const dir = path.join(options.dataDir, "pglite");
  await mkdir(dir, { recursive: true });
  // One process per PGlite directory: refuse (clearly) rather than lose writes.
  const lock = await lockDataDirectory(options.dataDir);
  try {
    const db = await openPglite(dir);
    return {
      ...db,
      async close() {
        await db.close();
        await lock.release();
      },
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

function openPostgres(databaseUrl: string, max: number): Database {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle client that loses its connection emits here; without a listener it would crash the process.
  pool.on("error", () => {});
  const over = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: unknown[], options?: QueryOptions) {
      const result = await client.query({ text: sql, values: params, name: options?.name });
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  });
  return {
    engine: "postgres",
    ...over(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn(over(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
  const over = (target: Pick<PGlite, "query" | "exec">): Queryable => ({
    // PGlite is one in-process connection; statement names are a Postgres network-protocol matter.
    async query<T>(sql: string, params?: unknown[]) {
      const result = await target.query<T>(sql, params as unknown[] | undefined);
      return { rows: result.rows };
    },
    async exec(sql: string) {
      await target.exec(sql);
    },
  });
  return {
    engine: "pglite",
    ...over(db),
    transaction: (fn) => db.transaction((tx) => fn(over(tx))),
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
