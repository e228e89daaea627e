/**
 * `patrol scan-repo OWNER/NAME`: queues the same whole-history scan a repository gets when it goes public,
 * for the workers to run (so it needs the shared Redis, REDIS_URL, and the GitHub App's credentials).
 */
import { randomUUID } from "node:crypto";
import { type Config, ConfigError, loadConfig, sharedRedis } from "../config.js";
import { createGitHubApp, manualHistoryReference } from "../github/index.js";
import { createLogger } from "../logging.js";
import { openQueues } from "../queue/index.js";
import { type CliIo, UsageError } from "./usage-error.js";

export const SCAN_REPO_USAGE = `usage: patrol scan-repo OWNER/NAME
  queues a whole-history scan of a repository the GitHub App is installed on (needs REDIS_URL, APP_ID, PRIVATE_KEY)`;

export async function runScanRepo(argv: string[], io: CliIo, config: Config = loadConfig()): Promise<number> {
  if (argv.length !== 1 || !/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(argv[0]))
    throw new UsageError("patrol scan-repo takes one repository, as OWNER/NAME");
  const redis = sharedRedis(config);
  if (!redis)
    throw new ConfigError(
      "patrol scan-repo hands the scan to the workers: set REDIS_URL (or REDIS_CLUSTER_NODES) to their Redis",
    );
  const logger = createLogger(config);
  const probot = createGitHubApp(config, logger);
  if (!probot) throw new ConfigError("patrol scan-repo needs the GitHub App: set APP_ID and PRIVATE_KEY");
  const ref = await manualHistoryReference(probot, argv[0], `manual-${randomUUID()}`);
  const queues = openQueues({ redis, prefix: config.queue.prefix, logger });
  try {
    const jobId = await queues.enqueueHistory(ref);
    io.stdout.write(
      `queued a history scan of ${ref.repository.fullName}${ref.repository.private ? " (a private repository)" : ""}: job ${jobId}\n`,
    );
  } finally {
    await queues.close();
  }
  return 0;
}
