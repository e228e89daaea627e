/**
 * `POST /_apis/patrol/history-scans`: the admin API's way to start a whole-history scan of a repository, the
 * same scan as `patrol scan-repo OWNER/NAME`. The store knows nothing of GitHub: the web server hands in the
 * `HistoryScanStarter` (null without a GitHub App). The admin key only: a scan reaches across every tenant.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { notFound } from "../errors.js";
import { type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";
import { errorBody } from "./error-body.js";

export interface StartedHistoryScan {
  jobId: string;
  /** `owner/name` as GitHub spells it. */
  repository: string;
  private: boolean;
}

export interface HistoryScanStarter {
  /** Queues the scan; null when the GitHub App is not installed on the repository (or there is none). */
  start(fullName: string): Promise<StartedHistoryScan | null>;
}

const body = z.strictObject({
  repository: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, "repository must be OWNER/NAME, e.g. octo-org/app"),
});

export function registerHistoryScanRoutes(
  app: FastifyInstance,
  http: IssuerHttpContext,
  starter: HistoryScanStarter | null,
): void {
  app.post(
    "/_apis/patrol/history-scans",
    {
      schema: routeDocs({
        operationId: "HistoryScans_Start",
        summary:
          "Queue a whole-history scan of a repository the GitHub App is installed on (admin API key only)",
        tags: ["History scans"],
        body,
        security: ["adminKey", "adminKeyHeader"],
      }),
    },
    async (request, reply) => {
      const actor = await http.admin(request, null);
      const { repository } = parseRequest(body, request.body, "body");
      if (!starter)
        return reply
          .code(503)
          .send(
            errorBody(
              "no GitHub App is configured (APP_ID, PRIVATE_KEY): patrol cannot clone repositories",
              "ServiceUnavailableException",
            ),
          );
      let started: StartedHistoryScan | null;
      try {
        started = await starter.start(repository);
      } catch (error) {
        request.log.warn({ repository, reason: (error as Error).message }, "history scan not started");
        return reply
          .code(503)
          .send(
            errorBody(
              `cannot start the scan now (GitHub or the queue is unavailable); try again: ${(error as Error).message}`,
              "ServiceUnavailableException",
            ),
          );
      }
      if (!started)
        throw notFound(`the GitHub App is not installed on ${repository} (or the repository does not exist)`);
      request.log.info(
        { repository: started.repository, job: started.jobId, actor: actor.kind },
        "history scan queued",
      );
      return reply.code(202).send({ ...started, trigger: "manual" });
    },
  );
}
