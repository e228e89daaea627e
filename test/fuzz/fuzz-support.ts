/**
 * What the property tests share: a run count kept moderate so each file stays a few seconds (FUZZ_RUNS raises
 * it for a long hunt), fast-check's seed and path printed on failure (`fc.assert` does; FUZZ_SEED replays one),
 * and a guard that fails the file's tests when anything in the process leaves a promise rejection unhandled.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, expect } from "vitest";

export function fuzzParameters<T>(runs: number): fc.Parameters<T> {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return {
    numRuns: process.env.FUZZ_RUNS === undefined ? runs : Number(process.env.FUZZ_RUNS),
    ...(seed === undefined ? {} : { seed }),
    // The seed and counterexample path are in fast-check's failure message; say how to replay them.
    reporter: (details) => {
      if (details.failed)
        throw new Error(
          `${fc.defaultReportMessage(details)}\n${String(details.errorInstance).slice(0, 2000)}\n` +
            `replay: FUZZ_SEED=${details.seed} npx vitest run <this file>`,
        );
    },
  };
}

/** Fails the current test when the process saw an unhandled rejection while it ran. */
export function failOnUnhandledRejections(): void {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => {
    seen.push(reason);
  };
  beforeAll(() => {
    process.on("unhandledRejection", onRejection);
  });
  afterAll(() => {
    process.off("unhandledRejection", onRejection);
  });
  afterEach(async () => {
    // A rejection is reported on a later turn of the event loop: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const found = seen.splice(0).map((r) => (r instanceof Error ? (r.stack ?? r.message) : String(r)));
    expect(found, "unhandled promise rejections").toEqual([]);
  });
}

/** JSON values of every type, nested a little: what a body could be instead of what a route expects. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/** Takes a real object and breaks it one way: drops a field, changes its type, or nests garbage. */
export function mangled(original: Record<string, unknown>): fc.Arbitrary<unknown> {
  const paths = leafPaths(original);
  const garbage = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.string({ maxLength: 20 }),
    fc.array(anyJson, { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), anyJson, { maxKeys: 3 }),
  );
  return fc
    .array(fc.tuple(fc.constantFrom(...paths), garbage), { minLength: 1, maxLength: 3 })
    .map((edits) => {
      const copy = structuredClone(original);
      for (const [path, value] of edits) setAt(copy, path, value);
      return copy;
    });
}

function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  const own = prefix.length > 0 ? [prefix] : [];
  return [...own, ...entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]))];
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (next === null || typeof next !== "object") return;
    at = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last === undefined) return;
  if (value === undefined) delete at[last];
  else at[last] = value;
}
