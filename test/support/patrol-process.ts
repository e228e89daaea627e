/**
 * patrol as operators run it at scale: `patrol web` and `patrol worker` OS processes (the built CLI) on one
 * shared PostgreSQL and one Redis or Redis Cluster. Separate processes cannot share the embedded PGlite, so
 * these tests always run on PostgreSQL: DATABASE_URL when set, else PATROL_TEST_POSTGRES_URL, else the server
 * at 127.0.0.1:5432 (user postgres, trust), else a private cluster the global set-up made — each run in a
 * scratch database of its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createScratchDatabase } from "./database.js";

const CLI = path.resolve("dist/src/cli/main.js");

/** A scratch PostgreSQL database for tests that run several processes; fails (never skips) without a server. */
export async function sharedPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const server = loadConfig().databaseUrl ?? inject("postgresUrl");
  try {
    return await createScratchDatabase(server);
  } catch (error) {
    throw new Error(
      `several patrol processes need one PostgreSQL (they cannot share PGlite), and ${new URL(server).host} ` +
        `refused: ${(error as Error).message}. Set DATABASE_URL or PATROL_TEST_POSTGRES_URL to a server.`,
    );
  }
}

/** What every process of one deployment shares: keys and secrets that must agree across replicas. */
export function deploymentEnv(): Record<string, string> {
  return {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    PORT: "0",
    PATROL_ADMIN_KEY: randomBytes(24).toString("hex"),
    // One audit HMAC key and session secret for all: each process would otherwise make its own in its data dir.
    PATROL_AUDIT_KEY: randomBytes(32).toString("hex"),
    PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
  };
}

export interface PatrolProcess {
  mode: "web" | "worker" | "start";
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if still running after `graceMs`; removes its data directory. */
  stop(graceMs?: number): Promise<void>;
}

export async function startPatrolProcess(
  mode: "web" | "worker" | "start",
  env: Record<string, string>,
): Promise<PatrolProcess> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `patrol-${mode}-`));
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PATROL_DATA_DIR: dataDir, ...env };
  // The test run's own settings must not leak into the deployment's.
  for (const name of ["REDIS_URL", "REDIS_CLUSTER_NODES", "DATABASE_URL"])
    if (!(name in env)) delete childEnv[name];
  const child = spawn(process.execPath, [CLI, mode], { env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`patrol ${mode} did not start in 30 s: ${stderr}`)),
      30_000,
    );
    const onData = () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr!.on("data", onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`patrol ${mode} exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return {
    mode,
    url,
    child,
    stderr: () => stderr,
    exited,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts several processes at once (start-up is mostly Node loading); if one fails, stops the others. */
export async function startPatrolProcesses(
  modes: ("web" | "worker")[],
  env: Record<string, string>,
): Promise<PatrolProcess[]> {
  const results = await Promise.allSettled(modes.map((mode) => startPatrolProcess(mode, env)));
  const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await stopAll(started);
    throw failed.reason;
  }
  return started;
}

export async function stopAll(processes: (PatrolProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map((p) => p?.stop()));
}
