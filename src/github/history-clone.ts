/**
 * Clones a repository for a whole-history scan: a bare mirror over HTTPS smart HTTP with the installation
 * token, into a fresh temp directory that the caller removes. The token reaches git only through GIT_ASKPASS
 * reading it from the child's environment: never in argv, the remote URL or a file. Disk is bounded: the free
 * space is checked first, and the clone is stopped when it grows past the cap.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import { childEnvironment } from "../config.js";

export class CloneError extends Error {
  override name = "CloneError";
}

/** The clone cannot fit (too little free disk, or the repository is bigger than the cap): retrying won't help. */
export class CloneTooLargeError extends CloneError {
  override name = "CloneTooLargeError";
}

export interface HistoryClone {
  /** The bare repository. */
  gitDir: string;
  /** Removes everything the clone wrote. */
  remove(): Promise<void>;
}

export interface CloneOptions {
  /** `https://github.com` (or the GHE web base). */
  webBaseUrl: string;
  fullName: string;
  token: string;
  tempDir: string;
  maxBytes: number;
  /** How often the clone's size is checked (ms). */
  watchIntervalMs?: number;
}

const ASKPASS = '#!/bin/sh\nprintf "%s\\n" "$PATROL_GIT_TOKEN"\n';

export async function cloneForHistory(options: CloneOptions): Promise<HistoryClone> {
  const disk = await statfs(options.tempDir);
  const free = Number(disk.bavail) * Number(disk.bsize);
  if (free < options.maxBytes)
    throw new CloneTooLargeError(
      `not enough free disk under ${options.tempDir} for a history clone: ${free} bytes free, HISTORY_MAX_CLONE_BYTES is ${options.maxBytes}`,
    );
  const workDir = await mkdtemp(path.join(options.tempDir, "patrol-history-"));
  const remove = () => rm(workDir, { recursive: true, force: true });
  try {
    const askpass = path.join(workDir, "askpass.sh");
    await writeFile(askpass, ASKPASS, { mode: 0o700 });
    const gitDir = path.join(workDir, "repo.git");
    const url = new URL(`${options.webBaseUrl.replace(/\/+$/, "")}/${options.fullName}.git`);
    url.username = "x-access-token";
    await runClone(url.toString(), gitDir, askpass, options);
    return { gitDir, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

function runClone(url: string, gitDir: string, askpass: string, options: CloneOptions): Promise<void> {
  const child = spawn(
    "git",
    // No credential helper: the token must not be stored anywhere by git.
    ["-c", "credential.helper=", "clone", "--mirror", "--quiet", "--", url, gitDir],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: childEnvironment({
        GIT_ASKPASS: askpass,
        PATROL_GIT_TOKEN: options.token,
        GIT_TERMINAL_PROMPT: "0",
        GIT_CONFIG_NOSYSTEM: "1",
      }),
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  let tooLarge: number | null = null;
  let checking = false;
  const watch = setInterval(() => {
    if (checking) return;
    checking = true;
    directorySize(gitDir)
      .then((size) => {
        if (size > options.maxBytes && tooLarge === null) {
          tooLarge = size;
          child.kill("SIGKILL");
        }
      })
      .finally(() => {
        checking = false;
      });
  }, options.watchIntervalMs ?? 250);
  return new Promise((resolve, reject) => {
    child.on("error", (err) => {
      clearInterval(watch);
      reject(new CloneError(`cannot run git: ${err.message}`));
    });
    child.on("close", async (code) => {
      clearInterval(watch);
      const size = tooLarge ?? (code === 0 ? await directorySize(gitDir) : 0);
      if (size > options.maxBytes)
        return reject(
          new CloneTooLargeError(
            `${options.fullName} is larger than HISTORY_MAX_CLONE_BYTES (${options.maxBytes} bytes): clone stopped at ${size} bytes`,
          ),
        );
      if (code !== 0)
        return reject(
          new CloneError(
            `git clone of ${options.fullName} failed (${code}): ${stderr.trim().replaceAll(options.token, "***")}`,
          ),
        );
      resolve();
    });
  });
}

/** Bytes in files under `dir` (0 while it does not exist yet). */
export async function directorySize(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const info = await stat(path.join(entry.parentPath, entry.name)).catch(() => null);
    total += info?.size ?? 0;
  }
  return total;
}
