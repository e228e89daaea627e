/**
 * Counts failed authentication attempts per client (IP address) in fixed windows and says when a client is over
 * the limit. In-process: each patrol web process keeps its own counts, so with N processes behind a load
 * balancer a client gets up to N times the limit. That still stops brute force (a PAT has >300 bits of entropy,
 * so the limit is about load and noise, not guessing); a shared limit would need Redis.
 */
export class FailedAttemptThrottle {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Clients with a window held in memory (ended windows stay until the client is seen again or pruned). */
  get trackedClients(): number {
    return this.windows.size;
  }

  /** Seconds until the client may try again, or 0 when it is not blocked. */
  retryAfterSeconds(client: string): number {
    const window = this.current(client);
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.start + this.windowSeconds * 1000 - this.now()) / 1000));
  }

  recordFailure(client: string): void {
    const window = this.current(client);
    if (window) window.failures++;
    else {
      // Keep memory bounded under a flood of distinct clients: drop the windows that have ended.
      if (this.windows.size >= 10_000) this.pruneEnded();
      this.windows.set(client, { start: this.now(), failures: 1 });
    }
  }

  private current(client: string) {
    const window = this.windows.get(client);
    if (window && this.now() - window.start >= this.windowSeconds * 1000) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }

  private pruneEnded(): void {
    const cutoff = this.now() - this.windowSeconds * 1000;
    for (const [client, window] of this.windows) if (window.start <= cutoff) this.windows.delete(client);
  }
}
