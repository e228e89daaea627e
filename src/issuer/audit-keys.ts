/**
 * The audit log's secret: one key from configuration (PATROL_AUDIT_KEY), never stored in the database, from
 * which separate keys are derived for the event chain, the retention anchors and the checkpoints. Without the
 * key nobody can write an event, anchor or checkpoint that `audit verify` accepts.
 *
 * Development without a configured key: a key is generated once into the data directory (mode 0600) with a
 * warning, so the log stays verifiable across restarts. Production refuses to start without one (config.ts).
 */
import { hkdfSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";

export interface AuditKeys {
  chain: Buffer;
  anchor: Buffer;
  checkpoint: Buffer;
}

export const DEV_AUDIT_KEY_FILE = "audit-hmac.key";

export function deriveAuditKeys(key: Buffer): AuditKeys {
  const derive = (purpose: string) =>
    Buffer.from(hkdfSync("sha256", key, "patrol audit", `patrol audit ${purpose} v2`, 32));
  return { chain: derive("chain"), anchor: derive("anchor"), checkpoint: derive("checkpoint") };
}

let processKey: Buffer | undefined;

/**
 * A key for stores built without one (unit tests, benchmarks): random, shared by every store in this process.
 * An audit log written with it cannot be verified by another process.
 */
export function processAuditKey(): Buffer {
  processKey ??= randomBytes(32);
  return processKey;
}

/** The configured key, else (outside production) the development key file under the data directory. */
export async function loadAuditKey(
  options: { key: Buffer | undefined; env: string; dataDir: string; logger: Logger },
  attempt = 0,
): Promise<Buffer> {
  if (options.key) return options.key;
  if (options.env === "production") throw new Error("PATROL_AUDIT_KEY is required in production");
  const file = path.join(options.dataDir, DEV_AUDIT_KEY_FILE);
  try {
    const key = Buffer.from((await readFile(file, "utf8")).trim(), "hex");
    if (key.length >= 32) {
      // Said at every start: this key sits beside the data it protects.
      options.logger.warn({ file }, "PATROL_AUDIT_KEY is not set: using the development audit key file");
      return key;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(options.dataDir, { recursive: true });
  const key = randomBytes(32);
  // "wx": two processes starting at once must not both write; the loser reads the winner's key.
  try {
    await writeFile(file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST" && attempt < 3) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return loadAuditKey(options, attempt + 1);
    }
    throw error;
  }
  options.logger.warn(
    { file },
    "PATROL_AUDIT_KEY is not set: generated a development audit key; set PATROL_AUDIT_KEY in production",
  );
  return key;
}
