/**
 * A real Redis Cluster for tests: `masters` redis-servers with `--cluster-enabled yes` on free loopback ports
 * (each port + 10000, the cluster bus, free too), joined with `redis-cli --cluster create --cluster-replicas 0`,
 * and resolved once every node says `cluster_state:ok`. No persistence; `noeviction` as production wants.
 *
 *   const cluster = await startRedisCluster();   // cluster.nodes: "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
 *   await cluster.stop();
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestRedisCluster {
  /** REDIS_CLUSTER_NODES for patrol. */
  nodes: string;
  ports: number[];
  stop(): Promise<void>;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus port (+10000) is free as well. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    await new Promise((r) => server.close(r));
    if (port > 55_000 || taken.has(port) || taken.has(port + 10_000)) continue;
    if (await portIsFree(port + 10_000)) return port;
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Redis Cluster: timed out waiting for ${what}`);
}

export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-redis-cluster-"));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      taken.add(port).add(port + 10_000);
      ports.push(port);
      const nodeDir = path.join(dir, String(port));
      const child = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          `${nodeDir}-nodes.conf`,
          "--cluster-node-timeout",
          "5000",
          "--save",
          "",
          "--appendonly",
          "no",
          "--maxmemory-policy",
          "noeviction",
          "--loglevel",
          "warning",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      children.push(child);
    }
    for (const port of ports)
      await until(`node ${port}`, async () => (await cli(port, "PING")).trim() === "PONG");
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { timeout: 30_000 },
    );
    for (const port of ports)
      await until(`cluster_state:ok on ${port}`, async () =>
        (await cli(port, "CLUSTER", "INFO")).includes("cluster_state:ok"),
      );
    return { nodes: ports.map((p) => `127.0.0.1:${p}`).join(","), ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
