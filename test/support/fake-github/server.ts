/**
 * `startFakeGitHub()`: one local HTTP server on 127.0.0.1 playing GitHub (Enterprise-style: REST under
 * `/api/v3`, git smart HTTP at `/{owner}/{repo}.git`) for one GitHub App, over real git repositories in a temp
 * directory that `close()` removes. See `index.ts` for the whole API and an example.
 *
 * Every request passes, in order: fault injection (`faults.ts`), authentication (`auth.ts`), the handler
 * (`rest.ts` or `smart-http.ts`); answers carry GitHub's `x-ratelimit-*` headers, and each one is logged in
 * `requests` (method, path, status) for assertions.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { DEFAULT_HOOK_ID } from "../webhooks.js";
import { AppAuthority } from "./auth.js";
import { type DeliverOptions, type DeliveryRecord, HookDeliveries } from "./deliveries.js";
import { type FaultDecision, Faults } from "./faults.js";
import { GitRepository } from "./git.js";
import {
  type Account,
  APP_EVENTS,
  APP_PERMISSIONS,
  type AppInfo,
  type FakeUrls,
  type Installation,
} from "./model.js";
import {
  FakeRepository,
  type InstallationCreatedPayload,
  type InstallationRepositoriesAddedPayload,
} from "./repository.js";
import { type FakeLimits, registerRestRoutes, type SecretScanningKey, sendError } from "./rest.js";
import { errorBody, installationJson, repositoryStub, userJson } from "./shapes.js";
import { serveGitHttp } from "./smart-http.js";

export interface FakeGitHubOptions {
  appId?: number;
  appSlug?: string;
  /** Seed for fault probabilities (default: random). */
  seed?: number;
  /** Installation tokens live this long (GitHub: 1 hour). */
  tokenLifetimeSeconds?: number;
  /** Webhook deliveries give up after this long (GitHub: 10 s). */
  webhookTimeoutMs?: number;
  secretScanningKeys?: SecretScanningKey[];
  limits?: Partial<FakeLimits>;
}

export interface CreateRepoOptions {
  private?: boolean;
  defaultBranch?: string;
  /** The owner's account type, when this is its first repository (default "User"). */
  ownerType?: "User" | "Organization";
  /** False: the repository exists but the app's installation does not cover it (default true). */
  installed?: boolean;
}

export interface RequestRecord {
  method: string;
  /** The path as requested, without the query (REST paths include `/api/v3`). */
  path: string;
  query: string;
  /** When it arrived (epoch ms): to check that a client waited as told before asking again. */
  at: number;
  /** 0 when the connection was reset by a fault. */
  status: number;
  durationMs: number;
  /** The injected fault, if one decided the answer. */
  fault?: string;
}

export interface FakeGitHub {
  /** `http://127.0.0.1:PORT/api/v3` — Octokit's `baseUrl`. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT` — html_url and clone URLs live here. */
  readonly webUrl: string;
  /** `127.0.0.1:PORT` — Probot's `GHE_HOST` (with `GHE_PROTOCOL=http`). */
  readonly host: string;
  readonly appId: number;
  readonly appSlug: string;
  /** The app's private key (PKCS#1 PEM, as GitHub issues them): Probot's `PRIVATE_KEY`. */
  readonly privateKeyPem: string;
  /** X-GitHub-Hook-ID of the app's webhook. */
  readonly hookId: number;
  /** Mutable: change limits while the fake runs. */
  readonly limits: FakeLimits;
  readonly faults: Faults;
  readonly requests: readonly RequestRecord[];
  /** Every webhook delivery and redelivery, oldest first. */
  readonly deliveries: readonly DeliveryRecord[];

  /** Probot's environment for this fake: APP_ID, PRIVATE_KEY, GHE_HOST, GHE_PROTOCOL (+ WEBHOOK_SECRET). */
  env(webhookSecret?: string): Record<string, string>;
  createRepo(owner: string, name: string, options?: CreateRepoOptions): Promise<FakeRepository>;
  repo(owner: string, name: string): FakeRepository | undefined;
  /** The app's installation on an account (created with the account's first repository). */
  installation(owner: string): Installation;
  /** An installation token, as `POST /app/installations/{id}/access_tokens` would issue (e.g. for `git clone`). */
  createInstallationToken(owner: string): string;
  /** Expire every installation token issued so far. */
  revokeInstallationTokens(): void;
  installationCreatedPayload(owner: string): InstallationCreatedPayload;
  installationRepositoriesAddedPayload(
    owner: string,
    repositories: FakeRepository[],
  ): InstallationRepositoriesAddedPayload;
  setSecretScanningKeys(keys: SecretScanningKey[]): void;
  /** POSTs a webhook as GitHub does (signed, GitHub's headers) and records the delivery. */
  deliver(options: DeliverOptions): Promise<DeliveryRecord>;
  /** Waits for deliveries under way, including redeliveries requested through the API. */
  settled(): Promise<void>;
  clearRequests(): void;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: FakeLimits = {
  patchBytes: 1024 * 1024,
  compareFiles: 300,
  compareCommits: 250,
  commitFiles: 3000,
};

const RATE_LIMIT = 5000;

export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const root = await mkdtemp(path.join(tmpdir(), "patrol-fake-github-"));
  const appId = options.appId ?? 123_456;
  const appSlug = options.appSlug ?? "patrol-test";
  const auth = await AppAuthority.create(appId, (options.tokenLifetimeSeconds ?? 3600) * 1000);
  const faults = new Faults(options.seed ?? randomBytes(4).readUInt32LE(0));
  /** Requests whose answer a "mangle" fault rewrites. */
  const mangles = new WeakMap<FastifyRequest, (body: string) => string>();
  const deliveries = new HookDeliveries(DEFAULT_HOOK_ID, appId, options.webhookTimeoutMs ?? 10_000);
  const limits: FakeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const urls: FakeUrls = { web: "", api: "" }; // filled in once the port is known
  const accounts = new Map<string, Account>();
  const installations = new Map<string, Installation>(); // by account login
  const repos = new Map<string, FakeRepository>(); // by lower-case full name
  const requests: RequestRecord[] = [];
  let secretScanningKeys = options.secretScanningKeys ?? [];
  let nextAccountId = 9_000_001;
  let nextInstallationId = 40_000_001;
  let nextRepoId = 700_000_001;
  const rateWindows = new Map<string, { used: number; resetAt: number }>();

  const appOwner: Account = {
    login: "patrol-dev",
    id: nextAccountId++,
    type: "Organization",
    name: "patrol",
    email: "",
  };
  const app: AppInfo = {
    id: appId,
    slug: appSlug,
    name: appSlug,
    clientId: `Iv1.${randomBytes(8).toString("hex")}`,
    owner: appOwner,
    permissions: APP_PERMISSIONS,
    events: APP_EVENTS,
    createdAt: new Date(),
  };

  function ensureAccount(login: string, type: "User" | "Organization" = "User"): Account {
    const key = login.toLowerCase();
    let account = accounts.get(key);
    if (!account) {
      account = {
        login,
        id: nextAccountId++,
        type,
        name: login,
        email: `${login.toLowerCase()}@users.noreply.fake`,
      };
      accounts.set(key, account);
    }
    return account;
  }

  function ensureInstallation(account: Account): Installation {
    const key = account.login.toLowerCase();
    let installation = installations.get(key);
    if (!installation) {
      installation = { id: nextInstallationId++, account, repositorySelection: "all", createdAt: new Date() };
      installations.set(key, installation);
    }
    return installation;
  }

  function installationFor(owner: string): Installation {
    const installation = installations.get(owner.toLowerCase());
    if (!installation)
      throw new Error(`the app is not installed on "${owner}": create one of its repositories first`);
    return installation;
  }

  function repositoriesOf(installation: Installation): FakeRepository[] {
    return [...repos.values()].filter((r) => r.installation === installation && r.installed);
  }

  const server = Fastify({ logger: false, bodyLimit: 100 * 1024 * 1024 });

  // Octokit POSTs an empty body with a JSON content type; GitHub takes that as {}
  server.removeContentTypeParser("application/json");
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    if (body === "") return done(null, {});
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error("Problems parsing JSON"), { statusCode: 400 }), undefined);
    }
  });
  // git's request bodies (and anything else) stay streams for the handler
  server.addContentTypeParser("*", (_req, payload, done) => done(null, payload));

  server.addHook("onRequest", async (request, reply) => {
    const started = performance.now();
    const [pathOnly, query = ""] = request.url.split("?", 2);
    const record: RequestRecord = {
      method: request.method,
      path: pathOnly,
      query,
      at: Date.now(),
      status: 0,
      durationMs: 0,
    };
    reply.raw.once("close", () => {
      record.status = reply.raw.headersSent ? reply.raw.statusCode : 0;
      record.durationMs = performance.now() - started;
      requests.push(record);
    });
    const decision = faults.decide(request.method, pathOnly.replace(/^\/api\/v3(?=\/|$)/, "") || "/");
    if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    if (decision.mangle) {
      record.fault = "mangle";
      mangles.set(request, decision.mangle);
    }
    if (decision.failure) {
      record.fault = decision.failure.kind;
      return answerFault(request, reply, decision.failure);
    }
  });

  server.addHook("onSend", async (request, reply, payload) => {
    reply.header("x-github-request-id", randomUUID().toUpperCase().slice(0, 23));
    const mangle = mangles.get(request);
    if (mangle && typeof payload === "string") payload = mangle(payload);
    if (!request.url.startsWith("/api/v3") || reply.hasHeader("x-ratelimit-remaining")) return payload;
    const key = request.headers.authorization ?? `anonymous:${request.ip}`;
    const limit = request.headers.authorization ? RATE_LIMIT : 60;
    const now = Date.now();
    let window = rateWindows.get(key);
    if (!window || window.resetAt <= now) {
      window = { used: 0, resetAt: now + 3600_000 };
      rateWindows.set(key, window);
    }
    window.used++;
    reply.header("x-ratelimit-limit", String(limit));
    reply.header("x-ratelimit-remaining", String(Math.max(0, limit - window.used)));
    reply.header("x-ratelimit-used", String(window.used));
    reply.header("x-ratelimit-reset", String(Math.ceil(window.resetAt / 1000)));
    reply.header("x-ratelimit-resource", "core");
    reply.header("x-github-media-type", "github.v3; format=json");
    return payload;
  });

  server.setNotFoundHandler((_request, reply) => {
    sendError(reply, 404, "Not Found");
  });
  server.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    reply
      .code(status)
      .send(errorBody(status, status === 500 ? `Server Error: ${error.message}` : error.message));
  });

  const context = {
    urls,
    app,
    auth,
    deliveries,
    limits,
    installations: () => [...installations.values()],
    repository: (owner: string, name: string) => repos.get(`${owner}/${name}`.toLowerCase()),
    repositoriesOf,
    secretScanningKeys: () => secretScanningKeys,
  };
  await server.register(async (api) => registerRestRoutes(api, context), { prefix: "/api/v3" });

  async function gitRoute(request: FastifyRequest, reply: FastifyReply, service: string) {
    const { owner, repo: repoGit } = request.params as Record<string, string>;
    const name = repoGit.replace(/\.git$/, "");
    const repo = repoGit.endsWith(".git") ? context.repository(owner, name) : undefined;
    const credentials = /^basic\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    const [user, token] = credentials
      ? Buffer.from(credentials, "base64").toString("utf8").split(":", 2)
      : [];
    const grant = user === "x-access-token" && token ? auth.checkBareToken(token) : undefined;
    if (!grant?.ok) {
      reply.header("www-authenticate", 'Basic realm="GitHub"');
      return reply.code(401).type("text/plain").send("Invalid username or token.\n");
    }
    const visible =
      repo?.installed &&
      repo.installation.id === grant.value.installationId &&
      (!grant.value.repositoryIds || grant.value.repositoryIds.has(repo.id));
    if (!repo || !visible) return reply.code(404).type("text/plain").send("Repository not found.\n");
    if (service !== "git-upload-pack")
      return reply.code(403).type("text/plain").send("Pushes are not served.\n");
    reply.hijack();
    const query = request.url.split("?", 2)[1] ?? "";
    const body = (request.body as Readable | undefined) ?? request.raw;
    await serveGitHttp(request.raw, body, reply.raw, {
      projectRoot: root,
      pathInfo: `/${repo.owner.login.toLowerCase()}/${repo.name.toLowerCase()}.git${request.url.split("?")[0].slice(`/${owner}/${repoGit}`.length)}`,
      query,
      remoteUser: user,
    });
  }
  server.get("/:owner/:repo/info/refs", (request, reply) =>
    gitRoute(request, reply, String((request.query as Record<string, string>).service ?? "")),
  );
  server.post("/:owner/:repo/git-upload-pack", (request, reply) =>
    gitRoute(request, reply, "git-upload-pack"),
  );
  server.post("/:owner/:repo/git-receive-pack", (request, reply) =>
    gitRoute(request, reply, "git-receive-pack"),
  );

  await server.listen({ host: "127.0.0.1", port: 0 });
  const port = (server.server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  urls.web = `http://${host}`;
  urls.api = `http://${host}/api/v3`;

  function answerFault(
    request: FastifyRequest,
    reply: FastifyReply,
    failure: NonNullable<FaultDecision["failure"]>,
  ) {
    switch (failure.kind) {
      case "reset":
        reply.hijack();
        request.raw.socket.destroy();
        return reply;
      case "error":
        return reply
          .code(failure.status)
          .send(errorBody(failure.status, failure.status === 503 ? "Service Unavailable" : "Server Error"));
      case "secondary-rate-limit":
        if (failure.retryAfterSeconds !== null)
          reply.header("retry-after", String(failure.retryAfterSeconds));
        return reply
          .code(failure.status)
          .send(
            errorBody(
              failure.status,
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            ),
          );
      case "primary-rate-limit":
        reply.header("x-ratelimit-limit", String(RATE_LIMIT));
        reply.header("x-ratelimit-remaining", "0");
        reply.header("x-ratelimit-used", String(RATE_LIMIT));
        reply.header("x-ratelimit-reset", String(Math.ceil(failure.resetAt / 1000)));
        reply.header("x-ratelimit-resource", "core");
        return reply
          .code(failure.status)
          .send(
            errorBody(
              failure.status,
              "API rate limit exceeded for installation.",
              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
            ),
          );
    }
  }

  return {
    apiUrl: urls.api,
    webUrl: urls.web,
    host,
    appId,
    appSlug,
    privateKeyPem: auth.privateKeyPem,
    hookId: DEFAULT_HOOK_ID,
    limits,
    faults,
    requests,
    get deliveries() {
      return deliveries.all;
    },
    env(webhookSecret) {
      return {
        APP_ID: String(appId),
        PRIVATE_KEY: auth.privateKeyPem,
        GHE_HOST: host,
        GHE_PROTOCOL: "http",
        ...(webhookSecret === undefined ? {} : { WEBHOOK_SECRET: webhookSecret }),
      };
    },
    async createRepo(owner, name, repoOptions = {}) {
      const key = `${owner}/${name}`.toLowerCase();
      if (repos.has(key)) throw new Error(`repository ${owner}/${name} already exists on the fake GitHub`);
      if (!/^[A-Za-z0-9-]+$/.test(owner) || !/^[A-Za-z0-9._-]+$/.test(name) || name.endsWith(".git")) {
        throw new Error(`invalid repository name ${owner}/${name}`);
      }
      const account = ensureAccount(owner, repoOptions.ownerType);
      const installation = ensureInstallation(account);
      const git = await GitRepository.init(
        path.join(root, owner.toLowerCase(), `${name.toLowerCase()}.git`),
        repoOptions.defaultBranch ?? "main",
      );
      const repo = new FakeRepository({
        id: nextRepoId++,
        owner: account,
        name,
        private: repoOptions.private ?? false,
        git,
        installation,
        installed: repoOptions.installed ?? true,
        urls,
      });
      repos.set(key, repo);
      return repo;
    },
    repo(owner, name) {
      return repos.get(`${owner}/${name}`.toLowerCase());
    },
    installation: installationFor,
    createInstallationToken(owner) {
      return auth.issueToken(installationFor(owner).id).token;
    },
    revokeInstallationTokens() {
      auth.revokeAll();
    },
    installationCreatedPayload(owner) {
      const installation = installationFor(owner);
      return {
        action: "created",
        installation: installationJson(urls, app, installation),
        repositories: repositoriesOf(installation).map(repositoryStub),
        requester: null,
        sender: userJson(urls, installation.account),
      } as unknown as InstallationCreatedPayload;
    },
    installationRepositoriesAddedPayload(owner, added) {
      const installation = installationFor(owner);
      return {
        action: "added",
        installation: installationJson(urls, app, installation),
        repository_selection: "selected",
        repositories_added: added.map(repositoryStub),
        repositories_removed: [],
        requester: null,
        sender: userJson(urls, installation.account),
      } as unknown as InstallationRepositoriesAddedPayload;
    },
    setSecretScanningKeys(keys) {
      secretScanningKeys = keys;
    },
    deliver(deliverOptions) {
      return deliveries.deliver(deliverOptions);
    },
    settled() {
      return deliveries.settled();
    },
    clearRequests() {
      requests.length = 0;
    },
    async close() {
      await deliveries.settled();
      await server.close();
      for (const repo of repos.values()) repo.git.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
