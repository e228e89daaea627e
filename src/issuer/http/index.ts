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
import { errorBody } from "./error-body.js";
import { registerHistoryScanRoutes } from "./history-scans.js";
import { registerIncidentRoutes } from "./incidents.js";
import { registerPatRoutes } from "./pats.js";
import { patTokenErrorFor, requestApiVersion } from "./wire.js";

export type { IssuerRoutesOptions } from "./context.js";
export type { HistoryScanStarter, StartedHistoryScan } from "./history-scans.js";

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
  forbidden: "InvalidAccessException",
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
  // Fastify's own JSON parser answers prototype keys and broken JSON with one text; say which it was.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }), undefined);
    }
  });
  // Validation happens in the handlers with zod; route schemas are documentation.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((error: FastifyError | IssuerError | TooManyFailedAttempts, request, reply) => {
    if (error instanceof TooManyFailedAttempts) {
      return reply
        .code(429)
        .header("retry-after", String(error.retryAfterSeconds))
        .send(errorBody(error.message, "TooManyRequestsException"));
    }
    if (error instanceof IssuerError) {
      const status = STATUS_BY_KIND[error.kind];
      if (status === 401) reply.header("www-authenticate", 'Bearer realm="patrol"');
      const extra = error.patTokenError
        ? {
            patToken: null,
            patTokenError: patTokenErrorFor(error.patTokenError, requestApiVersion(request.query)),
          }
        : {};
      return reply.code(status).send(errorBody(error.message, TYPE_KEY_BY_KIND[error.kind], extra));
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(clientErrorMessage(error), "InvalidRequestException"));
    }
    request.log.error({ err: error }, "issuer request failed");
    return reply.code(500).send(errorBody("internal error", "InternalServerErrorException"));
  });

  registerPatRoutes(app, http);
  registerConnectionDataRoutes(app, http);
  registerAuditRoutes(app, http);
  registerAdminRoutes(app, http);
  registerIncidentRoutes(app, http);
  registerHistoryScanRoutes(app, http, options.historyScans ?? null);

  if (options.openapi !== false) {
    app.get("/_apis/openapi.json", { schema: { hide: true } }, async () => withPatsGet(app.swagger()));
  }
}

class BodyError extends Error {}

/**
 * JSON.parse, refusing `__proto__` and `constructor.prototype` keys (which would reach an object's prototype
 * once copied into one), with a message for each way a body can be wrong.
 */
function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new BodyError("the request body is empty; send a JSON object");
  let prototypeKey = false;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, item) => {
      if (key === "__proto__") prototypeKey = true;
      if (
        key === "constructor" &&
        item !== null &&
        typeof item === "object" &&
        Object.hasOwn(item, "prototype")
      )
        prototypeKey = true;
      return item;
    });
  } catch {
    throw new BodyError("the request body is not valid JSON");
  }
  if (prototypeKey)
    throw new BodyError("the request body must not contain __proto__ or constructor.prototype keys");
  return value;
}

/** What a Fastify 4xx (body parsing, content type, size) tells the client. */
function clientErrorMessage(error: FastifyError | Error): string {
  if (error instanceof BodyError) return error.message;
  if ((error as FastifyError).code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return "the request body is empty; send a JSON object";
  if (error instanceof SyntaxError) return "the request body is not valid JSON";
  return error.message;
}

/**
 * Azure DevOps documents Get and List as two operations on one GET path (its spec uses `x-ms-paths` for the
 * second). patrol serves both on one route; the document names the second the same way.
 */
function withPatsGet(document: unknown) {
  const doc = document as { paths?: Record<string, Record<string, Record<string, unknown>>> };
  const list = doc.paths?.["/{organization}/_apis/tokens/pats"]?.get;
  if (!list) return doc;
  const parameters = (list.parameters as { name: string; in: string }[] | undefined) ?? [];
  const get = {
    ...list,
    operationId: "Pats_Get",
    summary: "Get one PAT by authorizationId",
    parameters: parameters
      .filter((p) => p.in !== "query" || p.name === "api-version" || p.name === "authorizationId")
      .map((p) => (p.name === "authorizationId" ? { ...p, required: true } : p)),
  };
  return { ...doc, "x-ms-paths": { "/{organization}/_apis/tokens/pats?authorizationId": { get } } };
}

/** A standalone server with only the issuer routes (tests, and `patrol` deployments that run it alone). */
export async function buildIssuerServer(
  options: IssuerRoutesOptions & { logger: Logger },
): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Azure DevOps routes ignore case (its own examples use /_apis/Tokens/Pats).
    routerOptions: { caseSensitive: false },
    // Clients are identified by the socket address; behind a proxy, configure trustProxy in the web server.
    trustProxy: false,
  });
  await app.register(issuerRoutes, options);
  return app;
}
