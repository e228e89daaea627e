/**
 * PGlite serves one process. Real processes: `npm start` holds the data directory; the CLI refuses to write
 * behind its back (instead of printing "created" and losing the write); a second `patrol start` on the busy
 * port fails before it opens any database; and `npm start &` then `kill $!` stops the server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runIssuerCommand } from "../../src/cli/issuer-commands.js";
import { loadConfig } from "../../src/config.js";

const CLI = path.resolve("dist/src/cli/main.js");
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-lock-"));
  dirs.push(dir);
  return dir;
}

/** The environment of a patrol child on PGlite in `dataDir` (never the test run's DATABASE_URL). */
function childEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), PATROL_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  env.LOG_LEVEL = "warn";
  return env;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function waitForListening(child: ChildProcess): Promise<string> {
  let stderr = "";
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code} before listening: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

async function quietCli(argv: string[], dataDir: string) {
  let stdout = "";
  let stderr = "";
  const code = await runIssuerCommand(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    { config: loadConfig({ PATROL_DATA_DIR: dataDir }) },
  );
  return { code, stdout, stderr };
}

describe("one process per PGlite data directory", () => {
  it("refuses the CLI and a second server while `npm start` runs, and `kill $!` on npm stops it", async () => {
    const dataDir = scratchDir();
    const port = await freePort();
    // `npm start` as the README runs it (the build already ran: skip prestart).
    const npm = spawn("npm", ["start", "--ignore-scripts"], {
      env: childEnv(dataDir, port),
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(npm);
    const base = await waitForListening(npm);
    const lock = JSON.parse(readFileSync(path.join(dataDir, "patrol.lock"), "utf8"));
    expect(lock.pid).not.toBe(npm.pid);

    // The CLI on the same directory refuses and writes nothing.
    const refused = spawnSync(process.execPath, [CLI, "tenant", "create", "--name", "lost"], {
      env: childEnv(dataDir, 0),
      encoding: "utf8",
    });
    expect(refused.status).toBe(1);
    expect(refused.stdout).not.toMatch(/created/);
    expect(refused.stderr).toMatch(
      new RegExp(`data directory .* is in use by another patrol process \\(pid ${lock.pid}\\)`),
    );
    expect(refused.stderr).toMatch(/DATABASE_URL/);

    // A second server on the busy port fails before it opens its (fresh) data directory.
    const otherDir = scratchDir();
    const second = spawnSync(process.execPath, [CLI, "start"], {
      env: childEnv(otherDir, port),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(second.status).not.toBe(0);
    expect(second.stderr).toMatch(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`),
    );
    expect(existsSync(path.join(otherDir, "pglite"))).toBe(false);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // `kill $!` after `npm start &` signals npm; the server must stop with it and release the directory.
    npm.kill("SIGTERM");
    await exited(npm);
    const deadline = Date.now() + 30_000;
    while (existsSync(path.join(dataDir, "patrol.lock")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(existsSync(path.join(dataDir, "patrol.lock"))).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    let alive = true;
    try {
      process.kill(lock.pid, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);

    // Now the CLI may write, and the write is there.
    expect((await quietCli(["tenant", "create", "--name", "kept"], dataDir)).code).toBe(0);
    const shown = await quietCli(["policy", "show", "--tenant", "kept"], dataDir);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout).tenant).toBe("kept");
  }, 120_000);

  it("takes over a lock left by a process that has died, and keeps one held by a live one", async () => {
    const dataDir = scratchDir();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    const lockFile = path.join(dataDir, "patrol.lock");
    writeFileSync(lockFile, JSON.stringify({ pid: Number(dead.stdout), host: hostname(), since: "x" }));
    expect((await quietCli(["tenant", "create", "--name", "after-crash"], dataDir)).code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);

    // A lock naming this very pid that this process does not hold is an earlier incarnation's (a container's
    // pid 1 restarted on the same volume): taken over too.
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, host: hostname(), since: "y" }));
    expect((await quietCli(["tenant", "create", "--name", "same-pid"], dataDir)).code).toBe(0);

    // A live holder keeps it.
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    children.push(holder);
    writeFileSync(lockFile, JSON.stringify({ pid: holder.pid, host: hostname(), since: "z" }));
    const refused = await quietCli(["tenant", "create", "--name", "blocked"], dataDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`in use by another patrol process \\(pid ${holder.pid}\\)`));
    expect(existsSync(lockFile)).toBe(true);
    holder.kill("SIGKILL");
  }, 60_000);
});
