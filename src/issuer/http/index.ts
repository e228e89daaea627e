/**
 * The issuer's HTTP API as a Fastify plugin: PAT lifecycle, PAT authentication, audit log, administration, and
 * the OpenAPI document at /_apis/openapi.json. Requests are validated with zod inside the handlers (Fastify's
 * own validation is switched off in this plugin so every 4xx has one shape and a clear message); route schemas
 * are generated from the same zod schemas and serve only the OpenAPI document.
 */
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { IssuerError } from "../errors.js";
import { registerAdminRoutes } from "./admin.js";
import { registerAuditRoutes } from "./audit.js";
import { registerConnectionDataRoutes } from "./connection-data.js";
import { IssuerHttpContext, type IssuerRoutesOptions, TooManyFailedAttempts } from "./context.js";
import { registerPatRoutes } from "./pats.js";

export type { IssuerRoutesOptions } from "./context.js";

const STATUS_BY_KIND: Record<IssuerError["kind"], number> = {
  unauthenticated: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  invalid: 400,
  policy: 400,
};

const TYPE_KEY_BY_KIND: Record<IssuerError["kind"], string> = {
  unauthenticated: "UnauthorizedRequestException",
  forbidden: "AccessCheckException",
  notFound: "NotFoundException",
  conflict: "ConflictException",
  invalid: "InvalidArgumentValueException",
  policy: "PolicyViolationException",
};

/**
 * Registers the issuer routes. Use with `app.register(issuerRoutes, options)`; the plugin is encapsulated, so
 * its validator, serializer and error handler do not touch the rest of the server.
 */
export async function issuerRoutes(app: FastifyInstance, options: IssuerRoutesOptions): Promise<void> {
  const http = new IssuerHttpContext(options);

  if (options.openapi !== false) {
    await app.register(swagger, {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "patrol issuing store",
          description:
            "PAT lifecycle (Azure DevOps shapes), PAT authentication, audit log and administration. Lifecycle " +
            "and admin calls take an OIDC bearer token or the admin API key, never a PAT.",
          version: "7.1-preview.1",
        },
        components: {
          securitySchemes: {
            oidc: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
            adminKey: { type: "http", scheme: "bearer", description: "PATROL_ADMIN_KEY as the bearer token" },
            adminKeyHeader: { type: "apiKey", in: "header", name: "X-Patrol-Admin-Key" },
            basic: { type: "http", scheme: "basic", description: "Any user name; the PAT as the password" },
          },
        },
      },
    });
  }

  // Answers here carry secrets (a new PAT) or what no shared cache should keep (users, audit): never stored.
  app.addHook("onRequest", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });
  // Small bodies only, whatever the host server's default: no request here needs more than a few KB.
  app.addHook("onRoute", (route) => {
    route.bodyLimit ??= 64 * 1024;
  });
  // JSON only: without this, Fastify's default text/plain parser would hand handlers a string.
  app.removeContentTypeParser("text/plain");
  // Validation happens in the handlers with zod; route schemas are documentation.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((error: FastifyError | IssuerError | TooManyFailedAttempts, request, reply) => {
    if (error instanceof TooManyFailedAttempts) {
      return reply
        .code(429)
        .header("retry-after", String(error.retryAfterSeconds))
        .send({ message: error.message, typeKey: "TooManyRequestsException" });
    }
    if (error instanceof IssuerError) {
      const status = STATUS_BY_KIND[error.kind];
      if (status === 401) reply.header("www-authenticate", 'Bearer realm="patrol"');
      const body: Record<string, unknown> = { message: error.message, typeKey: TYPE_KEY_BY_KIND[error.kind] };
      if (error.patTokenError) Object.assign(body, { patToken: null, patTokenError: error.patTokenError });
      return reply.code(status).send(body);
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message =
        error instanceof SyntaxError || (error as FastifyError).code === "FST_ERR_CTP_EMPTY_JSON_BODY"
          ? "the request body is not valid JSON"
          : error.message;
      return reply.code(status).send({ message, typeKey: "InvalidRequestException" });
    }
    request.log.error({ err: error }, "issuer request failed");
    return reply.code(500).send({ message: "internal error", typeKey: "InternalServerErrorException" });
  });

  registerPatRoutes(app, http);
  registerConnectionDataRoutes(app, http);
  registerAuditRoutes(app, http);
  registerAdminRoutes(app, http);

  if (options.openapi !== false) {
    app.get("/_apis/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  }
}

/** A standalone server with only the issuer routes (tests, and `patrol` deployments that run it alone). */
export async function buildIssuerServer(
  options: IssuerRoutesOptions & { logger: Logger },
): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Clients are identified by the socket address; behind a proxy, configure trustProxy in the web server.
    trustProxy: false,
  });
  await app.register(issuerRoutes, options);
  return app;
}
