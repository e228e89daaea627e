/**
 * The redelivery run's choice of what to ask for again, over GitHub's listing (a stub of GitHub's two endpoints:
 * only github.com is mocked). Found by `npm run chaos`: Redis went away twice in a row, the redelivery after the
 * first outage hit the second, and with "once per GUID" that push was never scanned.
 */
import { describe, expect, it } from "vitest";
import {
  type GitHubClient,
  MAX_REDELIVERIES_PER_GUID,
  type RedeliveryState,
  redeliverFailedDeliveries,
} from "../../src/github/index.js";

interface Item {
  id: number;
  guid: string;
  status_code: number;
  redelivery: boolean;
  delivered_at: string;
  event: string;
}

function gitHub(items: Item[]) {
  const asked: number[] = [];
  const client = {
    async request(route: string, params: { delivery_id?: number }) {
      if (route === "GET /app/hook/deliveries")
        return { data: [...items].reverse(), headers: {}, status: 200, url: "" };
      asked.push(params.delivery_id!);
      return { data: {}, headers: {}, status: 202, url: "" };
    },
  } as unknown as GitHubClient;
  return { client, asked };
}

function memoryState(): RedeliveryState {
  const claims = new Set<string>();
  let since: number | null = null;
  return {
    since: async () => since,
    setSince: async (at) => {
      since = at;
    },
    claim: async (key) => !claims.has(key) && Boolean(claims.add(key)),
    release: async (key) => {
      claims.delete(key);
    },
    prune: async () => {},
  };
}

const now = Date.now();
let nextId = 1;
const delivery = (guid: string, status: number, redelivery: boolean): Item => ({
  id: nextId++,
  guid,
  status_code: status,
  redelivery,
  delivered_at: new Date(now - 60_000 + nextId * 1000).toISOString(),
  event: "push",
});

describe("redeliverFailedDeliveries", () => {
  it("asks again for a GUID whose redelivery found patrol unavailable too, up to a limit", async () => {
    const state = memoryState();
    const items = [delivery("g", 503, false)];
    for (let n = 1; n <= MAX_REDELIVERIES_PER_GUID + 1; n++) {
      const { client, asked } = gitHub(items);
      const run = await redeliverFailedDeliveries(client, state, { now });
      if (n <= MAX_REDELIVERIES_PER_GUID) {
        expect(run.redelivered).toBe(1);
        expect(asked).toEqual([items.at(-1)!.id]);
      } else {
        expect(run).toMatchObject({ redelivered: 0, alreadyRedelivered: 1 });
      }
      // GitHub's redelivery of it: patrol still unavailable.
      items.push(delivery("g", 503, true));
    }
  });

  it("asks once only when the redelivery was refused for another reason (4xx), or succeeded", async () => {
    const state = memoryState();
    const items = [delivery("a", 503, false), delivery("b", 503, false)];
    const first = gitHub(items);
    expect((await redeliverFailedDeliveries(first.client, state, { now })).redelivered).toBe(2);
    items.push(delivery("a", 404, true), delivery("b", 202, true));
    const second = gitHub(items);
    const run = await redeliverFailedDeliveries(second.client, state, { now });
    expect(run).toMatchObject({ redelivered: 0, alreadyRedelivered: 1 });
    expect(second.asked).toEqual([]);
  });
});
