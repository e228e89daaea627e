/**
 * GitHub's JSON for the fake's records, typed against `@octokit/openapi-types` (the schemas Octokit's own types
 * come from), with every URL pointing back at the fake. One place builds each shape, so REST responses and
 * webhook payloads agree.
 */
import type { components } from "@octokit/openapi-types";
import type { ChangedFile, CommitInfo } from "./history.js";
import { type Account, type AppInfo, type FakeUrls, type Installation, nodeId } from "./model.js";

export type Schemas = components["schemas"];

/** The facts about a repository its JSON needs (a FakeRepository satisfies this). */
export interface RepositoryFacts {
  id: number;
  name: string;
  fullName: string;
  owner: Account;
  private: boolean;
  defaultBranch: string;
  createdAt: Date;
  pushedAt: Date;
  urls: FakeUrls;
}

const DOCS = "https://docs.github.com/rest";

/** GitHub's timestamp form: ISO 8601 in UTC, whole seconds. */
export function isoSeconds(date: Date | string): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function errorBody(status: number, message: string, documentationUrl = DOCS): Schemas["basic-error"] {
  return { message, documentation_url: documentationUrl, status: String(status) };
}

export function userJson(urls: FakeUrls, account: Account): Schemas["simple-user"] {
  const api = `${urls.api}/users/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId(account.type === "User" ? "User" : "Organization", account.id),
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url: `${urls.web}/${account.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: account.type,
    user_view_type: "public",
    site_admin: false,
  };
}

export function repositoryJson(repo: RepositoryFacts): Schemas["full-repository"] {
  const { urls } = repo;
  const api = `${urls.api}/repos/${repo.fullName}`;
  const html = `${urls.web}/${repo.fullName}`;
  const host = new URL(urls.web).host;
  return {
    id: repo.id,
    node_id: nodeId("Repository", repo.id),
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
    owner: userJson(urls, repo.owner),
    html_url: html,
    description: null,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: isoSeconds(repo.createdAt),
    updated_at: isoSeconds(repo.pushedAt),
    pushed_at: isoSeconds(repo.pushedAt),
    git_url: `git://${host}/${repo.fullName}.git`,
    ssh_url: `git@${host}:${repo.fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: repo.private ? "private" : "public",
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: repo.defaultBranch,
    subscribers_count: 0,
    network_count: 0,
    custom_properties: {},
    ...(repo.owner.type === "Organization" ? { organization: userJson(urls, repo.owner) } : {}),
  };
}

/** The short repository form used in installation payloads and token responses' lists. */
export function repositoryStub(repo: RepositoryFacts) {
  return {
    id: repo.id,
    node_id: nodeId("Repository", repo.id),
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
  };
}

export function commitJson(
  repo: RepositoryFacts,
  commit: CommitInfo,
  files?: { entries: Schemas["diff-entry"][]; additions: number; deletions: number },
): Schemas["commit"] {
  const api = `${repo.urls.api}/repos/${repo.fullName}`;
  const html = `${repo.urls.web}/${repo.fullName}`;
  const json: Schemas["commit"] = {
    url: `${api}/commits/${commit.sha}`,
    sha: commit.sha,
    node_id: nodeId("Commit", Number.parseInt(commit.sha.slice(0, 8), 16)),
    html_url: `${html}/commit/${commit.sha}`,
    comments_url: `${api}/commits/${commit.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${commit.sha}`,
      author: { name: commit.author.name, email: commit.author.email, date: isoSeconds(commit.author.date) },
      committer: {
        name: commit.committer.name,
        email: commit.committer.email,
        date: isoSeconds(commit.committer.date),
      },
      message: commit.message,
      comment_count: 0,
      tree: { sha: commit.tree, url: `${api}/git/trees/${commit.tree}` },
      verification: {
        verified: false,
        reason: "unsigned",
        signature: null,
        payload: null,
        verified_at: null,
      },
    },
    // the git identities are not GitHub accounts in the fake
    author: null,
    committer: null,
    parents: commit.parents.map((sha) => ({
      sha,
      url: `${api}/commits/${sha}`,
      html_url: `${html}/commit/${sha}`,
    })),
  };
  if (files) {
    json.stats = {
      additions: files.additions,
      deletions: files.deletions,
      total: files.additions + files.deletions,
    };
    json.files = files.entries;
  }
  return json;
}

export function diffEntryJson(
  repo: RepositoryFacts,
  headSha: string,
  file: ChangedFile,
): Schemas["diff-entry"] {
  const encoded = file.filename.split("/").map(encodeURIComponent).join("/");
  const html = `${repo.urls.web}/${repo.fullName}`;
  const entry: Schemas["diff-entry"] = {
    sha: file.sha,
    filename: file.filename,
    status: file.status,
    additions: file.additions,
    deletions: file.deletions,
    changes: file.additions + file.deletions,
    blob_url: `${html}/blob/${headSha}/${encoded}`,
    raw_url: `${html}/raw/${headSha}/${encoded}`,
    contents_url: `${repo.urls.api}/repos/${repo.fullName}/contents/${encoded}?ref=${headSha}`,
  };
  if (file.patch !== undefined) entry.patch = file.patch;
  if (file.previousFilename !== undefined) entry.previous_filename = file.previousFilename;
  return entry;
}

export function installationJson(
  urls: FakeUrls,
  app: AppInfo,
  installation: Installation,
): Schemas["installation"] {
  const created = isoSeconds(installation.createdAt);
  return {
    id: installation.id,
    client_id: app.clientId,
    account: userJson(urls, installation.account),
    repository_selection: installation.repositorySelection,
    access_tokens_url: `${urls.api}/app/installations/${installation.id}/access_tokens`,
    repositories_url: `${urls.api}/installation/repositories`,
    html_url: `${urls.web}/settings/installations/${installation.id}`,
    app_id: app.id,
    app_slug: app.slug,
    target_id: installation.account.id,
    target_type: installation.account.type,
    permissions: app.permissions,
    events: app.events,
    created_at: created,
    updated_at: created,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

export function appJson(
  urls: FakeUrls,
  app: AppInfo,
  installationsCount: number,
): NonNullable<Schemas["integration"]> {
  return {
    id: app.id,
    slug: app.slug,
    node_id: nodeId("Integration", app.id),
    client_id: app.clientId,
    owner: userJson(urls, app.owner),
    name: app.name,
    description: "patrol's test app on the fake GitHub",
    external_url: urls.web,
    html_url: `${urls.web}/apps/${app.slug}`,
    created_at: isoSeconds(app.createdAt),
    updated_at: isoSeconds(app.createdAt),
    permissions: app.permissions,
    events: app.events,
    installations_count: installationsCount,
  };
}
