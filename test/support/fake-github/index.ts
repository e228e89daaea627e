/**
 * A fake GitHub for patrol's end-to-end tests: a local server on 127.0.0.1 that plays GitHub for one GitHub App,
 * over real git repositories. Probot and Octokit talk to it unchanged (GitHub Enterprise style: set
 * `GHE_HOST=gh.host` and `GHE_PROTOCOL=http`, or Octokit's `baseUrl: gh.apiUrl`).
 *
 *   const gh = await startFakeGitHub();
 *   const repo = await gh.createRepo("octo-org", "app", { ownerType: "Organization" });
 *   const base = await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
 *   const head = await repo.commit({ files: { ".npmrc": `//feed/:_password=${pat}\n`, "logo.png": png } });
 *   const delivery = await gh.deliver({
 *     url: `${patrolUrl}/api/github/webhooks`, secret, event: "push",
 *     payload: await repo.pushPayload({ before: base, after: head }),
 *   });                                               // delivery.statusCode, delivery.guid, delivery.id
 *   // patrol, configured with gh.env(secret), now fetches compare/commits/blobs from the fake
 *   gh.requests.filter((r) => r.path.includes("/compare/"));   // what it asked, with statuses
 *   gh.faults.add({ kind: "error", status: 503, probability: 0.2 });
 *   await gh.close();
 *
 * The fake serves from the test's own process: drive it with asynchronous clients only. A synchronous child
 * process (`spawnSync("git", ["clone", ...])`, `execSync`) blocks the event loop the fake answers on and
 * deadlocks; use `execFile`/`spawn` with a promise.
 *
 * What it serves (details in each module):
 *   - REST under /api/v3 (`rest.ts`): app JWT endpoints, installation tokens, repositories, compare, commits,
 *     blobs, webhook deliveries and redelivery, secret-scanning public keys; GitHub's limits and errors.
 *   - `git clone` over smart HTTP (`smart-http.ts`) at `repo.cloneUrl` with `x-access-token:<token>`.
 *   - Webhooks sent and recorded as GitHub does (`deliveries.ts`, signing in `../webhooks.ts`).
 *   - Secret-scanning partner alerts signed like GitHub's (`secret-scanning.ts`).
 *   - Faults switchable at run time (`faults.ts`): latency, 5xx, secondary and primary rate limits, resets.
 *   - History shaped with real git (`git.ts`, `repository.ts`): commits of text, binary or large files,
 *     branches, force pushes, pruning; payloads for push, public, repository.publicized, installation.created,
 *     installation_repositories.added.
 */
export type { AuthResult, TokenGrant } from "./auth.js";
export type { DeliverOptions, DeliveryRecord, HookDelivery, HookDeliveryItem } from "./deliveries.js";
export { REDELIVERY_WINDOW_MS } from "./deliveries.js";
export type { ActiveFault, FaultKind, FaultRule } from "./faults.js";
export type { CommitSpec, FileContent, GitIdentity } from "./git.js";
export { DEFAULT_IDENTITY, EMPTY_TREE_SHA, GitError, runGit, ZERO_SHA } from "./git.js";
export type { Account, Installation } from "./model.js";
export type {
  FakeRepository,
  InstallationCreatedPayload,
  InstallationRepositoriesAddedPayload,
  PublicPayload,
  PushOptions,
  PushPayload,
  RepositoryPublicizedPayload,
} from "./repository.js";
export { PUSH_COMMITS_LIMIT } from "./repository.js";
export type { FakeLimits, SecretScanningKey } from "./rest.js";
export type { PartnerMatch, SecretScanningSigner } from "./secret-scanning.js";
export { createSecretScanningKey, postPartnerAlert } from "./secret-scanning.js";
export type { CreateRepoOptions, FakeGitHub, FakeGitHubOptions, RequestRecord } from "./server.js";
export { DEFAULT_LIMITS, startFakeGitHub } from "./server.js";
