/**
 * Recovering webhook deliveries that patrol answered with an error (Redis was down, the process was away):
 * as the GitHub App, list the app's recent deliveries newest first, and for each GUID that failed and was not
 * delivered successfully since, ask GitHub to redeliver it — once per GUID (again only if that redelivery found
 * patrol unavailable too, see MAX_REDELIVERIES_PER_GUID), within GitHub's 3-day window.
 * What was examined is remembered (`RedeliveryState`), so each run reads only what arrived since the last one.
 */
import type { Logger } from "pino";
import type { GitHubClient } from "./push-diff.js";

/** GitHub refuses to redeliver deliveries older than this. */
export const REDELIVERY_WINDOW_MS = 3 * 24 * 3600 * 1000;
/**
 * Each run re-reads this much before the newest delivery the last run saw: a delivery GitHub lists late (it
 * waits up to 10 s for an answer) is still examined. Claims keep the overlap from redelivering anything twice.
 */
export const REDELIVERY_OVERLAP_MS = 5 * 60 * 1000;
const PER_PAGE = 100;

/** Where a run leaves off, and which GUIDs were redelivered (shared by every replica: Redis). */
export interface RedeliveryState {
  /** `delivered_at` (ms) of the newest delivery an earlier complete run examined; null before the first run. */
  since(): Promise<number | null>;
  setSince(deliveredAt: number): Promise<void>;
  /** Claims a GUID for its one redelivery; false when it was claimed before. */
  claim(guid: string, now: number): Promise<boolean>;
  /** Gives a claim back when the request to redeliver did not go through (the next run tries again). */
  release(guid: string): Promise<void>;
  /** Forgets claims made before `before` (their deliveries are past GitHub's window by then). */
  prune(before: number): Promise<void>;
}

export interface RedeliveryRun {
  /** Deliveries listed and examined (newer than where the last run left off, within the window). */
  examined: number;
  /** GUIDs whose deliveries all failed. */
  failed: number;
  /** Redeliveries GitHub accepted. */
  redelivered: number;
  /** Failed GUIDs redelivered by an earlier run (not asked again). */
  alreadyRedelivered: number;
  /** Redeliveries GitHub refused (e.g. past the window): not asked again. */
  refused: number;
  /** Where the next run starts (ms), or null when nothing was ever listed. */
  since: number | null;
}

interface DeliveryItem {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery?: boolean;
  status_code: number;
  event: string;
}

/**
 * A GUID is asked for once; but when that redelivery failed because patrol was unavailable again (5xx, or no
 * answer: Redis went away twice), it is asked for again, up to this many times in all. A redelivery refused
 * otherwise (4xx) is not asked for again.
 */
export const MAX_REDELIVERIES_PER_GUID = 4;

const succeeded = (item: DeliveryItem) => item.status_code >= 200 && item.status_code < 300;
/** patrol was away (5xx, timed out, no connection): another try may succeed. */
const unavailable = (item: DeliveryItem) => item.status_code === 0 || item.status_code >= 500;

/** One run over `GET /app/hook/deliveries` (cursor paging, newest first). `gh` is authenticated as the app (JWT). */
export async function redeliverFailedDeliveries(
  gh: GitHubClient,
  state: RedeliveryState,
  options: { now?: number; logger?: Logger; onRedelivered?: (result: "requested" | "refused") => void } = {},
): Promise<RedeliveryRun> {
  const now = options.now ?? Date.now();
  const since = await state.since();
  const windowStart = now - REDELIVERY_WINDOW_MS;
  const from = since === null ? windowStart : Math.max(windowStart, since - REDELIVERY_OVERLAP_MS);
  let newest = since;
  let examined = 0;
  // Per GUID: delivered successfully at least once, or the newest failed delivery to redeliver.
  const successes = new Set<string>();
  const failures = new Map<string, DeliveryItem>();
  // Per GUID: how many of its redeliveries failed (within what this run reads).
  const failedRedeliveries = new Map<string, number>();
  let cursor: string | undefined;
  pages: do {
    const page = await gh.request("GET /app/hook/deliveries", {
      per_page: PER_PAGE,
      ...(cursor ? { cursor } : {}),
    });
    for (const item of page.data as DeliveryItem[]) {
      const at = Date.parse(item.delivered_at);
      // Newest first: the first delivery before the start ends the run's reading.
      if (!Number.isFinite(at) || at < from) break pages;
      examined++;
      newest = Math.max(newest ?? at, at);
      if (succeeded(item)) successes.add(item.guid);
      else {
        if (!failures.has(item.guid)) failures.set(item.guid, item);
        if (item.redelivery) failedRedeliveries.set(item.guid, (failedRedeliveries.get(item.guid) ?? 0) + 1);
      }
    }
    cursor = nextCursor(page.headers.link);
  } while (cursor);

  const toRedeliver = [...failures.values()].filter((item) => !successes.has(item.guid)).reverse();
  const run: RedeliveryRun = {
    examined,
    failed: toRedeliver.length,
    redelivered: 0,
    alreadyRedelivered: 0,
    refused: 0,
    since: newest,
  };
  // Oldest first, so pushes are recovered in the order they happened.
  for (const item of toRedeliver) {
    // The first ask claims the GUID; a further one, after a redelivery patrol could not take, claims `guid#n`.
    const failedBefore = failedRedeliveries.get(item.guid) ?? 0;
    const again = failedBefore > 0 && unavailable(item) && failedBefore < MAX_REDELIVERIES_PER_GUID;
    if (failedBefore > 0 && !again) {
      run.alreadyRedelivered++;
      continue;
    }
    const claim = again ? `${item.guid}#${failedBefore}` : item.guid;
    if (!(await state.claim(claim, now))) {
      run.alreadyRedelivered++;
      continue;
    }
    try {
      await gh.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: item.id });
      run.redelivered++;
      options.onRedelivered?.("requested");
      options.logger?.info(
        { delivery: item.guid, event: item.event },
        "asked GitHub to redeliver a failed webhook",
      );
    } catch (error) {
      const status = (error as { status?: number }).status;
      // 404/422: GitHub will never redeliver it (gone, or past the window); the claim stays so no run asks again.
      if (status === 404 || status === 422) {
        run.refused++;
        options.onRedelivered?.("refused");
        options.logger?.warn(
          { delivery: item.guid, event: item.event, status, reason: (error as Error).message },
          "GitHub refused to redeliver a failed webhook",
        );
        continue;
      }
      await state.release(claim);
      throw error;
    }
  }
  if (newest !== null && newest !== since) await state.setSince(newest);
  await state.prune(now - REDELIVERY_WINDOW_MS - REDELIVERY_OVERLAP_MS);
  return run;
}

/** The `cursor` of the `rel="next"` link GitHub pages deliveries with, if there is a next page. */
export function nextCursor(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (!match) continue;
    try {
      return new URL(match[1]).searchParams.get("cursor") ?? undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
