/**
 * Webhooks signed and sent exactly as GitHub sends them, for tests and the load generator; the fake GitHub's
 * deliveries go through here too, and it works without the fake.
 *
 *   signWebhook(body, secret)            → "sha256=<hex HMAC-SHA256 of the raw body>" (X-Hub-Signature-256)
 *   webhookRequest({event, payload, secret, ...}) → {body, headers}: the exact bytes and headers GitHub sends
 *   postWebhook({url, event, payload, secret, ...}) → {status, body, durationMs, deliveryId, ...}
 *
 * Headers: X-GitHub-Event, X-GitHub-Delivery (a GUID; pass `deliveryId` to repeat one, as a redelivery does),
 * X-GitHub-Hook-ID, X-GitHub-Hook-Installation-Target-ID/-Type, User-Agent `GitHub-Hookshot/<hex>`,
 * X-Hub-Signature (sha1, still sent by GitHub) and X-Hub-Signature-256, content-type application/json.
 * A `payload` given as a string or Buffer is sent as is (to test malformed bodies); objects become compact JSON.
 * `postWebhook` never throws for the receiver's sake: a connection failure or timeout gives `status: 0`
 * and `error`.
 */
import { createHmac, randomUUID } from "node:crypto";

export interface WebhookRequestOptions {
  event: string;
  /** An object (sent as compact JSON) or the raw body. */
  payload: unknown;
  /** The webhook secret; `null` sends no signature headers (a hook without a secret). */
  secret: string | null;
  /** X-GitHub-Delivery; a fresh GUID when omitted. */
  deliveryId?: string;
  hookId?: number;
  /** X-GitHub-Hook-Installation-Target-ID: the app id for a GitHub App's hook. */
  targetId?: number;
  /** X-GitHub-Hook-Installation-Target-Type: "integration" for a GitHub App's hook. */
  targetType?: string;
  /** Extra or overriding headers (lower-case names), e.g. to send a wrong content type. */
  headers?: Record<string, string>;
}

export interface WebhookRequest {
  body: Buffer;
  headers: Record<string, string>;
  deliveryId: string;
}

export interface PostWebhookOptions extends WebhookRequestOptions {
  url: string;
  /** GitHub gives up after 10 s. */
  timeoutMs?: number;
}

export interface WebhookResponse {
  /** The HTTP status, or 0 when no response came (connection refused, timeout). */
  status: number;
  body: string;
  headers: Record<string, string>;
  durationMs: number;
  deliveryId: string;
  /** Why no response came (status 0). */
  error?: string;
  /** What was sent. */
  request: WebhookRequest;
}

/** `sha256=` + hex HMAC-SHA256 of the raw body: GitHub's X-Hub-Signature-256. */
export function signWebhook(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

const HOOKSHOT_VERSION = "7c5ea3b";
export const DEFAULT_HOOK_ID = 512_000_001;

export function webhookRequest(options: WebhookRequestOptions): WebhookRequest {
  const body = Buffer.isBuffer(options.payload)
    ? options.payload
    : Buffer.from(typeof options.payload === "string" ? options.payload : JSON.stringify(options.payload));
  const deliveryId = options.deliveryId ?? randomUUID();
  const headers: Record<string, string> = {
    accept: "*/*",
    "content-type": "application/json",
    "user-agent": `GitHub-Hookshot/${HOOKSHOT_VERSION}`,
    "x-github-delivery": deliveryId,
    "x-github-event": options.event,
    "x-github-hook-id": String(options.hookId ?? DEFAULT_HOOK_ID),
    "x-github-hook-installation-target-id": String(options.targetId ?? 1),
    "x-github-hook-installation-target-type": options.targetType ?? "integration",
  };
  if (options.secret !== null) {
    headers["x-hub-signature"] = `sha1=${createHmac("sha1", options.secret).update(body).digest("hex")}`;
    headers["x-hub-signature-256"] = signWebhook(body, options.secret);
  }
  Object.assign(headers, options.headers);
  return { body, headers, deliveryId };
}

export async function postWebhook(options: PostWebhookOptions): Promise<WebhookResponse> {
  const request = webhookRequest(options);
  const started = performance.now();
  try {
    const response = await fetch(options.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const body = await response.text();
    return {
      status: response.status,
      body,
      headers: Object.fromEntries(response.headers),
      durationMs: performance.now() - started,
      deliveryId: request.deliveryId,
      request,
    };
  } catch (error) {
    const reason = error instanceof Error ? describeFetchError(error) : String(error);
    return {
      status: 0,
      body: "",
      headers: {},
      durationMs: performance.now() - started,
      deliveryId: request.deliveryId,
      error: reason,
      request,
    };
  }
}

function describeFetchError(error: Error): string {
  if (error.name === "TimeoutError") return "timed out";
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}
