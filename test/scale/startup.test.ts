/**
 * What patrol checks before it serves: Redis' eviction policy (a warning unless `noeviction`, on one server and
 * on every master of a cluster), and in production the settings it refuses to start without — a webhook secret,
 * someone who may administer, a database the processes share and can reach — each named in one clear message.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { checkEvictionPolicy, type PrivateRedis, startPrivateRedis } from "../../src/queue/index.js";
import { sharedPostgres } from "../support/patrol-process.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";

const CLI = path.resolve("dist/src/cli/main.js");
const run = promisify(execFile);

/** A logger whose warnings the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; policy?: string; node?: string }[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("the eviction-policy check", () => {
  let dir: string;
  let redis: PrivateRedis;
  let cluster: TestRedisCluster;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "patrol-eviction-"));
    [redis, cluster] = await Promise.all([startPrivateRedis({ dir, persist: false }), startRedisCluster(3)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([redis?.stop(), cluster?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("is quiet on noeviction and warns on any other policy", async () => {
    const client = new Redis(redis.url);
    try {
      const quiet = capturingLogger();
      expect(await checkEvictionPolicy(client, quiet.logger)).toEqual(["noeviction"]);
      expect(quiet.lines).toEqual([]);

      await client.config("SET", "maxmemory-policy", "allkeys-lru");
      const loud = capturingLogger();
      expect(await checkEvictionPolicy(client, loud.logger)).toEqual(["allkeys-lru"]);
      expect(loud.lines).toHaveLength(1);
      expect(loud.lines[0]).toMatchObject({ level: 40, policy: "allkeys-lru" });
      expect(loud.lines[0].msg).toMatch(/not noeviction: queued jobs can be evicted/);
    } finally {
      client.disconnect();
    }
  });

  it("checks every master of a cluster and names the one that evicts", async () => {
    const [evicting] = cluster.ports;
    const node = new Redis({ host: "127.0.0.1", port: evicting });
    await node.config("SET", "maxmemory-policy", "volatile-ttl");
    const client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    try {
      await new Promise((resolve) => client.once("ready", resolve));
      const { logger, lines } = capturingLogger();
      const policies = await checkEvictionPolicy(client, logger);
      expect(policies.sort()).toEqual(["noeviction", "noeviction", "volatile-ttl"]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ policy: "volatile-ttl", node: `127.0.0.1:${evicting}` });
    } finally {
      node.disconnect();
      client.disconnect();
    }
  });

  it("warns when patrol starts on an evicting Redis", async () => {
    const client = new Redis(redis.url);
    await client.config("SET", "maxmemory-policy", "allkeys-random");
    client.disconnect();
    const dataDir = mkdtempSync(path.join(tmpdir(), "patrol-eviction-start-"));
    const database = await sharedPostgres();
    try {
      // patrol worker serves until signalled: let it start (on PGlite in its data dir), then stop it.
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATROL_DATA_DIR: dataDir,
        PORT: "0",
        LOG_LEVEL: "warn",
      };
      delete env.DATABASE_URL;
      delete env.REDIS_CLUSTER_NODES;
      const child = execFile(process.execPath, [CLI, "worker"], { env: { ...env, REDIS_URL: redis.url } });
      let stderr = "";
      child.stderr!.on("data", (d: string) => {
        stderr += d;
      });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const deadline = Date.now() + 45_000;
      while (!/listening on/.test(stderr) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      child.kill("SIGTERM");
      await exited;
      expect(stderr).toMatch(/listening on/);
      expect(stderr).toMatch(/"policy":"allkeys-random"/);
      expect(stderr).toMatch(/maxmemory-policy is not noeviction/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }
  }, 60_000);
});

/** A closed loopback port: nothing listens there. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("patrol in production", () => {
  /** Everything production needs, so each case can take one thing away. */
  const complete = {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    PORT: "0",
    WEBHOOK_SECRET: randomBytes(20).toString("hex"),
    PATROL_ADMIN_KEY: randomBytes(32).toString("hex"),
    PATROL_AUDIT_KEY: randomBytes(32).toString("hex"),
    PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
  };

  async function start(mode: string, env: Record<string, string | undefined>) {
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PATROL_DATA_DIR: mkdtempSync(path.join(tmpdir(), "patrol-prod-")),
    };
    for (const name of ["DATABASE_URL", "REDIS_URL", "REDIS_CLUSTER_NODES", "OIDC_ISSUER"])
      delete childEnv[name];
    for (const [name, value] of Object.entries(env))
      if (value === undefined) delete childEnv[name];
      else childEnv[name] = value;
    try {
      await run(process.execPath, [CLI, mode], { env: childEnv, timeout: 20_000 });
      return { code: 0, stderr: "" };
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    } finally {
      rmSync(childEnv.PATROL_DATA_DIR!, { recursive: true, force: true });
    }
  }

  it("refuses to start patrol web without a webhook secret or admin credentials, and says which", async () => {
    const database = `postgres://postgres@127.0.0.1:${await closedPort()}/patrol`;
    const r = await start("web", {
      ...complete,
      DATABASE_URL: database,
      REDIS_URL: "redis://127.0.0.1:1",
      WEBHOOK_SECRET: undefined,
      PATROL_ADMIN_KEY: undefined,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/WEBHOOK_SECRET is required in production/);
    expect(r.stderr).toMatch(/PATROL_ADMIN_KEY or OIDC_ISSUER is required in production/);
    // Refused before anything is opened: the unreachable database and Redis were never tried.
    expect(r.stderr).not.toMatch(/cannot reach/);
  });

  it("refuses patrol web or worker on the embedded PGlite, which separate processes cannot share", async () => {
    for (const mode of ["web", "worker"]) {
      const r = await start(mode, { ...complete, REDIS_URL: "redis://127.0.0.1:1" });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`DATABASE_URL is required for patrol ${mode} in production`));
    }
  });

  it("refuses to start when the database is unreachable, naming the server but not the password", async () => {
    const port = await closedPort();
    const password = "s3cret-Passw0rd";
    const r = await start("worker", {
      ...complete,
      DATABASE_URL: `postgres://patrol:${password}@127.0.0.1:${port}/patrol`,
      REDIS_URL: "redis://127.0.0.1:1",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `cannot reach the database at 127\\.0\\.0\\.1:${port}/patrol \\(.*ECONNREFUSED.*\\): check DATABASE_URL`,
      ),
    );
    expect(r.stderr).not.toContain(password);
  });
});

describe("REDIS_CLUSTER_NODES", () => {
  it("takes host:port lists and redis(s):// URLs, with the credentials for every node", () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7001" }).redisCluster).toEqual({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: "rediss://app:p%40ss@r1.example:6380,rediss://r2.example:6380" })
        .redisCluster,
    ).toEqual({
      nodes: [
        { host: "r1.example", port: 6380 },
        { host: "r2.example", port: 6380 },
      ],
      username: "app",
      password: "p@ss",
      tls: true,
    });
  });

  it("refuses what it cannot use, without echoing a password", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ REDIS_CLUSTER_NODES: "10.0.0.1" }, /10\.0\.0\.1 needs a host and a port/],
      [{ REDIS_CLUSTER_NODES: "10.0.0.1:7000,,10.0.0.2:7000" }, /an empty entry/],
      [{ REDIS_CLUSTER_NODES: "http://10.0.0.1:7000" }, /redis:\/\/ or rediss:\/\//],
      [{ REDIS_CLUSTER_NODES: "redis://a:7000,rediss://b:7000" }, /mixes redis:\/\/ and rediss:\/\//],
      [{ REDIS_CLUSTER_NODES: "redis://:one@a:7000,redis://:two@b:7000" }, /different credentials/],
      [
        { REDIS_CLUSTER_NODES: "a:7000", REDIS_URL: "redis://a:6379" },
        /REDIS_URL or REDIS_CLUSTER_NODES, not both/,
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
      try {
        loadConfig(env);
      } catch (error) {
        expect((error as Error).message).not.toMatch(/one|two/);
      }
    }
  });
});

describe("rate-limit settings", () => {
  it("default to 1000 API requests and 300 PAT authentications per minute per client, and can be changed", () => {
    expect(loadConfig({}).rateLimit).toEqual({ apiMax: 1000, patAuthMax: 300, windowSeconds: 60 });
    expect(
      loadConfig({ RATE_LIMIT_API_MAX: "50", RATE_LIMIT_PAT_AUTH_MAX: "5", RATE_LIMIT_WINDOW_SECONDS: "10" })
        .rateLimit,
    ).toEqual({ apiMax: 50, patAuthMax: 5, windowSeconds: 10 });
    expect(() => loadConfig({ RATE_LIMIT_API_MAX: "0" })).toThrow(/RATE_LIMIT_API_MAX/);
  });
});
