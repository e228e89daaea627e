/**
 * The secret that signs dashboard sessions: PATROL_SESSION_SECRET when set (required in production, checked by
 * loadConfig), else one generated once into the data directory, so a laptop's sessions survive a restart
 * without anyone choosing a secret.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";

export const SESSION_SECRET_FILE = "dashboard-session-secret";

export function loadDashboardSessionSecret(config: Pick<Config, "dataDir" | "dashboard">): string {
  if (config.dashboard.sessionSecret !== undefined) return config.dashboard.sessionSecret;
  const file = path.join(config.dataDir, SESSION_SECRET_FILE);
  mkdirSync(config.dataDir, { recursive: true });
  try {
    // `wx`: of two processes starting at once, one writes and both read the same secret.
    writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} holds no usable secret: delete it and start again`);
  return secret;
}
