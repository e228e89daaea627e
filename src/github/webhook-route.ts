/**
 * GitHub's webhook route on patrol's web server. The raw body is kept (the signature covers the exact bytes),
 * checked with Probot's own verifier, then handed to Probot's handlers. GitHub waits 10 s and never retries, so
 * the answer comes as soon as the reference is queued; if it cannot be queued the answer is 503, the delivery
 * shows failed on GitHub, and it can be redelivered.
 */
import type { FastifyInstance } from "fastify";
import type { Probot } from "probot";
import { webhooksReceived } from "../metrics/index.js";
import { IntakeUnavailableError, type WebhookOutcome } from "./app.js";
import { PayloadError } from "./push-reference.js";

export const WEBHOOK_PATH = "/api/github/webhooks";
/** GitHub caps webhook payloads at 25 MB. */
const MAX_BODY = 25 * 1024 * 1024;
/** Delivery ids become job ids: BullMQ forbids `:` in them. GitHub's are GUIDs. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

export interface WebhookRouteOptions {
  /** Null when no GitHub App is configured: the route explains instead of taking deliveries. */
  probot: Probot | null;
  outcomes: Map<string, WebhookOutcome>;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function causes(error: unknown): unknown[] {
  if (error instanceof AggregateError) return error.errors.flatMap(causes);
  return [error];
}

/**
 * @octokit/webhooks attaches the whole event to its errors; a commit message may hold a token, so the logged
 * error keeps only what says what went wrong.
 */
function withoutEvent(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return { type: error.name, message: error.message, stack: error.stack };
}

export async function githubWebhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: MAX_BODY },
    (_req, body, done) => done(null, body),
  );

  app.post(WEBHOOK_PATH, async (request, reply) => {
    const event = header(request.headers["x-github-event"]);
    const id = header(request.headers["x-github-delivery"]);
    const signature = header(request.headers["x-hub-signature-256"]);
    const label = event && EVENT_NAME.test(event) ? event : "unknown";
    const answer = (code: number, outcome: string, message: string) => {
      webhooksReceived.inc({ event: label, outcome });
      return reply.code(code).send({ message });
    };
    if (!options.probot)
      return answer(
        503,
        "unconfigured",
        "the GitHub App is not configured: set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET (see README, GitHub App set-up)",
      );
    const missing = [
      ["x-github-event", event],
      ["x-github-delivery", id],
      ["x-hub-signature-256", signature],
    ]
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length > 0) return answer(400, "rejected", `required headers missing: ${missing.join(", ")}`);
    if (!EVENT_NAME.test(event!)) return answer(400, "rejected", "x-github-event is not an event name");
    if (!DELIVERY_ID.test(id!)) return answer(400, "rejected", "x-github-delivery is not a delivery id");
    const body = request.body as Buffer | undefined;
    if (!body || body.length === 0) return answer(400, "rejected", "the body is empty");
    const raw = body.toString("utf8");
    if (!(await options.probot.webhooks.verify(raw, signature!).catch(() => false)))
      return answer(401, "rejected", "signature does not match the body and the webhook secret");
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      return answer(400, "rejected", "the body is not valid JSON");
    }
    // Every GitHub event is an object; anything else would reach Probot's own code (which throws on it) as a 503.
    if (payload === null || typeof payload !== "object" || Array.isArray(payload))
      return answer(400, "rejected", "the body is not a JSON object");
    // Probot builds an installation client from any truthy installation.id before a handler can check it.
    const installation = (payload as { installation?: unknown }).installation;
    const installationId =
      installation !== null && typeof installation === "object"
        ? (installation as { id?: unknown }).id
        : undefined;
    if (installationId && !(Number.isSafeInteger(installationId) && (installationId as number) > 0))
      return answer(400, "rejected", "installation.id is not an installation id");
    try {
      // biome-ignore lint/suspicious/noExplicitAny: Probot types the payload by event name; it was checked above.
      await options.probot.webhooks.receive({ id: id!, name: event as any, payload: payload as any });
    } catch (error) {
      options.outcomes.delete(id!);
      const found = causes(error);
      const bad = found.find((e) => e instanceof PayloadError) as PayloadError | undefined;
      if (bad) {
        request.log.warn({ delivery: id, event, reason: bad.message }, "webhook refused");
        return answer(400, "rejected", bad.message);
      }
      const down = found.find((e) => e instanceof IntakeUnavailableError);
      request.log.error({ delivery: id, event, err: withoutEvent(down ?? found[0]) }, "webhook not taken");
      return answer(503, "unavailable", "patrol cannot queue work right now; redeliver this delivery later");
    }
    const outcome = options.outcomes.get(id!) ?? "ignored";
    options.outcomes.delete(id!);
    return answer(202, outcome, outcome);
  });
}
