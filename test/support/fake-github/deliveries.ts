/**
 * The fake GitHub App's webhook: it delivers events exactly as GitHub does (see `../webhooks.ts`), keeps a
 * record of every delivery and its outcome, and redelivers on request — what `GET /app/hook/deliveries` and
 * `POST /app/hook/deliveries/{id}/attempts` serve.
 *
 * A record's `status` is "OK" for a 2xx answer, "Invalid HTTP Response: <code>" for other answers, and
 * "timed out" / "failed to connect to host" (status_code 0) when there was none — GitHub's wording for the same
 * outcomes. A redelivery re-sends the same body with the same X-GitHub-Delivery guid and is recorded as a new
 * delivery with `redelivery: true`. GitHub refuses redelivering deliveries older than 3 days; so does the fake
 * (pass `deliveredAt` to backdate a delivery).
 */
import type { components } from "@octokit/openapi-types";
import { postWebhook } from "../webhooks.js";

export type HookDeliveryItem = components["schemas"]["hook-delivery-item"];
export type HookDelivery = components["schemas"]["hook-delivery"];

export const REDELIVERY_WINDOW_MS = 3 * 24 * 3600 * 1000;

export interface DeliverOptions {
  url: string;
  event: string;
  /** An object (sent as JSON) or a raw body. */
  payload: unknown;
  /** The webhook secret; null: an unsigned hook. */
  secret: string | null;
  /** Reuse a guid (as GitHub's redelivery does); default: a fresh one. */
  deliveryId?: string;
  /** Record the delivery as made at this time (the request is still sent now). */
  deliveredAt?: Date;
  /** Default 10 s, GitHub's timeout. */
  timeoutMs?: number;
}

export interface DeliveryRecord {
  id: number;
  guid: string;
  deliveredAt: Date;
  redelivery: boolean;
  /** Seconds, as GitHub reports it. */
  duration: number;
  status: string;
  statusCode: number;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
  url: string;
  /** Kept so a redelivery can re-send exactly the same request. */
  secret: string | null;
  body: Buffer;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  responseBody: string;
}

export class HookDeliveries {
  private readonly records: DeliveryRecord[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 81_000_000_001;

  constructor(
    readonly hookId: number,
    readonly appId: number,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Every delivery, oldest first. */
  get all(): readonly DeliveryRecord[] {
    return this.records;
  }

  get(id: number): DeliveryRecord | undefined {
    return this.records.find((r) => r.id === id);
  }

  deliver(options: DeliverOptions): Promise<DeliveryRecord> {
    return this.track(this.send(options, false));
  }

  /** Re-sends a recorded delivery (same body, same guid); resolves once it is recorded. */
  redeliver(id: number): Promise<DeliveryRecord> {
    const original = this.get(id);
    if (!original) return Promise.reject(new Error(`no delivery ${id}`));
    return this.track(
      this.send(
        {
          url: original.url,
          event: original.event,
          payload: original.body,
          secret: original.secret,
          deliveryId: original.guid,
        },
        true,
      ),
    );
  }

  /** Waits for every delivery and redelivery under way. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    promise.then(
      () => this.inFlight.delete(promise),
      () => this.inFlight.delete(promise),
    );
    return promise;
  }

  private async send(options: DeliverOptions, redelivery: boolean): Promise<DeliveryRecord> {
    const deliveredAt = options.deliveredAt ?? new Date();
    const response = await postWebhook({
      url: options.url,
      event: options.event,
      payload: options.payload,
      secret: options.secret,
      deliveryId: options.deliveryId,
      hookId: this.hookId,
      targetId: this.appId,
      targetType: "integration",
      timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs,
    });
    const parsed = parseJson(response.request.body);
    const record: DeliveryRecord = {
      id: this.nextId++,
      guid: response.deliveryId,
      deliveredAt,
      redelivery,
      duration: Math.round(response.durationMs) / 1000,
      status:
        response.status === 0
          ? response.error === "timed out"
            ? "timed out"
            : "failed to connect to host"
          : response.status >= 200 && response.status < 300
            ? "OK"
            : `Invalid HTTP Response: ${response.status}`,
      statusCode: response.status,
      event: options.event,
      action: typeof parsed?.action === "string" ? parsed.action : null,
      installationId: numberAt(parsed, "installation"),
      repositoryId: numberAt(parsed, "repository"),
      url: options.url,
      secret: options.secret,
      body: response.request.body,
      requestHeaders: response.request.headers,
      responseHeaders: response.headers,
      responseBody: response.body,
    };
    this.records.push(record);
    return record;
  }
}

export function deliveryItemJson(record: DeliveryRecord): HookDeliveryItem {
  return {
    id: record.id,
    guid: record.guid,
    delivered_at: record.deliveredAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    redelivery: record.redelivery,
    duration: record.duration,
    status: record.status,
    status_code: record.statusCode,
    event: record.event,
    action: record.action,
    installation_id: record.installationId,
    repository_id: record.repositoryId,
    throttled_at: null,
  };
}

export function deliveryJson(record: DeliveryRecord): HookDelivery {
  return {
    ...deliveryItemJson(record),
    url: record.url,
    request: {
      headers: record.requestHeaders,
      payload: parseJson(record.body) ?? null,
    },
    response: { headers: record.responseHeaders, payload: record.responseBody },
  };
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body.toString("utf8"));
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

function numberAt(payload: Record<string, unknown> | undefined, key: string): number | null {
  const value = payload?.[key];
  if (value && typeof value === "object" && typeof (value as { id?: unknown }).id === "number") {
    return (value as { id: number }).id;
  }
  return null;
}
