/**
 * Batches fingerprint look-ups: respond jobs run concurrently and each asks for one fingerprint, so the asks
 * that arrive within a few milliseconds share one `findByFingerprints` query (one index probe each).
 */
import type { LeakedPatMatch } from "../issuer/index.js";

export interface FingerprintStore {
  findByFingerprints(fingerprints: string[]): Promise<LeakedPatMatch[]>;
}

interface Waiter {
  resolve(match: LeakedPatMatch | null): void;
  reject(error: unknown): void;
}

export class FingerprintLookup {
  private waiting = new Map<string, Waiter[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: FingerprintStore,
    private readonly options: { maxBatch: number; maxWaitMs: number } = { maxBatch: 500, maxWaitMs: 2 },
  ) {}

  find(fingerprint: string): Promise<LeakedPatMatch | null> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(fingerprint) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(fingerprint, list);
      if (this.waiting.size >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.waiting;
    this.waiting = new Map();
    if (batch.size === 0) return;
    this.store.findByFingerprints([...batch.keys()]).then(
      (matches) => {
        const byFingerprint = new Map(matches.map((m) => [m.fingerprint, m]));
        for (const [fp, waiters] of batch) for (const w of waiters) w.resolve(byFingerprint.get(fp) ?? null);
      },
      (error) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
      },
    );
  }
}
