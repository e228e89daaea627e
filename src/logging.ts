/** The process logger: JSON lines (pino) on stderr, with credentials redacted wherever they might appear. */
import pino, { type Logger } from "pino";
import type { Config } from "./config.js";

/** Paths whose values are never logged (request headers carry admin keys, bearer tokens and Basic PATs). */
const REDACT = [
  "req.headers.authorization",
  'req.headers["x-patrol-admin-key"]',
  'req.headers["x-hub-signature-256"]',
  "headers.authorization",
  "token",
  "*.token",
  "password",
  "*.password",
  // @octokit/webhooks attaches the whole event to a handler's error and Probot logs it: a commit message in a
  // push payload may hold a token.
  "err.event",
  "err.aggregateErrors[*].event",
];

export function createLogger(config: Pick<Config, "logLevel">, destination = pino.destination(2)): Logger {
  return pino({ level: config.logLevel, redact: { paths: REDACT, censor: "[redacted]" } }, destination);
}
