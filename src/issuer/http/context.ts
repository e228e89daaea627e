/** What every issuer route shares: the store, caller authentication with throttling, and request parsing. */
import type { FastifyReply, FastifyRequest, FastifySchema } from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import type { Config } from "../../config.js";
import { ADMIN_KEY_HEADER, CallerAuthenticator } from "../callers.js";
import { requireOrganization, requireTenant } from "../directory.js";
import { forbidden, IssuerError, invalid, type PatTokenError } from "../errors.js";
import type { Actor, Organization, Tenant } from "../model.js";
import type { IssuerStore } from "../store.js";
import { FailedAttemptThrottle } from "../throttle.js";

export interface IssuerRoutesOptions {
  store: IssuerStore;
  config: Pick<Config, "auth">;
  logger: Logger;
  /** Serve the OpenAPI document at /_apis/openapi.json (default true). */
  openapi?: boolean;
}

/** Thrown when a client is over its failed-authentication limit; answered with 429 and Retry-After. */
export class TooManyFailedAttempts extends Error {
  override name = "TooManyFailedAttempts";
  constructor(readonly retryAfterSeconds: number) {
    super("too many failed authentication attempts; try again later");
  }
}

export class IssuerHttpContext {
  readonly store: IssuerStore;
  readonly logger: Logger;
  readonly throttle: FailedAttemptThrottle;
  private readonly callers: CallerAuthenticator;

  constructor(options: IssuerRoutesOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.throttle = new FailedAttemptThrottle(
      options.config.auth.failureLimit,
      options.config.auth.failureWindowSeconds,
    );
    this.callers = new CallerAuthenticator(options.store.ctx, options.config.auth.adminKey);
  }

  /** Refuses clients over the failed-attempt limit before any credential is checked. */
  checkThrottle(request: FastifyRequest): void {
    const retryAfter = this.throttle.retryAfterSeconds(request.ip);
    if (retryAfter > 0) throw new TooManyFailedAttempts(retryAfter);
  }

  /** The caller (admin key or OIDC user); `tenant` is the tenant the request concerns, when there is one. */
  async caller(request: FastifyRequest, tenant: Tenant | null): Promise<Actor> {
    this.checkThrottle(request);
    const adminKey = request.headers[ADMIN_KEY_HEADER];
    try {
      return await this.callers.authenticate(
        {
          authorization: request.headers.authorization,
          adminKey: Array.isArray(adminKey) ? adminKey[0] : adminKey,
        },
        tenant,
      );
    } catch (error) {
      if (error instanceof IssuerError && error.kind === "unauthenticated")
        this.throttle.recordFailure(request.ip);
      throw error;
    }
  }

  /** The caller, who must administer `tenantId` (the admin key, or a user with the admin role in that tenant). */
  async admin(request: FastifyRequest, tenant: Tenant | null): Promise<Actor> {
    const actor = await this.caller(request, tenant);
    if (actor.kind === "admin") return actor;
    if (
      actor.kind === "user" &&
      actor.user.role === "admin" &&
      tenant !== null &&
      actor.user.tenantId === tenant.id
    ) {
      return actor;
    }
    throw forbidden("this needs an administrator of the tenant", "accessDenied");
  }

  organization(name: string): Promise<Organization> {
    return requireOrganization(this.store.db, name);
  }

  tenant(nameOrId: string): Promise<Tenant> {
    return requireTenant(this.store.db, nameOrId);
  }
}

/**
 * Parses a request part with zod. The first problem becomes a 400 naming the field; `errorsByField` maps a
 * top-level field to the Azure DevOps patTokenError that Azure DevOps answers for it.
 */
export function parseRequest<T>(
  schema: z.ZodType<T>,
  value: unknown,
  part: "body" | "query" | "path",
  errorsByField: Record<string, PatTokenError> = {},
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.path.length === 0) {
    throw invalid(
      part === "body" ? "the request body must be a JSON object" : `invalid ${part}: ${issue.message}`,
    );
  }
  const field = String(issue.path[0]);
  const where = issue.path.map(String).join(".");
  throw invalid(`${part} field ${where}: ${issue.message}`, errorsByField[field]);
}

const SUPPORTED_API_VERSIONS = new Set(["7.1-preview.1", "7.1-preview", "7.1", "7.2-preview.1"]);

/** Azure DevOps requires `api-version` on these APIs; we accept the versions whose shapes we serve. */
export const apiVersionSchema = z
  .string({ error: "api-version is required (e.g. api-version=7.1-preview.1)" })
  .refine((v) => SUPPORTED_API_VERSIONS.has(v), {
    error: `unsupported api-version; use one of ${[...SUPPORTED_API_VERSIONS].join(", ")}`,
  });

/** Route documentation for the OpenAPI document, built from the same zod schemas that validate requests. */
export function routeDocs(doc: {
  summary: string;
  tags: string[];
  body?: z.ZodType;
  querystring?: z.ZodType;
  params?: z.ZodType;
  response?: Record<number, z.ZodType | { description: string }>;
  security?: ("oidc" | "adminKey" | "adminKeyHeader" | "basic")[];
}): FastifySchema {
  const json = (schema: z.ZodType) =>
    z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "any" });
  const schema: FastifySchema = { summary: doc.summary, tags: doc.tags };
  if (doc.body) schema.body = json(doc.body);
  if (doc.querystring) schema.querystring = json(doc.querystring);
  if (doc.params) schema.params = json(doc.params);
  if (doc.response) {
    schema.response = Object.fromEntries(
      Object.entries(doc.response).map(([status, r]) => [
        status,
        r instanceof z.ZodType ? { description: "OK", ...json(r) } : r,
      ]),
    );
  }
  if (doc.security) schema.security = doc.security.map((s) => ({ [s]: [] }));
  return schema;
}

/** 401 for Basic-authenticated APIs, so clients know to send a PAT. */
export function challengeBasic(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(401)
    .header("www-authenticate", 'Basic realm="patrol"')
    .send({ message, typeKey: "UnauthorizedRequestException" });
}
