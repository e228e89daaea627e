/**
 * GitHub's rate limits, as an error carries them. Primary: 403 or 429 with `x-ratelimit-remaining: 0` and
 * `x-ratelimit-reset` (epoch seconds). Secondary: 403 or 429 saying "secondary rate limit", with `retry-after`
 * (seconds) or, when GitHub leaves it out, at least a minute. patrol's Octokit does not sleep through either
 * in-process (a primary wait can last an hour and would hold a worker slot): the job that met the limit moves
 * itself to delayed until it may call again.
 */

interface ErrorWithResponse {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

export interface RateLimitWait {
  kind: "primary" | "secondary";
  /** When GitHub may be called again (ms since the epoch). */
  until: number;
}

/** GitHub's advice when a secondary limit comes without `retry-after`. */
const SECONDARY_FALLBACK_MS = 60_000;

/** The wait `error` asks for, or null when it is not a rate limit. */
export function rateLimitWait(error: unknown, now = Date.now()): RateLimitWait | null {
  const e = error as ErrorWithResponse | null;
  if (!e || (e.status !== 403 && e.status !== 429)) return null;
  const headers = e.response?.headers ?? {};
  if (/\bsecondary rate\b/i.test(e.message ?? "")) {
    const retryAfter = Number(headers["retry-after"]);
    const ms = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : SECONDARY_FALLBACK_MS;
    return { kind: "secondary", until: now + ms };
  }
  if (String(headers["x-ratelimit-remaining"]) !== "0") return null;
  const reset = Number(headers["x-ratelimit-reset"]);
  return Number.isFinite(reset) && reset > 0 ? { kind: "primary", until: reset * 1000 } : null;
}
