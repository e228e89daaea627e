/**
 * The fake GitHub's REST endpoints (mounted under `/api/v3`, as GitHub Enterprise serves them), with GitHub's
 * limits and error answers:
 *
 *   app JWT:   GET /app · GET /app/installations[/{id}] · POST /app/installations/{id}/access_tokens
 *              GET /repos/{o}/{r}/installation · GET /app/hook/deliveries[/{id}] (cursor paging)
 *              POST /app/hook/deliveries/{id}/attempts
 *   token:     GET /installation/repositories · GET /repos/{o}/{r}
 *              GET /repos/{o}/{r}/compare/{base}...{head} · GET /repos/{o}/{r}/commits[?sha=] ·
 *              GET /repos/{o}/{r}/commits/{ref} · GET /repos/{o}/{r}/git/blobs/{sha}
 *   anyone:    GET /meta/public_keys/secret_scanning
 *
 * Compare: without `page`/`per_page` at most 250 commits (the most recent ones, oldest first) and up to 300
 * files; with paging, `per_page` commits (default 30, max 100) per page in chronological order and `files`
 * on the first page only. Files diff the merge base against head (three-dot). Unknown base or head: 404;
 * no merge base (unrelated history): 404 "No common ancestor between …".
 * Commit: files paged 300 per page (`per_page` up to 300), at most 3000 in all; an unknown sha answers 422
 * "No commit found for SHA: …" as GitHub does. `patch` is left out for binary files and for patches over the
 * configured limit. A repository the token's installation does not cover answers 404, as GitHub does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppAuthority, TokenGrant } from "./auth.js";
import {
  type DeliveryRecord,
  deliveryItemJson,
  deliveryJson,
  type HookDeliveries,
  REDELIVERY_WINDOW_MS,
} from "./deliveries.js";
import { diffFiles, linearRange, readCommit, readCommits } from "./history.js";
import type { AppInfo, FakeUrls, Installation } from "./model.js";
import type { FakeRepository } from "./repository.js";
import {
  appJson,
  commitJson,
  diffEntryJson,
  errorBody,
  installationJson,
  repositoryJson,
  type Schemas,
} from "./shapes.js";

/** Limits that tests may change while the fake runs. */
export interface FakeLimits {
  /** Patches larger than this many bytes are left out of compare/commit files (GitHub does so for large diffs). */
  patchBytes: number;
  /** Files in a compare (GitHub: 300). */
  compareFiles: number;
  /** Commits in a compare without paging (GitHub: 250). */
  compareCommits: number;
  /** Files in a commit over all its pages (GitHub: 3000). */
  commitFiles: number;
}

export interface SecretScanningKey {
  key_identifier: string;
  /** PEM of an ECDSA P-256 public key. */
  key: string;
  is_current: boolean;
}

export interface RestContext {
  urls: FakeUrls;
  app: AppInfo;
  auth: AppAuthority;
  deliveries: HookDeliveries;
  limits: FakeLimits;
  installations(): Installation[];
  repository(owner: string, name: string): FakeRepository | undefined;
  repositoriesOf(installation: Installation): FakeRepository[];
  secretScanningKeys(): SecretScanningKey[];
}

export type AuthKind = "app" | "installation" | "none";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthKind;
  }
  interface FastifyRequest {
    grant: TokenGrant | null;
  }
}

type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

export function registerRestRoutes(api: FastifyInstance, ctx: RestContext): void {
  api.decorateRequest("grant", null);

  api.addHook("preHandler", async (request, reply) => {
    const kind = request.routeOptions.config.auth ?? "installation";
    if (kind === "none") return;
    if (kind === "app") {
      const result = await ctx.auth.verifyAppJwt(request.headers.authorization);
      if (!result.ok) return sendError(reply, 401, result.message);
      return;
    }
    const result = ctx.auth.checkToken(request.headers.authorization);
    if (!result.ok) return sendError(reply, 401, result.message);
    request.grant = result.value;
  });

  const app = { config: { auth: "app" as const } };
  const open = { config: { auth: "none" as const } };

  api.get("/app", app, async () => appJson(ctx.urls, ctx.app, ctx.installations().length));

  api.get("/app/installations", app, async (request, reply) => {
    const all = ctx.installations().map((i) => installationJson(ctx.urls, ctx.app, i));
    return page(request, reply, all, 30, 100);
  });

  api.get("/app/installations/:id", app, async (request, reply) => {
    const installation = findInstallation(ctx, (request.params as Params).id);
    if (!installation) return sendError(reply, 404, "Not Found");
    return installationJson(ctx.urls, ctx.app, installation);
  });

  api.post("/app/installations/:id/access_tokens", app, async (request, reply) => {
    const installation = findInstallation(ctx, (request.params as Params).id);
    if (!installation) return sendError(reply, 404, "Not Found");
    const body = (request.body ?? {}) as { repositories?: unknown; repository_ids?: unknown };
    const repos = ctx.repositoriesOf(installation);
    let limited: FakeRepository[] | undefined;
    if (Array.isArray(body.repositories) || Array.isArray(body.repository_ids)) {
      const names = new Set(Array.isArray(body.repositories) ? body.repositories.map(String) : []);
      const ids = new Set(Array.isArray(body.repository_ids) ? body.repository_ids.map(Number) : []);
      limited = repos.filter((r) => names.has(r.name) || ids.has(r.id));
      if (limited.length !== names.size + ids.size) {
        return sendError(
          reply,
          422,
          "There is at least one repository that does not exist or is not accessible to the parent installation.",
        );
      }
    }
    const grant = ctx.auth.issueToken(
      installation.id,
      limited ? new Set(limited.map((r) => r.id)) : undefined,
    );
    const token: Schemas["installation-token"] = {
      token: grant.token,
      expires_at: grant.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      permissions: ctx.app.permissions,
      repository_selection: limited ? "selected" : installation.repositorySelection,
    };
    if (limited)
      token.repositories = limited.map((r) => repositoryJson(r) as unknown as Schemas["repository"]);
    return reply.code(201).send(token);
  });

  api.get("/repos/:owner/:repo/installation", app, async (request, reply) => {
    const { owner, repo: name } = request.params as Params;
    const repo = ctx.repository(owner, name);
    if (!repo?.installed) return sendError(reply, 404, "Not Found");
    return installationJson(ctx.urls, ctx.app, repo.installation);
  });

  api.get("/installation/repositories", async (request, reply) => {
    const grant = request.grant!;
    const installation = ctx.installations().find((i) => i.id === grant.installationId);
    if (!installation) return sendError(reply, 404, "Not Found");
    const repos = ctx
      .repositoriesOf(installation)
      .filter((r) => !grant.repositoryIds || grant.repositoryIds.has(r.id))
      .map((r) => repositoryJson(r));
    const paged = pageSlice(request, repos, 30, 100);
    setLink(request, reply, paged);
    return {
      total_count: repos.length,
      repository_selection: grant.repositoryIds ? "selected" : installation.repositorySelection,
      repositories: paged.items,
    };
  });

  api.get("/repos/:owner/:repo", async (request, reply) => {
    const repo = accessibleRepo(ctx, request, reply);
    return repo?.json();
  });

  api.get("/repos/:owner/:repo/compare/*", async (request, reply) => {
    const repo = accessibleRepo(ctx, request, reply);
    if (!repo) return;
    const basehead = (request.params as Params)["*"];
    const separator = basehead.indexOf("...");
    if (separator < 0) return sendError(reply, 404, "Not Found");
    const baseRef = basehead.slice(0, separator);
    const headRef = basehead.slice(separator + 3);
    const [base, head] = await Promise.all([repo.git.resolve(baseRef), repo.git.resolve(headRef)]);
    if (!base || !head) return sendError(reply, 404, "Not Found");
    const git = repo.git;
    // most pushes extend their base in a straight line: walk it through the object reader, no process needed
    const linear = await git.remember(`linear ${base}..${head}`, () => linearRange(git, base, head, 1000));
    const mergeBase =
      linear !== null
        ? base
        : await git.remember(`merge-base ${base} ${head}`, async () =>
            (await git.git(["merge-base", base, head], { allowCodes: [1] })).toString().trim(),
          );
    if (!mergeBase) return sendError(reply, 404, `No common ancestor between ${baseRef} and ${headRef}.`);

    const [aheadCommits, behindCount, baseCommit, mergeBaseCommit] = await Promise.all([
      linear ??
        git.remember(`log ${base}..${head}`, () => readCommits(git, ["--reverse", `${base}..${head}`])),
      linear
        ? "0"
        : git.remember(`count ${head}..${base}`, async () =>
            (await git.git(["rev-list", "--count", `${head}..${base}`])).toString(),
          ),
      readCommit(git, base),
      readCommit(git, mergeBase),
    ]);
    const ahead = aheadCommits.length;
    const behind = Number(behindCount.toString().trim());
    const query = request.query as Query;
    const paging = query.page !== undefined || query.per_page !== undefined;
    let commits = aheadCommits;
    let withFiles = true;
    if (paging) {
      const paged = pageSlice(request, aheadCommits, 30, 100);
      setLink(request, reply, paged);
      commits = paged.items;
      withFiles = paged.page === 1;
    } else if (commits.length > ctx.limits.compareCommits) {
      commits = commits.slice(-ctx.limits.compareCommits);
    }
    const comparison: Schemas["commit-comparison"] = {
      url: `${ctx.urls.api}/repos/${repo.fullName}/compare/${basehead}`,
      html_url: `${repo.htmlUrl}/compare/${basehead}`,
      permalink_url: `${repo.htmlUrl}/compare/${repo.fullName.replace("/", ":")}:${base.slice(0, 7)}...${repo.fullName.replace("/", ":")}:${head.slice(0, 7)}`,
      diff_url: `${repo.htmlUrl}/compare/${basehead}.diff`,
      patch_url: `${repo.htmlUrl}/compare/${basehead}.patch`,
      base_commit: commitJson(repo, baseCommit!),
      merge_base_commit: commitJson(repo, mergeBaseCommit!),
      status:
        ahead === 0 && behind === 0
          ? "identical"
          : behind === 0
            ? "ahead"
            : ahead === 0
              ? "behind"
              : "diverged",
      ahead_by: ahead,
      behind_by: behind,
      total_commits: ahead,
      commits: commits.map((c) => commitJson(repo, c)),
    };
    if (withFiles) {
      const files = await diffFiles(repo.git, mergeBase, head, ctx.limits.patchBytes);
      comparison.files = files.slice(0, ctx.limits.compareFiles).map((f) => diffEntryJson(repo, head, f));
    }
    return comparison;
  });

  api.get("/repos/:owner/:repo/commits", async (request, reply) => {
    const repo = accessibleRepo(ctx, request, reply);
    if (!repo) return;
    const from = (request.query as Query).sha ?? repo.defaultBranch;
    const sha = await repo.git.resolve(from);
    if (!sha) return sendError(reply, 404, "Not Found");
    const commits = await repo.git.remember(`log ${sha}`, () => readCommits(repo.git, [sha]));
    const paged = pageSlice(request, commits, 30, 100);
    setLink(request, reply, paged);
    return paged.items.map((c) => commitJson(repo, c));
  });

  api.get("/repos/:owner/:repo/commits/*", async (request, reply) => {
    const repo = accessibleRepo(ctx, request, reply);
    if (!repo) return;
    const ref = (request.params as Params)["*"];
    const commit = await readCommit(repo.git, ref);
    if (!commit) return sendError(reply, 422, `No commit found for SHA: ${ref}`);
    const all = await diffFiles(repo.git, commit.parents[0] ?? null, commit.sha, ctx.limits.patchBytes);
    const files = all.slice(0, ctx.limits.commitFiles);
    const paged = pageSlice(request, files, 300, 300);
    setLink(request, reply, paged);
    return commitJson(repo, commit, {
      entries: paged.items.map((f) => diffEntryJson(repo, commit.sha, f)),
      additions: all.reduce((sum, f) => sum + f.additions, 0),
      deletions: all.reduce((sum, f) => sum + f.deletions, 0),
    });
  });

  api.get("/repos/:owner/:repo/git/blobs/:sha", async (request, reply) => {
    const repo = accessibleRepo(ctx, request, reply);
    if (!repo) return;
    const { sha } = request.params as Params;
    if (!/^[0-9a-f]{40}$/.test(sha)) return sendError(reply, 404, "Not Found");
    const object = await repo.git.readObject(sha);
    if (object?.type !== "blob") return sendError(reply, 404, "Not Found");
    const content = object.content;
    if (/application\/vnd\.github(\.v3)?\.raw/.test(request.headers.accept ?? "")) {
      return reply.type("application/vnd.github.raw").send(content);
    }
    const blob: Schemas["blob"] = {
      sha,
      node_id: `B_${sha.slice(0, 16)}`,
      size: content.length,
      url: `${ctx.urls.api}/repos/${repo.fullName}/git/blobs/${sha}`,
      // GitHub wraps the base64 at 60 characters
      content: `${(content.toString("base64").match(/.{1,60}/g) ?? []).join("\n")}\n`,
      encoding: "base64",
    };
    return blob;
  });

  api.get("/meta/public_keys/secret_scanning", open, async () => ({ public_keys: ctx.secretScanningKeys() }));

  api.get("/app/hook/deliveries", app, async (request, reply) => {
    const query = request.query as Query;
    const perPage = clamp(Number(query.per_page ?? 30), 1, 100);
    const newestFirst = [...ctx.deliveries.all].reverse();
    let start = 0;
    if (query.cursor) {
      const cursorId = Number(/^v1_(\d+)$/.exec(query.cursor)?.[1]);
      start = newestFirst.findIndex((d) => d.id < cursorId);
      if (!Number.isFinite(cursorId) || start < 0) start = newestFirst.length;
    }
    const items = newestFirst.slice(start, start + perPage);
    if (start + perPage < newestFirst.length && items.length > 0) {
      const next = linkUrl(request, {
        per_page: String(perPage),
        cursor: `v1_${items[items.length - 1].id}`,
      });
      reply.header("link", `<${next}>; rel="next"`);
    }
    return items.map(deliveryItemJson);
  });

  api.get("/app/hook/deliveries/:id", app, async (request, reply) => {
    const record = ctx.deliveries.get(Number((request.params as Params).id));
    if (!record) return sendError(reply, 404, "Not Found");
    return deliveryJson(record);
  });

  api.post("/app/hook/deliveries/:id/attempts", app, async (request, reply) => {
    const record: DeliveryRecord | undefined = ctx.deliveries.get(Number((request.params as Params).id));
    if (!record) return sendError(reply, 404, "Not Found");
    if (Date.now() - record.deliveredAt.getTime() > REDELIVERY_WINDOW_MS) {
      return sendError(reply, 422, "Validation Failed: deliveries older than 3 days cannot be redelivered");
    }
    // GitHub accepts at once and redelivers in the background
    ctx.deliveries.redeliver(record.id).catch(() => {});
    return reply.code(202).send({});
  });
}

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type("application/json; charset=utf-8").send(errorBody(status, message));
}

function findInstallation(ctx: RestContext, id: string): Installation | undefined {
  return ctx.installations().find((i) => String(i.id) === id);
}

/** The repository, if the request's token may see it; otherwise answers 404 (GitHub hides what you cannot see). */
function accessibleRepo(
  ctx: RestContext,
  request: FastifyRequest,
  reply: FastifyReply,
): FakeRepository | undefined {
  const { owner, repo: name } = request.params as Params;
  const repo = ctx.repository(owner, name);
  const grant = request.grant;
  const visible =
    repo &&
    grant &&
    repo.installed &&
    repo.installation.id === grant.installationId &&
    (!grant.repositoryIds || grant.repositoryIds.has(repo.id));
  if (!visible) {
    sendError(reply, 404, "Not Found");
    return undefined;
  }
  return repo;
}

interface Paged<T> {
  items: T[];
  page: number;
  perPage: number;
  lastPage: number;
}

function clamp(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.floor(value))) : min;
}

function pageSlice<T>(
  request: FastifyRequest,
  all: T[],
  defaultPerPage: number,
  maxPerPage: number,
): Paged<T> {
  const query = request.query as Query;
  const perPage = clamp(Number(query.per_page ?? defaultPerPage), 1, maxPerPage);
  const page = clamp(Number(query.page ?? 1), 1, Number.MAX_SAFE_INTEGER);
  const lastPage = Math.max(1, Math.ceil(all.length / perPage));
  return { items: all.slice((page - 1) * perPage, page * perPage), page, perPage, lastPage };
}

function page<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  all: T[],
  defaultPerPage: number,
  maxPerPage: number,
): T[] {
  const paged = pageSlice(request, all, defaultPerPage, maxPerPage);
  setLink(request, reply, paged);
  return paged.items;
}

/** GitHub's Link header (next/last, prev/first) when there is more than one page. */
function setLink(request: FastifyRequest, reply: FastifyReply, paged: Paged<unknown>): void {
  if (paged.lastPage <= 1) return;
  const perPage = String(paged.perPage);
  const links: string[] = [];
  if (paged.page > 1) {
    links.push(`<${linkUrl(request, { per_page: perPage, page: String(paged.page - 1) })}>; rel="prev"`);
  }
  if (paged.page < paged.lastPage) {
    links.push(`<${linkUrl(request, { per_page: perPage, page: String(paged.page + 1) })}>; rel="next"`);
    links.push(`<${linkUrl(request, { per_page: perPage, page: String(paged.lastPage) })}>; rel="last"`);
  }
  if (paged.page > 1) links.push(`<${linkUrl(request, { per_page: perPage, page: "1" })}>; rel="first"`);
  reply.header("link", links.join(", "));
}

function linkUrl(request: FastifyRequest, params: Record<string, string>): string {
  const url = new URL(request.url, `http://${request.headers.host}`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}
