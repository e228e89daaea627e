/**
 * Faults the fake GitHub injects, switchable while a test runs. Each rule matches requests by method and path
 * (the path without `/api/v3` and without the query, e.g. `/repos/o/r/compare/a...b` or `/o/r.git/info/refs`;
 * a string pattern is a glob where `*` matches anything, a RegExp is tested as is) and applies with a
 * probability, a number of times, or both.
 *
 *   gh.faults.add({ kind: "latency", ms: 200 });                                  // every request
 *   gh.faults.add({ kind: "error", status: 502, probability: 0.2 });              // 20% 5xx
 *   gh.faults.add({ kind: "secondary-rate-limit", status: 429, retryAfterSeconds: 1, times: 3,
 *                   path: /\/compare\// });
 *   gh.faults.add({ kind: "primary-rate-limit", resetInSeconds: 2 });             // 403 until the reset time
 *   const rule = gh.faults.add({ kind: "reset", times: 1 }); rule.remove();       // connection reset
 *   gh.faults.add({ kind: "mangle", path: /\/compare\//, mangle: (body) => body.slice(0, 10) }); // cut JSON
 *   gh.faults.clear();
 *
 * Latency adds up across matching rules; the first matching failure wins. Probabilities draw from a seeded
 * generator (`startFakeGitHub({ seed })`), so a run can be replayed.
 */

export type FaultKind =
  /** Wait before answering. */
  | { kind: "latency"; ms: number }
  /** Answer with a server error (default 500). */
  | { kind: "error"; status?: number }
  /**
   * GitHub's secondary rate limit: 403 (default) or 429, message "You have exceeded a secondary rate limit",
   * and `retry-after` (seconds; `null` leaves the header out, as GitHub sometimes does).
   */
  | { kind: "secondary-rate-limit"; status?: 403 | 429; retryAfterSeconds?: number | null }
  /**
   * GitHub's primary rate limit: 403 (default) or 429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`
   * at `resetInSeconds` from when the rule is added; once that time passes the rule stops matching.
   */
  | { kind: "primary-rate-limit"; resetInSeconds: number; status?: 403 | 429 }
  /** Destroy the connection without an answer. */
  | { kind: "reset" }
  /**
   * Answer as usual, then rewrite the body GitHub sends (status and headers kept): truncated JSON, fields
   * dropped or of the wrong type.
   */
  | { kind: "mangle"; mangle: (body: string) => string };

export type FaultRule = FaultKind & {
  method?: string;
  path?: string | RegExp;
  /** Chance that a matching request is affected (0..1); default 1. */
  probability?: number;
  /** Affect this many matching requests, then stop; default unlimited. */
  times?: number;
};

export interface ActiveFault {
  readonly rule: FaultRule;
  /** How many requests this rule has affected. */
  readonly hits: number;
  remove(): void;
}

/** What to do with one request. */
export interface FaultDecision {
  latencyMs: number;
  /** Rewrites the answer's body (a "mangle" rule matched). */
  mangle?: (body: string) => string;
  failure?:
    | { kind: "error"; status: number }
    | { kind: "secondary-rate-limit"; status: number; retryAfterSeconds: number | null }
    | { kind: "primary-rate-limit"; status: number; resetAt: number }
    | { kind: "reset" };
}

interface Entry {
  rule: FaultRule;
  matcher: (path: string) => boolean;
  remaining: number;
  hits: number;
  resetAt?: number;
}

export class Faults {
  private entries: Entry[] = [];
  private random: () => number;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  add(rule: FaultRule): ActiveFault {
    const entry: Entry = {
      rule,
      matcher: pathMatcher(rule.path),
      remaining: rule.times ?? Number.POSITIVE_INFINITY,
      hits: 0,
      resetAt: rule.kind === "primary-rate-limit" ? Date.now() + rule.resetInSeconds * 1000 : undefined,
    };
    this.entries.push(entry);
    return {
      rule,
      get hits() {
        return entry.hits;
      },
      remove: () => {
        this.entries = this.entries.filter((e) => e !== entry);
      },
    };
  }

  clear(): void {
    this.entries = [];
  }

  get active(): readonly FaultRule[] {
    return this.entries.map((e) => e.rule);
  }

  decide(method: string, path: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    const now = Date.now();
    for (const entry of this.entries) {
      const { rule } = entry;
      if (entry.remaining <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (!entry.matcher(path)) continue;
      if (entry.resetAt !== undefined && now >= entry.resetAt) continue;
      if (rule.kind !== "latency" && rule.kind !== "mangle" && decision.failure) continue;
      if (rule.kind === "mangle" && decision.mangle) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      entry.remaining--;
      entry.hits++;
      switch (rule.kind) {
        case "latency":
          decision.latencyMs += rule.ms;
          break;
        case "mangle":
          decision.mangle = rule.mangle;
          break;
        case "error":
          decision.failure = { kind: "error", status: rule.status ?? 500 };
          break;
        case "secondary-rate-limit":
          decision.failure = {
            kind: "secondary-rate-limit",
            status: rule.status ?? 403,
            retryAfterSeconds: rule.retryAfterSeconds === undefined ? 60 : rule.retryAfterSeconds,
          };
          break;
        case "primary-rate-limit":
          decision.failure = {
            kind: "primary-rate-limit",
            status: rule.status ?? 403,
            resetAt: entry.resetAt ?? now,
          };
          break;
        case "reset":
          decision.failure = { kind: "reset" };
          break;
      }
    }
    this.entries = this.entries.filter(
      (e) => e.remaining > 0 && (e.resetAt === undefined || now < e.resetAt),
    );
    return decision;
  }
}

function pathMatcher(pattern: string | RegExp | undefined): (path: string) => boolean {
  if (pattern === undefined) return () => true;
  if (pattern instanceof RegExp) return (path) => pattern.test(path);
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const regex = new RegExp(`^${source}$`);
  return (path) => regex.test(path);
}

/** A small seeded PRNG, so "20% errors" is the same 20% on every run with the same seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
