/** The `patrol` command: parses the first word and hands the rest to that command. */
import { ConfigError } from "../config.js";
import { GitError } from "../sources/index.js";
import { VERSION } from "../version.js";
import { ISSUER_COMMANDS, ISSUER_USAGE } from "./issuer-usage.js";
import { runScan, SCAN_USAGE } from "./scan-command.js";
import { runToken, TOKEN_USAGE } from "./token-command.js";
import { type CliIo, UsageError } from "./usage-error.js";

const USAGE = `patrol ${VERSION} — finds leaked Azure DevOps personal access tokens and revokes them

Service:
  patrol start      web + workers in one process (a private Redis and PGlite unless configured) — see README
  patrol web        webhooks, REST API, dashboard and metrics (needs REDIS_URL; run any number)
  patrol worker     the scan, respond and notify workers (needs REDIS_URL; run any number)

${SCAN_USAGE}

  patrol scan-repo OWNER/NAME   queue a whole-history scan of a repository the GitHub App is installed on
                                (needs REDIS_URL, APP_ID, PRIVATE_KEY)

${TOKEN_USAGE}

${ISSUER_USAGE}`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "scan":
        return await runScan(rest, io);
      case "scan-repo":
        return await (await import("./scan-repo-command.js")).runScanRepo(rest, io);
      case "token":
        return await runToken(rest, io);
      case "start":
      case "web":
      case "worker":
        // Loaded on demand: the service pulls in Probot, BullMQ and the store, which `patrol scan` never needs.
        return await (await import("./serve-command.js")).runServe(command, rest, io);
      case "--version":
      case "version":
        io.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        if ((ISSUER_COMMANDS as readonly string[]).includes(command))
          return await (await import("./issuer-commands.js")).runIssuerCommand(argv, io);
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      io.stderr.write(`patrol: ${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    const message =
      err instanceof GitError
        ? `git: ${err.message}`
        : err instanceof ConfigError
          ? err.message
          : (err as Error).message;
    io.stderr.write(`patrol: error: ${message}\n`);
    return 2;
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
