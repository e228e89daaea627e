/**
 * Authentication with a PAT, as Azure DevOps clients do it: HTTP Basic with any user name and the PAT as the
 * password. `GET /_apis/connectionData` answers with the identity, or 401. Failed attempts are throttled per
 * client IP (see FailedAttemptThrottle).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { PatIdentity } from "../auth.js";
import { challengeBasic, type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";

/** The password of an HTTP Basic header, or null when the header is absent or not Basic. */
export function basicPassword(header: string | undefined): string | null {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(colon + 1);
}

function identityView(identity: PatIdentity) {
  const user = {
    id: identity.user.id,
    descriptor: `patrol.user.${identity.user.id}`,
    subjectDescriptor: `patrol.user.${identity.user.id}`,
    providerDisplayName: identity.user.displayName,
    isActive: true,
    properties: { Account: { $type: "System.String", $value: identity.user.email } },
    resourceVersion: 2,
    metaTypeId: 0,
  };
  return {
    authenticatedUser: user,
    authorizedUser: user,
    instanceId: identity.organization?.id ?? identity.tenant.id,
    deploymentId: identity.tenant.id,
    deploymentType: "hosted",
  };
}

const organizationParams = z.object({ organization: z.string().min(1).max(100) });

export function registerConnectionDataRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply, organization: string | undefined) => {
    http.checkThrottle(request);
    const token = basicPassword(request.headers.authorization);
    if (token === null)
      return challengeBasic(reply, "send a PAT as the password of HTTP Basic authentication");
    const result = await http.store.authenticatePat(token, { organization });
    if (!result.ok) {
      http.throttle.recordFailure(request.ip);
      // The reason goes to the log only: the client learns nothing about which check failed.
      request.log.info({ reason: result.reason, organization }, "PAT authentication failed");
      return challengeBasic(reply, "the PAT is not valid here");
    }
    return identityView(result.identity);
  };

  const docs = (summary: string, params?: z.ZodType) =>
    routeDocs({
      summary,
      tags: ["PAT authentication"],
      params,
      response: {
        200: { description: "The identity the PAT belongs to" },
        401: { description: "Not a valid PAT here" },
      },
      security: ["basic"],
    });

  app.get("/_apis/connectionData", { schema: docs("Authenticate with a PAT") }, (request, reply) =>
    handle(request, reply, undefined),
  );
  app.get(
    "/:organization/_apis/connectionData",
    { schema: docs("Authenticate with a PAT in an organization", organizationParams) },
    (request, reply) =>
      handle(request, reply, parseRequest(organizationParams, request.params, "path").organization),
  );
}
