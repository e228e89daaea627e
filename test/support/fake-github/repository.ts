/**
 * A repository on the fake GitHub: its GitHub facts (id, owner, visibility, installation) over a real bare git
 * repository, the commit helpers tests shape history with, and the webhook payloads GitHub would send about it.
 *
 *   const before = await repo.tip();                                  // the default branch's tip
 *   const after = await repo.commit({ files: { ".npmrc": `//feed/:_password=${pat}\n` } });
 *   const payload = await repo.pushPayload({ before, after });        // what GitHub POSTs for that push
 *   await repo.resetBranch("main", before); const rewritten = await repo.commit({ files });   // force push
 *   await repo.pushPayload({ before: after, after: rewritten });      // forced: true
 *   repo.setVisibility("public"); repo.publicPayload(); repo.publicizedPayload();
 *
 * Payloads follow the recorded examples in `@octokit/webhooks-examples` and are typed with
 * `@octokit/openapi-webhooks-types` (what Probot's `context.payload` is typed with). Push payload quirks kept:
 * `repository.created_at`/`pushed_at` are epoch seconds, the owner carries `name`/`email`, and `commits` holds
 * at most 2048 entries (the oldest 2048 of the push here; GitHub documents the cap, not which ones it keeps).
 */
import type { components as WebhookComponents } from "@octokit/openapi-webhooks-types";
import { type CommitSpec, type GitRepository, ZERO_SHA } from "./git.js";
import { type CommitWithPaths, readCommitsWithPaths } from "./history.js";
import type { Account, FakeUrls, Installation } from "./model.js";
import { nodeId } from "./model.js";
import { type RepositoryFacts, repositoryJson, type Schemas, userJson } from "./shapes.js";

type Webhooks = WebhookComponents["schemas"];
export type PushPayload = Webhooks["webhook-push"];
export type PublicPayload = Webhooks["webhook-public"];
export type RepositoryPublicizedPayload = Webhooks["webhook-repository-publicized"];
export type InstallationCreatedPayload = Webhooks["webhook-installation-created"];
export type InstallationRepositoriesAddedPayload = Webhooks["webhook-installation-repositories-added"];

/** GitHub's cap on `commits` in a push payload. */
export const PUSH_COMMITS_LIMIT = 2048;

export interface PushOptions {
  /** Full ref; default `refs/heads/<branch>`. */
  ref?: string;
  /** Default: the repository's default branch. */
  branch?: string;
  /** The ref's previous tip; `ZERO_SHA` (the default) for a new branch. */
  before?: string;
  /** The ref's new tip; default: the branch's tip now (`ZERO_SHA` when `deleted`). */
  after?: string;
  /** A branch deletion: `after` is all zeros, no commits. */
  deleted?: boolean;
  /** Default: true when `before` is not an ancestor of `after` (or is gone). */
  forced?: boolean;
  pusher?: { name: string; email: string };
  /** The account that pushed (default: the owner). */
  sender?: Account;
  /** Leave out `installation` (a payload for an app that is not installed). */
  withoutInstallation?: boolean;
}

export interface FakeRepositoryInit {
  id: number;
  owner: Account;
  name: string;
  private: boolean;
  git: GitRepository;
  installation: Installation;
  /** False: the repository exists but the app's installation does not cover it. */
  installed: boolean;
  urls: FakeUrls;
}

export class FakeRepository implements RepositoryFacts {
  readonly id: number;
  readonly owner: Account;
  readonly name: string;
  readonly fullName: string;
  private: boolean;
  readonly git: GitRepository;
  readonly installation: Installation;
  installed: boolean;
  readonly urls: FakeUrls;
  readonly createdAt = new Date();
  pushedAt = new Date();

  constructor(init: FakeRepositoryInit) {
    this.id = init.id;
    this.owner = init.owner;
    this.name = init.name;
    this.fullName = `${init.owner.login}/${init.name}`;
    this.private = init.private;
    this.git = init.git;
    this.installation = init.installation;
    this.installed = init.installed;
    this.urls = init.urls;
  }

  get defaultBranch(): string {
    return this.git.defaultBranch;
  }

  /** `http://127.0.0.1:PORT/owner/name.git`; clones need `x-access-token:<installation token>`. */
  get cloneUrl(): string {
    return `${this.urls.web}/${this.fullName}.git`;
  }

  get htmlUrl(): string {
    return `${this.urls.web}/${this.fullName}`;
  }

  /** The clone URL with the token as basic-auth credentials, as `git clone` takes it. */
  authenticatedCloneUrl(token: string): string {
    const url = new URL(this.cloneUrl);
    url.username = "x-access-token";
    url.password = token;
    return url.toString();
  }

  setVisibility(visibility: "public" | "private"): void {
    this.private = visibility === "private";
  }

  /** `GET /repos/{owner}/{repo}`'s JSON. */
  json(): Schemas["full-repository"] {
    return repositoryJson(this);
  }

  /** The default branch's tip (or another branch's); null before the first commit. */
  tip(branch = this.defaultBranch): Promise<string | null> {
    return this.git.tip(branch);
  }

  async commit(spec: CommitSpec): Promise<string> {
    const sha = await this.git.commit(spec);
    this.pushedAt = new Date();
    return sha;
  }

  async commitMany(specs: readonly CommitSpec[]): Promise<string[]> {
    const shas = await this.git.commitMany(specs);
    this.pushedAt = new Date();
    return shas;
  }

  createBranch(name: string, from: string): Promise<string> {
    return this.git.createBranch(name, from);
  }

  resetBranch(name: string, to: string): Promise<string> {
    return this.git.resetBranch(name, to);
  }

  deleteBranch(name: string): Promise<void> {
    return this.git.deleteBranch(name);
  }

  createTag(name: string, target: string): Promise<string> {
    return this.git.createTag(name, target);
  }

  /** Drops unreachable objects: a force-pushed-away `before` then is unknown to compare (404). */
  prune(): Promise<void> {
    return this.git.prune();
  }

  /** The `push` webhook payload GitHub sends for moving `ref` from `before` to `after`. */
  async pushPayload(options: PushOptions = {}): Promise<PushPayload> {
    const branch = options.branch ?? this.defaultBranch;
    const ref = options.ref ?? `refs/heads/${branch}`;
    const before = options.before ?? ZERO_SHA;
    const deleted = options.deleted ?? false;
    let after = options.after ?? (deleted ? ZERO_SHA : await this.git.tip(branch));
    if (!after) throw new Error(`pushPayload: branch "${branch}" has no commits and no "after" was given`);
    if (!deleted) after = (await this.git.resolve(after)) ?? after;
    const created = before === ZERO_SHA && !deleted;
    const beforeExists = before !== ZERO_SHA && (await this.git.resolve(before)) !== null;

    let commits: CommitWithPaths[] = [];
    let head: CommitWithPaths | null = null;
    let forced = options.forced ?? false;
    if (!deleted) {
      if (beforeExists) {
        commits = await readCommitsWithPaths(this.git, ["--reverse", `${before}..${after}`]);
        if (options.forced === undefined) forced = !(await this.isAncestor(before, after));
      } else {
        // a new ref (or one whose old tip is gone): the commits no other ref already had
        commits = await readCommitsWithPaths(this.git, [
          "--reverse",
          after,
          "--not",
          `--exclude=${ref}`,
          "--all",
        ]);
        if (options.forced === undefined) forced = before !== ZERO_SHA;
      }
      [head] = await readCommitsWithPaths(this.git, ["--no-walk", after]);
    }

    const html = this.htmlUrl;
    const entry = (c: CommitWithPaths): PushPayload["commits"][number] => ({
      id: c.sha,
      tree_id: c.tree,
      distinct: true,
      message: c.message,
      timestamp: c.author.date,
      url: `${html}/commit/${c.sha}`,
      author: { name: c.author.name, email: c.author.email },
      committer: { name: c.committer.name, email: c.committer.email },
      added: c.added,
      removed: c.removed,
      modified: c.modified,
    });
    const pushedAt = Math.floor(Date.now() / 1000);
    const repository = {
      ...this.webhookRepository(),
      owner: { ...userJson(this.urls, this.owner), name: this.owner.name, email: this.owner.email },
      created_at: Math.floor(this.createdAt.getTime() / 1000),
      pushed_at: pushedAt,
      stargazers: 0,
      master_branch: this.defaultBranch,
      ...(this.owner.type === "Organization" ? { organization: this.owner.login } : {}),
    } as PushPayload["repository"];
    const payload: PushPayload = {
      ref,
      before,
      after,
      repository,
      pusher: options.pusher ?? { name: this.owner.login, email: this.owner.email },
      sender: this.sender(options.sender),
      created,
      deleted,
      forced,
      base_ref: null,
      compare: created
        ? `${html}/commit/${after.slice(0, 12)}`
        : `${html}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
      commits: commits.slice(0, PUSH_COMMITS_LIMIT).map(entry),
      head_commit: head ? entry(head) : null,
    };
    if (this.owner.type === "Organization") payload.organization = organizationJson(this.urls, this.owner);
    if (!options.withoutInstallation) payload.installation = this.installationRef();
    return payload;
  }

  /** The `public` payload: sent when a private repository is made public (call `setVisibility` first). */
  publicPayload(sender?: Account): PublicPayload {
    const payload = {
      repository: this.webhookRepository(),
      sender: this.sender(sender),
      installation: this.installationRef(),
    } as PublicPayload;
    if (this.owner.type === "Organization") payload.organization = organizationJson(this.urls, this.owner);
    return payload;
  }

  /** The `repository` payload with action `publicized`, sent alongside `public`. */
  publicizedPayload(sender?: Account): RepositoryPublicizedPayload {
    const payload = {
      action: "publicized",
      repository: this.webhookRepository(),
      sender: this.sender(sender),
      installation: this.installationRef(),
    } as RepositoryPublicizedPayload;
    if (this.owner.type === "Organization") payload.organization = organizationJson(this.urls, this.owner);
    return payload;
  }

  installationRef(): { id: number; node_id: string } {
    return { id: this.installation.id, node_id: nodeId("IntegrationInstallation", this.installation.id) };
  }

  private webhookRepository() {
    const { organization: _organization, network_count: _n, subscribers_count: _s, ...rest } = this.json();
    return rest;
  }

  private sender(account?: Account) {
    return userJson(this.urls, account ?? this.owner) as PushPayload["sender"] & Schemas["simple-user"];
  }

  private async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.git.git(["merge-base", "--is-ancestor", ancestor, descendant]);
      return true;
    } catch {
      return false;
    }
  }
}

export function organizationJson(urls: FakeUrls, account: Account) {
  const api = `${urls.api}/orgs/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId("Organization", account.id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    description: null,
  };
}
