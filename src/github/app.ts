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

/** The Probot instance for the configured GitHub App, or null when no app is configured. */
export function createGitHubApp(config: Config, logger: Logger): Probot | null {
  const { appId, privateKey, webhookSecret, apiBaseUrl } = config.github;
  if (appId === undefined || privateKey === undefined) return null;
  return new Probot({
    appId,
    privateKey,
    // In development without a secret Probot would use "development"; production refuses that in config.
    secret: webhookSecret,
    baseUrl: apiBaseUrl,
    log: logger.child({ name: "probot" }),
    Octokit: NoRateLimitWaitOctokit,
  });
}

/**
 * Probot's Octokit, except that rate limits are not slept through in-process (Probot would wait out a primary
 * limit until its reset, up to an hour, holding a worker slot): the request fails at once and the job delays
 * itself until GitHub may be called again (see `rateLimitWait`). Probot already gives up on secondary limits.
 */
const NoRateLimitWaitOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  // Octokit's retry plugin would retry a 429 after 1, 4 and 9 s, whatever its `retry-after` says.
  retry: { doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
  throttle: {
    ...(options.throttle as object | undefined),
    onRateLimit: () => false,
    onSecondaryRateLimit: () => false,
  },
}));

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
