/**
 * The failed-authentication throttle on its own, with a clock the test moves: the limit, Retry-After, and
 * what the HTTP test over a real socket cannot wait for — the window ending, and memory staying bounded.
 */
import { describe, expect, it } from "vitest";
import { FailedAttemptThrottle } from "../../src/issuer/throttle.js";

function throttle(limit: number, windowSeconds: number) {
  let now = 1_000_000;
  const t = new FailedAttemptThrottle(limit, windowSeconds, () => now);
  return { t, advance: (ms: number) => (now += ms) };
}

describe("FailedAttemptThrottle", () => {
  it("blocks a client at the limit, not before, and says how long to wait", () => {
    const { t, advance } = throttle(3, 60);
    expect(t.retryAfterSeconds("a")).toBe(0);
    t.recordFailure("a");
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(0);
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(60);
    advance(10_500);
    expect(t.retryAfterSeconds("a")).toBe(50); // 49.5 s left, rounded up
    advance(49_000);
    expect(t.retryAfterSeconds("a")).toBe(1);
  });

  it("lets the client in again exactly when the window ends, with a fresh count", () => {
    const { t, advance } = throttle(2, 30);
    t.recordFailure("a");
    advance(5_000);
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(25);
    advance(24_999); // the window started at the first failure: 1 ms left
    expect(t.retryAfterSeconds("a")).toBe(1);
    advance(1);
    expect(t.retryAfterSeconds("a")).toBe(0);
    // The old failures are gone: one new failure does not block again, the limit's worth does.
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(0);
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(30);
  });

  it("a failure after the window ended starts a new window instead of extending the old one", () => {
    const { t, advance } = throttle(2, 10);
    t.recordFailure("a");
    advance(10_000);
    t.recordFailure("a"); // the first window is over: this one counts alone
    expect(t.retryAfterSeconds("a")).toBe(0);
    advance(9_000);
    t.recordFailure("a");
    expect(t.retryAfterSeconds("a")).toBe(1);
  });

  it("counts each client on its own", () => {
    const { t } = throttle(1, 60);
    t.recordFailure("10.0.0.1");
    expect(t.retryAfterSeconds("10.0.0.1")).toBe(60);
    expect(t.retryAfterSeconds("10.0.0.2")).toBe(0);
  });

  it("under a flood of distinct clients, drops ended windows and keeps the live ones", () => {
    const { t, advance } = throttle(1, 60);
    t.recordFailure("early");
    advance(61_000);
    t.recordFailure("live");
    advance(30_000);
    for (let i = 0; i < 10_000; i++) t.recordFailure(`flood-${i}`);
    // "live" is still blocked, 30 s into its window: pruning only removed windows that had ended.
    expect(t.retryAfterSeconds("live")).toBe(30);
    expect(t.retryAfterSeconds("flood-0")).toBe(60);
    expect(t.retryAfterSeconds("flood-9999")).toBe(60);
    // "early" ended long ago and was pruned; it starts clean.
    expect(t.retryAfterSeconds("early")).toBe(0);
  });

  it("keeps at most 10,000 windows: the next new client prunes those that have ended, and only then", () => {
    const { t, advance } = throttle(1, 60);
    t.recordFailure("early");
    advance(60_000);
    // Below the bound an ended window is kept (it goes when its client is next seen).
    t.recordFailure("second");
    expect(t.trackedClients).toBe(2);
    for (let i = 0; i < 9_998; i++) t.recordFailure(`flood-${i}`);
    expect(t.trackedClients).toBe(10_000);
    // "early" ended exactly now (60 s ago) and goes; the 9,999 live windows stay, with the new client's.
    t.recordFailure("one-more");
    expect(t.trackedClients).toBe(10_000);
    expect(t.retryAfterSeconds("second")).toBe(60);
    advance(60_000);
    // Now every window has ended: the next new client leaves only itself.
    t.recordFailure("last");
    expect(t.trackedClients).toBe(1);
    expect(t.retryAfterSeconds("last")).toBe(60);
  });
});
