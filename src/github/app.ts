/**
 * patrol as a Probot app: one function that registers small handlers. A handler reads the payload, decides
 * whether there is anything to scan, hands a reference to the intake (the scan queue) and returns; everything
 * slow happens in workers.
 */

import type { Logger } from "pino";
import { type ApplicationFunction, Probot, ProbotOctokit } from "probot";
import type { Config } from "../config.js";
import {
  type HistoryReference,
  type HistoryTrigger,
  historyReferencesFromPayload,
} from "./history-reference.js";
import { type PushReference, pushReferenceFromPayload } from "./push-reference.js";

/** Where accepted work goes (the web server passes the queues' producers). */
export interface Intake {
  enqueuePush(ref: PushReference): Promise<void>;
  enqueueHistory(ref: HistoryReference): Promise<unknown>;
}

/** The intake could not take the work (Redis down): the delivery must fail so it can be redelivered. */
export class IntakeUnavailableError extends Error {
  override name = "IntakeUnavailableError";
}

export type WebhookOutcome = "queued" | "ignored" | "private" | "deleted";

/**
 * How often a request waits out a rate limit and tries again before it fails (and its job retries later).
 * Probot's own handlers give up on a secondary limit at once and on a primary one after two tries; a scan job
 * then retried on its own backoff (1–2 s), ignoring `retry-after` and `x-ratelimit-reset` (DESIGN §4).
 */
export const RATE_LIMIT_RETRIES = { primary: 4, secondary: 6 } as const;

interface ThrottledRequest {
  method?: string;
  url?: string;
}

/** Probot's Octokit with rate-limit handlers that wait as GitHub says (the throttling plugin does the waiting). */
function throttledOctokit(logger: Logger): typeof ProbotOctokit {
  const handler =
    (kind: "primary" | "secondary") =>
    (retryAfter: number, options: ThrottledRequest, _octokit: unknown, retryCount: number) => {
      const retry = retryCount < RATE_LIMIT_RETRIES[kind];
      logger.warn(
        { kind, request: `${options.method} ${options.url}`, retryAfter, retryCount, retry },
        retry ? "GitHub rate limit: waiting as told" : "GitHub rate limit: giving up for now",
      );
      return retry;
    };
  // A function default runs after Probot's own options are merged in, so these handlers are the ones kept.
  return ProbotOctokit.defaults((options: { throttle?: object }) => ({
    ...options,
    throttle: {
      ...options.throttle,
      onRateLimit: handler("primary"),
      onSecondaryRateLimit: handler("secondary"),
    },
  })) as typeof ProbotOctokit;
}

/** The Probot instance for the configured GitHub App, or null when no app is configured. */
export function createGitHubApp(config: Config, logger: Logger): Probot | null {
  const { appId, privateKey, webhookSecret, apiBaseUrl } = config.github;
  if (appId === undefined || privateKey === undefined) return null;
  return new Probot({
    appId,
    privateKey,
    Octokit: throttledOctokit(logger.child({ name: "octokit" })),
    // In development without a secret Probot would use "development"; production refuses that in config.
    secret: webhookSecret,
    baseUrl: apiBaseUrl,
    log: logger.child({ name: "probot" }),
  });
}

/**
 * The app function. `outcomes` receives each delivery's outcome by delivery id (the webhook route reads it
 * for its answer and metrics).
 */
export function patrolApp(
  intake: Intake,
  options: { scanPrivate: boolean; outcomes: Map<string, WebhookOutcome> },
): ApplicationFunction {
  return (app) => {
    app.on("push", async (context) => {
      const ref = pushReferenceFromPayload(context.payload, context.id, Date.now());
      if (ref === null) {
        options.outcomes.set(context.id, "deleted");
        return;
      }
      if (ref.repository.private && !options.scanPrivate) {
        options.outcomes.set(context.id, "private");
        return;
      }
      try {
        await intake.enqueuePush(ref);
      } catch (error) {
        throw new IntakeUnavailableError(`cannot queue the push: ${(error as Error).message}`, {
          cause: error,
        });
      }
      options.outcomes.set(context.id, "queued");
    });

    // A repository that goes public exposes its whole history; so does installing the app on public ones.
    const historyHandler =
      (trigger: Exclude<HistoryTrigger, "manual">) => async (context: { id: string; payload: unknown }) => {
        const refs = historyReferencesFromPayload(trigger, context.payload, context.id, Date.now());
        const wanted = refs.filter((ref) => options.scanPrivate || !ref.repository.private);
        if (wanted.length === 0) {
          options.outcomes.set(context.id, refs.length > 0 ? "private" : "ignored");
          return;
        }
        try {
          for (const ref of wanted) await intake.enqueueHistory(ref);
        } catch (error) {
          throw new IntakeUnavailableError(`cannot queue the history scan: ${(error as Error).message}`, {
            cause: error,
          });
        }
        options.outcomes.set(context.id, "queued");
      };
    app.on("public", historyHandler("public"));
    app.on("repository.publicized", historyHandler("publicized"));
    app.on("installation.created", historyHandler("installation"));
    app.on("installation_repositories.added", historyHandler("installation-repositories"));
  };
}
