/**
 * A PostgreSQL server for the suites that run several patrol processes (they cannot share PGlite): the one the
 * run was given, else the machine's at 127.0.0.1:5432 when user postgres may connect, else a private cluster
 * made with Debian's `initdb` on a free port, installed first if missing (as .ci/run does), removed at the end.
 * PATROL_TEST_PRIVATE_POSTGRES=1 skips the probe and always makes the private one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

const MACHINE_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function newestBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest ? path.join(root, newest, "bin") : null;
}

/** Runs a PostgreSQL tool, as user postgres when we are root (initdb and postgres refuse to run as root). */
function runAsOwner(command: string, args: string[]): void {
  if (process.getuid?.() === 0)
    execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", [command, ...args].map(shellQuote).join(" ")], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  else execFileSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
}

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

async function startPrivateCluster(root: string): Promise<TestPostgres> {
  let bin = newestBinDir();
  if (!bin) {
    execFileSync("bash", ["scripts/ensure-tools.sh", "/usr/lib/postgresql/*/bin/initdb=postgresql"], {
      cwd: root,
      stdio: "inherit",
    });
    bin = newestBinDir();
    if (!bin) throw new Error("no PostgreSQL server to test on, and installing Debian's postgresql failed");
  }
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-test-pg-"));
  const port = await freePort();
  if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres", dir]);
  runAsOwner(path.join(bin, "initdb"), ["-D", path.join(dir, "data"), "-A", "trust", "-U", "postgres"]);
  runAsOwner(path.join(bin, "pg_ctl"), [
    "-D",
    path.join(dir, "data"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
    "-l",
    path.join(dir, "log"),
    "-w",
    "start",
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      runAsOwner(path.join(bin, "pg_ctl"), ["-D", path.join(dir, "data"), "-m", "immediate", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function testPostgres(root: string): Promise<TestPostgres> {
  const given = process.env.DATABASE_URL || process.env.PATROL_TEST_POSTGRES_URL;
  if (given) return { url: given, stop: async () => {} };
  if (process.env.PATROL_TEST_PRIVATE_POSTGRES !== "1" && (await accepts(MACHINE_DEFAULT)))
    return { url: MACHINE_DEFAULT, stop: async () => {} };
  return startPrivateCluster(root);
}
