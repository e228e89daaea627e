/**
 * A private `redis-server` for when no REDIS_URL is given: `npm start` on a laptop, and the test suite. Its data
 * lives under the given directory with AOF on and `noeviction` (BullMQ must never lose a job to eviction).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Where the AOF files go; created when missing. */
  dir: string;
  /** Keep data on disk (AOF). Tests switch it off. Default true. */
  persist?: boolean;
  /** The program; default `redis-server` on PATH. */
  binary?: string;
  /** A fixed port (e.g. to restart a server where its clients expect it); default a free one. */
  port?: number;
}

export class RedisServerError extends Error {
  override name = "RedisServerError";
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts redis-server on a free loopback port and resolves once it accepts connections. */
export async function startPrivateRedis(options: StartRedisOptions): Promise<PrivateRedis> {
  mkdirSync(options.dir, { recursive: true });
  await stopLeftover(path.join(options.dir, PID_FILE));
  if (options.port !== undefined) return launch(options, options.port);
  // A port picked this way can be taken by someone else before redis binds it: try a few.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(options, port);
    } catch (error) {
      lastError = error as Error;
      if (error instanceof RedisServerError && /not installed/.test(error.message)) throw error;
    }
  }
  throw lastError ?? new RedisServerError("redis-server did not start");
}

const PID_FILE = "redis.pid";

/** A patrol killed with SIGKILL leaves its redis-server running on the data: stop it before starting anew. */
async function stopLeftover(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    // No /proc (macOS) or no such process: nothing we can safely stop.
    return;
  }
  if (!command.includes("redis-server")) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function launch(options: StartRedisOptions, port: number): Promise<PrivateRedis> {
  const persist = options.persist !== false;
  const args = [
    "--pidfile",
    path.join(options.dir, PID_FILE),
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    options.dir,
    "--save",
    "",
    "--appendonly",
    persist ? "yes" : "no",
    "--maxmemory-policy",
    "noeviction",
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ];
  let child: ChildProcess;
  try {
    child = spawn(options.binary ?? "redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw notInstalled(error as Error);
  }
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    output = (output + d).slice(-4000);
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    output = (output + d).slice(-4000);
  });
  const exited = new Promise<Error>((resolve) => {
    child.once("error", (error) =>
      resolve((error as NodeJS.ErrnoException).code === "ENOENT" ? notInstalled(error) : error),
    );
    child.once("exit", (code, signal) =>
      resolve(new RedisServerError(`redis-server exited (${code ?? signal}): ${output.trim()}`)),
    );
  });
  const ready = waitForOwnServer(port, child.pid, 10_000);
  const outcome = await Promise.race([ready.then(() => null), exited]).catch((error: Error) => error);
  if (outcome) {
    if (child.exitCode === null) child.kill("SIGKILL");
    throw outcome;
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  };
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

function notInstalled(cause: Error): RedisServerError {
  return new RedisServerError(
    "redis-server is not installed: install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: " +
      "brew install redis) or set REDIS_URL to a Redis you run",
    { cause },
  );
}

/**
 * Polls `INFO server` until the server on the port answers with our child's process id: under load another
 * process can take the port first, and its answer must not pass for ours.
 */
async function waitForOwnServer(port: number, pid: number | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await new Promise<string>((resolve) => {
      let data = "";
      const socket = net.connect(port, "127.0.0.1");
      socket.setTimeout(500);
      socket.once("connect", () => socket.write("INFO server\r\n"));
      socket.setEncoding("utf8").on("data", (d: string) => {
        data += d;
        if (/process_id:\d+/.test(data)) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.once("error", () => resolve(""));
      socket.once("timeout", () => {
        socket.destroy();
        resolve(data);
      });
    });
    const found = /process_id:(\d+)/.exec(info);
    if (found) {
      if (Number(found[1]) === pid) return;
      throw new RedisServerError(`port ${port} is taken by another Redis (pid ${found[1]})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new RedisServerError(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
}
