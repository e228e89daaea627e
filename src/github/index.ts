/**
 * GitHub intake: webhooks in (Probot), and reading what a push added through the REST API. Knows nothing of
 * token formats or the store: it hands the detector bytes and the queue references.
 */
export {
  createGitHubApp,
  type Intake,
  IntakeUnavailableError,
  patrolApp,
  type WebhookOutcome,
} from "./app.js";
export {
  CloneError,
  CloneTooLargeError,
  cloneForHistory,
  directorySize,
  type HistoryClone,
} from "./history-clone.js";
export {
  AppNotInstalledError,
  type HistoryReference,
  type HistoryRepository,
  type HistoryTrigger,
  historyReferencesFromPayload,
  manualHistoryReference,
} from "./history-reference.js";
export { type ChangedFile, type GitHubClient, GitHubResponseError } from "./push-diff.js";
export {
  PayloadError,
  type PushReference,
  pushReferenceFromPayload,
  type RepositoryRef,
  ZERO_SHA,
} from "./push-reference.js";
export { type RateLimitWait, rateLimitWait } from "./rate-limit.js";
export {
  MAX_REDELIVERIES_PER_GUID,
  nextCursor,
  REDELIVERY_OVERLAP_MS,
  REDELIVERY_WINDOW_MS,
  type RedeliveryRun,
  type RedeliveryState,
  redeliverFailedDeliveries,
} from "./redeliver-failed.js";
export {
  type LocatedFinding,
  type PushScanResult,
  permalink,
  type SkippedFile,
  scanPush,
} from "./scan-push.js";
export {
  alertLocation,
  type PartnerAnswer,
  SECRET_SCANNING_PATH,
  SecretScanningKeys,
  type SecretScanningRouteOptions,
  SigningKeysUnavailableError,
  secretScanningRoutes,
} from "./secret-scanning.js";
export { githubWebhookRoutes, WEBHOOK_PATH, type WebhookRouteOptions } from "./webhook-route.js";
