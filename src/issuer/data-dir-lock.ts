/**
 * PGlite is Postgres in one process: two processes on one data directory each think they own it, and the
 * second one's writes are lost (or the files are damaged). A lock file beside the database says who holds it;
 * a second opener is refused with a clear message. A lock left by a process that has died is taken over.
 */
import { readFile, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";

export const LOCK_FILE_NAME = "patrol.lock";

export class DataDirectoryInUse extends Error {
  override name = "DataDirectoryInUse";
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `the data directory ${dataDir} is in use by another patrol process (pid ${holderPid}): the embedded ` +
        "database (PGlite) serves one process only. Stop that process first, or use its HTTP API while it " +
        "runs, or set DATABASE_URL so that every process shares one PostgreSQL database",
    );
  }
}

interface LockContent {
  pid: number;
  host: string;
  since: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readLock(file: string): Promise<LockContent | null> {
  try {
    const content = JSON.parse(await readFile(file, "utf8")) as Partial<LockContent>;
    return typeof content.pid === "number" ? (content as LockContent) : null;
  } catch {
    return null;
  }
}

/** Lock files this process holds: a lock naming this pid but not held here was left by an earlier process
 * that had the same pid (a container's pid 1 restarted on the same volume). */
const heldHere = new Set<string>();

/** Holds `dataDir` for this process until `release()`. Throws DataDirectoryInUse when another holds it. */
export async function lockDataDirectory(dataDir: string): Promise<{ release(): Promise<void> }> {
  const file = path.join(dataDir, LOCK_FILE_NAME);
  const mine: LockContent = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${JSON.stringify(mine)}\n`, { flag: "wx", mode: 0o600 });
      heldHere.add(file);
      return {
        async release() {
          heldHere.delete(file);
          const current = await readLock(file);
          if (current?.pid === mine.pid && current.since === mine.since) await unlink(file).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await readLock(file);
    if (holder === null) {
      throw new Error(
        `the lock file ${file} is unreadable; if no patrol process uses ${dataDir}, delete it and try again`,
      );
    }
    // Another host's pid says nothing here (a shared volume): only a lock of this host can be judged stale.
    const stale =
      holder.host === mine.host && (holder.pid === process.pid ? !heldHere.has(file) : !isAlive(holder.pid));
    if (!stale) throw new DataDirectoryInUse(dataDir, holder.pid);
    await unlink(file).catch(() => {});
  }
  throw new Error(`could not take the lock ${file}`);
}
