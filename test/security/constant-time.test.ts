/**
 * Credential checks run in constant time: the admin API key (issuer API) and the dashboard's admin and viewer
 * keys are compared with `crypto.timingSafeEqual` over SHA-256 digests, so neither a guess's content nor its
 * length shows in the timing, and both dashboard keys are always checked. (Timing itself is too noisy to
 * assert on a shared machine; what is asserted is that every check goes through the constant-time compare,
 * on equal-length digests, whatever the guess.) PATs are not compared at all: their SHA-256 is looked up.
 */
import * as crypto from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("node:crypto", async (original) => {
  const actual = await original<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const { adminKeyMatches } = await import("../../src/issuer/callers.js");
const { DashboardKeys } = await import("../../src/web/dashboard-auth.js");
const compare = vi.mocked(crypto.timingSafeEqual);

const ADMIN = "admin-key-0123456789abcdef-0123456789";
const VIEWER = "viewer-key-0123456789abcdef-012345678";
const GUESSES = [
  "",
  "a",
  ADMIN.slice(0, -1),
  `${ADMIN.slice(0, -1)}x`,
  `${ADMIN}x`,
  "x".repeat(10_000),
  ADMIN,
];

beforeEach(() => {
  compare.mockClear();
});

/** Every compare made so far took two 32-byte digests. */
function expectDigestCompares(count: number): void {
  expect(compare).toHaveBeenCalledTimes(count);
  for (const [a, b] of compare.mock.calls) {
    expect((a as Buffer).length).toBe(32);
    expect((b as Buffer).length).toBe(32);
  }
}

describe("constant-time credential checks", () => {
  it("the admin API key: one digest compare per check, whatever the guess's length; only the key matches", () => {
    const results = GUESSES.map((guess) => adminKeyMatches(guess, ADMIN));
    expect(results).toEqual([false, false, false, false, false, false, true]);
    expectDigestCompares(GUESSES.length);
  });

  it("the dashboard keys: both keys compared on every check, even when the first matches", () => {
    const keys = new DashboardKeys(ADMIN, VIEWER);
    const roles = [...GUESSES, VIEWER].map((guess) => keys.roleOf(guess));
    expect(roles).toEqual([...GUESSES.map((g) => (g === ADMIN ? "admin" : undefined)), "viewer"]);
    expectDigestCompares(2 * (GUESSES.length + 1));
  });
});
