/**
 * Authentication with a PAT, as Azure DevOps clients do it: HTTP Basic with any user name and the PAT as the
 * password. `GET /_apis/connectionData` answers with the identity in the shape of Azure DevOps' ConnectionData
 * (what `azure-devops-node-api`'s `WebApi.connect()` reads), or 401. Failed attempts are throttled per client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { PatIdentity } from "../auth.js";
import { type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";

export { basicPassword } from "./context.js";

/** patrol's stand-in for the service owner GUID of Azure DevOps' location service. */
const PATROL_SERVICE_OWNER = "00000000-0000-0000-0000-000000000000";

/**
 * An identity as Azure DevOps shapes it: the descriptor is `Microsoft.IdentityModel.Claims.ClaimsIdentity;`
 * followed by `{tenant id}\{email}`, the subject descriptor `aad.` and the base64 of the user id.
 */
function identityView(identity: PatIdentity) {
  const { user } = identity;
  return {
    id: user.id,
    descriptor: `Microsoft.IdentityModel.Claims.ClaimsIdentity;${identity.tenant.id}\\${user.email}`,
    subjectDescriptor: `aad.${Buffer.from(user.id).toString("base64").replace(/=+$/, "")}`,
    providerDisplayName: user.displayName,
    isActive: user.status === "active",
    properties: { Account: { $type: "System.String", $value: user.email } },
    resourceVersion: 2,
    metaTypeId: 0,
  };
}

function connectionDataView(identity: PatIdentity, organization: string | undefined) {
  const user = identityView(identity);
  return {
    authenticatedUser: user,
    authorizedUser: user,
    instanceId: identity.organization?.id ?? identity.tenant.id,
    deploymentId: identity.tenant.id,
    deploymentType: "hosted",
    // Azure DevOps fills this only on request; patrol gives the user's last full sign-in, or null.
    lastUserAccess: identity.user.lastFullSignInAt?.toISOString() ?? null,
    locationServiceData: {
      serviceOwner: PATROL_SERVICE_OWNER,
      defaultAccessMappingMoniker: "PublicAccessMapping",
      lastChangeId: 0,
      lastChangeId64: 0,
    },
    webApplicationRelativeDirectory: organization ? `/${identity.organization?.name ?? organization}/` : "/",
  };
}

const organizationParams = z.object({ organization: z.string().min(1).max(100) });

export function registerConnectionDataRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply, organization: string | undefined) => {
    const identity = await http.patIdentity(request, reply, organization);
    if (identity === null) return reply;
    return connectionDataView(identity, organization);
  };

  const docs = (operationId: string, summary: string, params?: z.ZodType) =>
    routeDocs({
      operationId,
      summary,
      tags: ["PAT authentication"],
      params,
      response: {
        200: { description: "ConnectionData: the identity the PAT belongs to" },
        401: { description: "Not a valid PAT here" },
      },
      security: ["basic"],
    });

  app.get(
    "/_apis/connectionData",
    { schema: docs("Connection Data_Get", "Authenticate with a PAT") },
    (request, reply) => handle(request, reply, undefined),
  );
  app.get(
    "/:organization/_apis/connectionData",
    {
      schema: docs(
        "Connection Data_GetForOrganization",
        "Authenticate with a PAT in an organization",
        organizationParams,
      ),
    },
    (request, reply) =>
      handle(request, reply, parseRequest(organizationParams, request.params, "path").organization),
  );
}
