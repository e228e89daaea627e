/**
 * The security team's queue dashboard: bull-board at `/admin/queues` behind a login, read-only for viewers.
 *
 * One board per role, both at the same URLs, and Fastify's router picks the board by the caller's role.
 * bull-board's UI is a single-page app that takes its API and routing base from the base path it is rendered
 * with, so two boards under two base paths would show the role in every URL and give scripts two APIs; and a
 * board cannot switch its queues' read-only flag per request. Instead each board is registered in its own
 * encapsulated context whose routes carry a route constraint (`patrolDashboardRole: "admin" | "viewer"`), and a
 * constraint strategy derives the role from the request (bearer key or signed session cookie) before routing.
 * Routes without the constraint only match when no role is derived, so anonymous callers can only reach the
 * fallback that redirects to the login page or answers 401; a viewer's mutating call reaches the read-only
 * board, which answers 405 without touching Redis.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { fastifyCookie } from "@fastify/cookie";
import type { Queue } from "bullmq";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import {
  authenticate,
  type DashboardAuth,
  DashboardKeys,
  type DashboardRole,
  DashboardSessions,
  isSameOriginRequest,
  LoginThrottle,
  SESSION_COOKIE,
} from "./dashboard-auth.js";
import { LOGIN_PAGE_CSP, renderLoginPage } from "./dashboard-login-page.js";

export type { DashboardRole } from "./dashboard-auth.js";
export { loadDashboardSessionSecret } from "./dashboard-session-secret.js";

export const DASHBOARD_PATH = "/admin/queues";
export const LOGIN_PATH = "/admin/login";
export const LOGOUT_PATH = "/admin/logout";

export interface DashboardOptions {
  /** The BullMQ queues to show (patrol's `scan` and `respond`); the caller owns and closes them. */
  queues: Queue[];
  /** PATROL_ADMIN_KEY: may retry, clean and promote jobs. */
  adminKey?: string;
  /** PATROL_VIEWER_KEY: may only look. */
  viewerKey?: string;
  /** Signs session cookies; without one, a random secret lives as long as this process. */
  sessionSecret?: string;
  /** Mark the session cookie `Secure` (production, behind TLS). */
  secureCookies: boolean;
  /** How long a login lasts; default 8 hours. */
  sessionTtlSeconds?: number;
  /** Failed logins (or wrong bearer keys) per client address and window before 429; default 10 per 300 s. */
  loginFailureLimit?: number;
  loginFailureWindowSeconds?: number;
  /**
   * The origin browsers see (`https://patrol.example.com`), for the CSRF check; default: the request's own
   * protocol and host (which honour X-Forwarded-* when TRUST_PROXY is set).
   */
  publicOrigin?: string;
}

/** What find-my-way keeps per constraint value. */
type RouteHandler = NonNullable<
  ReturnType<ReturnType<Parameters<FastifyInstance["addConstraintStrategy"]>[0]["storage"]>["get"]>
>;

const ROLE_CONSTRAINT = "patrolDashboardRole";
const ROLES: readonly DashboardRole[] = ["admin", "viewer"];
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function isDashboardUrl(url: string): boolean {
  return (
    url === DASHBOARD_PATH || url.startsWith(`${DASHBOARD_PATH}/`) || url.startsWith(`${DASHBOARD_PATH}?`)
  );
}

/** Only dashboard paths are followed after login, so the login page cannot be used to redirect elsewhere. */
function safeNext(value: unknown): string {
  return typeof value === "string" && isDashboardUrl(value) && !/[\\\r\n]/.test(value)
    ? value
    : DASHBOARD_PATH;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  if (options.adminKey !== undefined && options.adminKey === options.viewerKey) {
    throw new Error("the dashboard's admin and viewer keys must differ");
  }
  if (app.hasConstraintStrategy(ROLE_CONSTRAINT)) throw new Error("the dashboard is already registered");
  // The role is derived from the absolute URL before routing; under a prefix no board would ever match.
  if (app.prefix !== "")
    throw new Error(`register the dashboard without a prefix (it lives at ${DASHBOARD_PATH})`);

  const keys = new DashboardKeys(options.adminKey, options.viewerKey);
  const sessionTtlSeconds = options.sessionTtlSeconds ?? 8 * 3600;
  const sessions = new DashboardSessions(
    options.sessionSecret ?? randomBytes(32).toString("hex"),
    keys,
    sessionTtlSeconds,
  );
  const throttle = new LoginThrottle(
    options.loginFailureLimit ?? 10,
    options.loginFailureWindowSeconds ?? 300,
  );
  if (!keys.configured) {
    app.log.warn("dashboard: neither PATROL_ADMIN_KEY nor PATROL_VIEWER_KEY is set; nobody can sign in");
  }

  // @fastify/cookie parses and writes the cookie headers (the server may have registered it already).
  if (!app.hasDecorator("parseCookie")) await app.register(fastifyCookie, { hook: false });
  const parseCookie = (header: string) => app.parseCookie(header);

  // The router derives the role once per dashboard request; the hooks and handlers read it back from here.
  const authByRequest = new WeakMap<IncomingMessage, DashboardAuth>();
  const authOf = (req: IncomingMessage): DashboardAuth => {
    let auth = authByRequest.get(req);
    if (auth === undefined) {
      auth = authenticate(req.headers, keys, sessions, parseCookie);
      authByRequest.set(req, auth);
    }
    return auth;
  };
  app.addConstraintStrategy({
    name: ROLE_CONSTRAINT,
    // Routes that carry a role match only that role; routes without one (login, fallback) only anonymous calls.
    mustMatchWhenDerived: true,
    storage() {
      const handlers = new Map<unknown, RouteHandler>();
      return {
        get: (role: unknown) => handlers.get(role) ?? null,
        set: (role: unknown, handler: RouteHandler) => void handlers.set(role, handler),
      };
    },
    deriveConstraint(req: IncomingMessage) {
      return req.url !== undefined && isDashboardUrl(req.url) ? authOf(req).role : undefined;
    },
    validate(value: unknown) {
      if (!ROLES.includes(value as DashboardRole)) throw new Error(`unknown dashboard role ${String(value)}`);
    },
  });

  const expectedOrigin = (request: FastifyRequest) =>
    options.publicOrigin?.replace(/\/+$/, "") ?? `${request.protocol}://${request.host}`;

  const refuseCrossSite = (reply: FastifyReply) =>
    reply.code(403).send({ error: "forbidden", message: "cross-site request refused" });

  const tooManyFailures = (reply: FastifyReply, retryAfter: number) =>
    reply
      .code(429)
      .header("retry-after", String(retryAfter))
      .send({
        error: "too_many_requests",
        message: `too many failed sign-ins; try again in ${retryAfter} s`,
      });

  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("x-frame-options", "DENY");
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    return payload;
  });

  // The login form posts urlencoded; Fastify parses only JSON and text by itself.
  if (!app.hasContentTypeParser("application/x-www-form-urlencoded")) {
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 8 * 1024 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
  }

  const sendLoginPage = (reply: FastifyReply, status: number, next: string, message?: string) =>
    reply
      .code(status)
      .type("text/html; charset=utf-8")
      .header("content-security-policy", LOGIN_PAGE_CSP)
      .send(
        renderLoginPage({
          action: LOGIN_PATH,
          next,
          message: keys.configured
            ? message
            : "The dashboard is off: set PATROL_ADMIN_KEY or PATROL_VIEWER_KEY.",
          enabled: keys.configured,
        }),
      );

  app.get<{ Querystring: { next?: string } }>(LOGIN_PATH, async (request, reply) =>
    sendLoginPage(reply, keys.configured ? 200 : 503, safeNext(request.query.next)),
  );

  app.post<{ Body: { key?: unknown; next?: unknown } | undefined }>(LOGIN_PATH, async (request, reply) => {
    // Login CSRF: another site must not sign a victim's browser into a session it chose.
    if (!isSameOriginRequest(request.headers, expectedOrigin(request))) return refuseCrossSite(reply);
    const next = safeNext(request.body?.next);
    if (!keys.configured) return sendLoginPage(reply, 503, next);
    const retryAfter = throttle.retryAfterSeconds(request.ip);
    if (retryAfter > 0) {
      reply.header("retry-after", String(retryAfter));
      return sendLoginPage(reply, 429, next, `Too many failed attempts: try again in ${retryAfter} s.`);
    }
    const key = request.body?.key;
    const role = typeof key === "string" ? keys.roleOf(key) : undefined;
    if (role === undefined) {
      throttle.recordFailure(request.ip);
      request.log.warn({ ip: request.ip }, "dashboard: failed sign-in");
      return sendLoginPage(reply, 401, next, "That key is not valid.");
    }
    request.log.info({ ip: request.ip, role }, "dashboard: signed in");
    reply.header(
      "set-cookie",
      app.serializeCookie(SESSION_COOKIE, sessions.issue(role), {
        httpOnly: true,
        sameSite: "strict",
        secure: options.secureCookies,
        path: "/admin",
        maxAge: sessionTtlSeconds,
      }),
    );
    return reply.redirect(next, 303);
  });

  // GET too: bull-board's header links are plain links. Ending a session needs no protection from other sites.
  app.route({
    method: ["GET", "POST"],
    url: LOGOUT_PATH,
    handler: async (_request, reply) => {
      reply.header(
        "set-cookie",
        app.serializeCookie(SESSION_COOKIE, "", {
          httpOnly: true,
          sameSite: "strict",
          secure: options.secureCookies,
          path: "/admin",
          maxAge: 0,
        }),
      );
      return reply.redirect(LOGIN_PATH, 303);
    },
  });

  // Anonymous callers (and wrong bearer keys) land here: the role-constrained boards never match for them.
  const anonymous = async (request: FastifyRequest, reply: FastifyReply) => {
    const auth = authOf(request.raw);
    if (auth.via === "bearer") {
      const retryAfter = throttle.retryAfterSeconds(request.ip);
      if (retryAfter > 0) return tooManyFailures(reply, retryAfter);
      throttle.recordFailure(request.ip);
      request.log.warn({ ip: request.ip }, "dashboard: wrong bearer key");
    }
    const isApi = request.url.startsWith(`${DASHBOARD_PATH}/api/`);
    if (!isApi && (request.method === "GET" || request.method === "HEAD") && auth.via === "none") {
      return reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(request.url)}`, 302);
    }
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="patrol dashboard"')
      .send({ error: "unauthorized", message: `sign in at ${LOGIN_PATH} or send Authorization: Bearer KEY` });
  };
  app.all(DASHBOARD_PATH, anonymous);
  app.all(`${DASHBOARD_PATH}/*`, anonymous);

  for (const role of ROLES) {
    await app.register(async (board) => {
      board.addHook("onRoute", (route) => {
        route.constraints = { ...route.constraints, [ROLE_CONSTRAINT]: role };
      });
      board.addHook("onRequest", async (request, reply) => {
        const auth = authOf(request.raw);
        if (auth.via === "bearer") {
          // A correct key from an address that is locked out is refused too: see LoginThrottle.
          const retryAfter = throttle.retryAfterSeconds(request.ip);
          if (retryAfter > 0) return tooManyFailures(reply, retryAfter);
        } else if (!SAFE_METHODS.has(request.method)) {
          // The browser sends the cookie by itself; make sure this page of ours made the request.
          if (!isSameOriginRequest(request.headers, expectedOrigin(request))) {
            request.log.warn(
              { method: request.method, url: request.url },
              "dashboard: cross-site request refused",
            );
            return refuseCrossSite(reply);
          }
        }
      });
      const serverAdapter = new FastifyAdapter();
      serverAdapter.setBasePath(DASHBOARD_PATH);
      createBullBoard({
        queues: options.queues.map(
          (queue) =>
            new BullMQAdapter(queue, {
              readOnlyMode: role === "viewer",
              allowRetries: role === "admin",
            }),
        ),
        serverAdapter,
        options: {
          uiConfig: {
            boardTitle: role === "admin" ? "patrol queues" : "patrol queues (read-only)",
            miscLinks: [{ text: "Sign out", url: LOGOUT_PATH }],
            hideDocsLink: true,
          },
        },
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
    });
  }
};
