// Verifying Gantral's callbacks (Standard Webhooks): the HMAC-SHA256 of
// "{webhook-id}.{webhook-timestamp}.{body}" under the `whsec_` secret, as one of the
// space-separated `v1,<base64>` entries of webhook-signature, with the timestamp within
// the tolerance (5 minutes) of now. Known answers: specs/webhook-vectors.json.
import { createHmac, timingSafeEqual } from "node:crypto";
import { GantralError } from "./errors.js";
import type { RequestStatus } from "./types.gen.js";

/** The trigger-context key that names an instance's callback URL (the start request's
 *  `callback_url`, `startInstance(..., {callbackUrl})`, takes the same URLs). */
export const CALLBACK_CONTEXT_KEY = "gantral:callback_url";

/** What a callback tells: a request resolved. Nothing secret; resume with your token. */
export interface CallbackEvent {
  type: "gantral.request.resolved";
  timestamp: string;
  data: {
    instance_id: string;
    request_id: string;
    status: RequestStatus;
    event: string;
    decided_by: string;
  };
}

export class WebhookVerificationError extends GantralError {
  constructor(message: string) {
    super(message, "webhook_invalid");
  }
}

export interface VerifyOptions {
  /** Seconds a timestamp may be off from now (default 300). */
  toleranceSeconds?: number;
  /** The current time (tests). */
  now?: Date;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(" ") : value;
  }
  return undefined;
}

function secretKey(secret: string): Buffer {
  const base64 = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  const key = Buffer.from(base64, "base64");
  if (key.length === 0) throw new WebhookVerificationError("the webhook secret is empty");
  return key;
}

/** Verify a delivery and return its parsed body. Pass the raw body exactly as received.
 *  @throws WebhookVerificationError (reason `webhook_invalid`) for anything else. */
export function verifyWebhook(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): CallbackEvent {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError("missing webhook headers");
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw new WebhookVerificationError("invalid webhook timestamp");
  }
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (seconds < now - tolerance) throw new WebhookVerificationError("webhook timestamp too old");
  if (seconds > now + tolerance) throw new WebhookVerificationError("webhook timestamp too new");
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  const expected = createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.${text}`, "utf8").digest();
  for (const entry of signatures.split(" ")) {
    const [version, signature] = entry.split(",", 2);
    if (version !== "v1" || !signature) continue;
    const given = Buffer.from(signature, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      return JSON.parse(text) as CallbackEvent;
    }
  }
  throw new WebhookVerificationError("no matching webhook signature");
}
