import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { verifyWebhook, WebhookVerificationError } from "../src/index.js";

interface Vector {
  name: string;
  secret: string;
  id: string;
  timestamp: string;
  body: string;
  signature: string;
  now?: number;
}
const doc = JSON.parse(readFileSync(new URL("../../../../specs/webhook-vectors.json", import.meta.url), "utf8")) as {
  now: number;
  valid: Vector[];
  invalid: Vector[];
  stale: Vector[];
};

const headers = (v: Vector): Record<string, string> => ({
  "Webhook-Id": v.id,
  "webhook-timestamp": v.timestamp,
  "webhook-signature": v.signature,
});
const at = (seconds: number): Date => new Date(seconds * 1000);

for (const v of doc.valid) {
  test(`webhook verifies: ${v.name}`, () => {
    const event = verifyWebhook(v.secret, headers(v), v.body, { now: at(doc.now) });
    assert.deepEqual(event, JSON.parse(v.body));
    const fetchHeaders = new Headers(headers(v));
    assert.ok(verifyWebhook(v.secret, fetchHeaders, Buffer.from(v.body, "utf8"), { now: at(doc.now) }));
  });
}

for (const v of [...doc.invalid, ...doc.stale]) {
  test(`webhook refused: ${v.name}`, () => {
    assert.throws(() => verifyWebhook(v.secret, headers(v), v.body, { now: at(v.now ?? doc.now) }), WebhookVerificationError);
  });
}

test("missing headers are refused", () => {
  const v = doc.valid[0];
  assert.ok(v);
  assert.throws(() => verifyWebhook(v.secret, { "webhook-id": v.id }, v.body), { reason: "webhook_invalid" });
});
