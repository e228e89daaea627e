/** Reading GitHub's rate limits and delivery pages from what its answers carry. */
import { describe, expect, it } from "vitest";
import { nextCursor, rateLimitWait } from "../../src/github/index.js";

const failure = (status: number, message: string, headers: Record<string, string>) =>
  Object.assign(new Error(message), { status, response: { headers } });

describe("rateLimitWait", () => {
  const now = 1_800_000_000_000;

  it("waits for a primary limit until x-ratelimit-reset, on 403 and 429", () => {
    for (const status of [403, 429]) {
      const error = failure(status, "API rate limit exceeded for installation.", {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(now / 1000 + 120),
      });
      expect(rateLimitWait(error, now)).toEqual({ kind: "primary", until: now + 120_000 });
    }
  });

  it("waits for a secondary limit for its retry-after, else GitHub's minute", () => {
    const message =
      "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
    expect(rateLimitWait(failure(403, message, { "retry-after": "7" }), now)).toEqual({
      kind: "secondary",
      until: now + 7000,
    });
    expect(rateLimitWait(failure(429, message, {}), now)).toEqual({ kind: "secondary", until: now + 60_000 });
  });

  it("is not a wait for other answers", () => {
    expect(rateLimitWait(failure(403, "Resource not accessible by integration", {}), now)).toBeNull();
    expect(
      rateLimitWait(
        failure(403, "forbidden", { "x-ratelimit-remaining": "12", "x-ratelimit-reset": "1" }),
        now,
      ),
    ).toBeNull();
    expect(
      rateLimitWait(failure(500, "API rate limit exceeded", { "x-ratelimit-remaining": "0" }), now),
    ).toBeNull();
    expect(rateLimitWait(failure(403, "limit", { "x-ratelimit-remaining": "0" }), now)).toBeNull();
    expect(rateLimitWait(new Error("socket hang up"), now)).toBeNull();
    expect(rateLimitWait(null, now)).toBeNull();
  });
});

describe("nextCursor", () => {
  it("reads the cursor of the next page from GitHub's link header", () => {
    const base = "https://api.github.com/app/hook/deliveries";
    expect(
      nextCursor(
        `<${base}?per_page=100&cursor=v1_81000000123>; rel="next", <${base}?per_page=100>; rel="first"`,
      ),
    ).toBe("v1_81000000123");
    expect(nextCursor(`<${base}?per_page=100>; rel="first"`)).toBeUndefined();
    expect(nextCursor(undefined)).toBeUndefined();
    expect(nextCursor(`<not a url>; rel="next"`)).toBeUndefined();
  });
});
