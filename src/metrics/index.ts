/**
 * patrol's Prometheus metrics, one registry for the process. Web and workers count into it; `/metrics` serves
 * it (in `patrol worker` processes too). Labels are small fixed sets: never a repository, user or token.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "patrol_process_" });

export const webhooksReceived = new Counter({
  name: "patrol_webhooks_total",
  help: "GitHub webhook deliveries by event and outcome (queued, ignored, duplicate, rejected, unavailable)",
  labelNames: ["event", "outcome"] as const,
  registers: [registry],
});

export const webhookRedeliveries = new Counter({
  name: "patrol_webhook_redeliveries_total",
  help: "Failed webhook deliveries patrol asked GitHub to redeliver, by result (requested, refused)",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const partnerMatches = new Counter({
  name: "patrol_partner_matches_total",
  help: "Token matches in GitHub secret-scanning partner alerts, by the label answered (true_positive, false_positive)",
  labelNames: ["label"] as const,
  registers: [registry],
});

export const partnerAlertsRefused = new Counter({
  name: "patrol_partner_alerts_refused_total",
  help: "Secret-scanning partner alerts not acted on, by reason (headers, key-identifier, empty, unknown-key, signature, json, shape, content-type, too-large, keys-unavailable, store-unavailable, queue-unavailable)",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const rateLimitDelays = new Counter({
  name: "patrol_rate_limit_delays_total",
  help: "Jobs moved to delayed until GitHub's rate limit lets them call again, by queue and limit (primary, secondary)",
  labelNames: ["queue", "limit"] as const,
  registers: [registry],
});

export const jobsByState = new Gauge({
  name: "patrol_queue_jobs",
  help: "Jobs in each queue by state (read from Redis when scraped)",
  labelNames: ["queue", "state"] as const,
  registers: [registry],
});

export const jobsProcessed = new Counter({
  name: "patrol_jobs_processed_total",
  help: "Jobs finished by this process, by queue and result (completed, failed, retrying)",
  labelNames: ["queue", "result"] as const,
  registers: [registry],
});

export const bytesScanned = new Counter({
  name: "patrol_scan_bytes_total",
  help: "Bytes of diff and blob content run through the detector",
  registers: [registry],
});

export const filesSkipped = new Counter({
  name: "patrol_scan_files_skipped_total",
  help: "Files not scanned, by reason (too-large)",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const findings = new Counter({
  name: "patrol_findings_total",
  help: "Token findings reported by the detector, by format",
  labelNames: ["format"] as const,
  registers: [registry],
});

export const storeLookups = new Counter({
  name: "patrol_store_lookups_total",
  help: "Findings looked up in the issuing store, by result (match, none)",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const revocations = new Counter({
  name: "patrol_revocations_total",
  help: "Leak outcomes by action (revoked, notRevokedPolicyOff, notRevokedExempt, alreadyInactive)",
  labelNames: ["action"] as const,
  registers: [registry],
});

export const mails = new Counter({
  name: "patrol_mails_total",
  help: "Owner notifications by result (sent, failed)",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const pushToRevokedSeconds = new Histogram({
  name: "patrol_push_to_revoked_seconds",
  help: "From the webhook's arrival to the token's revocation",
  buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300],
  registers: [registry],
});
