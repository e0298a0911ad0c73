import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  argsDigest,
  BearerToken,
  ClientCredentials,
  Conflict,
  decodeResumeToken,
  DigestMismatch,
  encodeResumeToken,
  GantralClient,
  Halted,
  InvalidInput,
  StepRejected,
  TransportError,
  Unauthenticated,
  Unavailable,
  verifyAuditChain,
  type AuditTrailView,
  type AuthorizeResult,
  type Grant,
  type HumanRequest,
} from "../src/index.js";
import { fakeServer, json } from "./fake.js";

const IID = "inst-1";

function grant(stepId: string, action: string, args: Record<string, unknown>): Grant {
  return {
    grant_id: "g-1",
    step_id: stepId,
    request_id: "r-1",
    args_digest: argsDigest(action, args),
    arguments: args,
    expires_at: "2030-01-01T00:00:00Z",
  };
}

function request(status: string, g: Grant | null, extra: Partial<HumanRequest> = {}): HumanRequest {
  return {
    request_id: "r-1",
    step_id: "deploy",
    action: "deploy.run",
    arguments: { service: "billing", version: "2.4.1" },
    args_digest: argsDigest("deploy.run", { service: "billing", version: "2.4.1" }),
    materiality: "HIGH",
    required_approvers: ["TECH_LEAD"],
    deadline: null,
    context_snapshot: {},
    created_at: "2026-01-01T00:00:00Z",
    status: status as HumanRequest["status"],
    grant: g,
    resolved_at: status === "PENDING" ? null : "2026-01-01T00:01:00Z",
    ...extra,
  };
}

function authorizeResult(outcome: "ALLOW" | "PENDING", g: Grant | null, req: HumanRequest | null): AuthorizeResult {
  return { outcome, step_id: "deploy", args_digest: "", materiality: "HIGH", explanation: [], grant: g, request: req };
}

const eventResult = { accepted: true, state: "RUNNING", cost: { tokens: 0, money: 0, currency: "USD", wall_time_seconds: 0 } };

test("an API error keeps the server's code and reason", async () => {
  const fake = await fakeServer((seen, res) =>
    seen.path.endsWith("/decisions")
      ? json(res, 409, { error: "conflict", reason: "already_decided", message: "decided", details: { by: "x" } })
      : res.writeHead(502, { "Content-Type": "text/html" }).end("<h1>bad gateway</h1>"),
  );
  try {
    const client = new GantralClient({ baseUrl: fake.url, auth: new BearerToken("t0k") });
    const err = await client.decide(IID, "r-1", "APPROVE", { seenArgsDigest: "sha256:ab" }).catch((e: unknown) => e);
    assert.ok(err instanceof Conflict);
    assert.equal(err.reason, "already_decided");
    assert.equal(err.status, 409);
    assert.deepEqual(err.details, { by: "x" });
    assert.equal(fake.seen[0]?.headers.authorization, "Bearer t0k");
    const bad = await client.getInstance(IID).catch((e: unknown) => e);
    assert.ok(bad instanceof Unavailable);
    assert.equal(bad.status, 502);
  } finally {
    await fake.close();
  }
});

test("a halt's refusal is its own class, naming the halt", async () => {
  const body = { error: "conflict", reason: "halted", message: "team payments is halted",
    details: { halt_id: "halt_1", halt_reason: "INC-42", scope: { team: "payments" } } };
  const fake = await fakeServer((_, res) => json(res, 409, body));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const err = await client.getInstance(IID).catch((e: unknown) => e);
    assert.ok(err instanceof Halted && err instanceof Conflict);
    assert.equal(err.reason, "halted");
    assert.equal(err.haltId, "halt_1");
    assert.equal(err.haltReason, "INC-42");
  } finally {
    await fake.close();
  }
});

test("a decision names the request and the digest the human was shown, never one read now", async () => {
  const fake = await fakeServer((_, res) => json(res, 409, { error: "conflict", reason: "stale", message: "changed" }));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const shown = { request_id: "r-2", args_digest: "sha256:shown" };
    await client.decide(IID, shown, "REJECT", { justification: "no" }).catch(() => undefined);
    await client.decide(IID, "r-3", "APPROVE", { seenArgsDigest: "sha256:typed" }).catch(() => undefined);
    const sent = fake.seen.map((s) => [s.body?.["request_id"], s.body?.["seen_args_digest"]]);
    assert.deepEqual(sent, [["r-2", "sha256:shown"], ["r-3", "sha256:typed"]]);
    // A request id alone binds to nothing: refused before any call.
    const untyped = client as unknown as { decide(i: string, r: string, t: string): Promise<unknown> };
    await assert.rejects(untyped.decide(IID, "r-4", "APPROVE"), TypeError);
    await assert.rejects(client.decide(IID, shown, "APPROVE", { seenArgsDigest: "sha256:other" }), TypeError);
    assert.equal(fake.seen.length, 2);
  } finally {
    await fake.close();
  }
});

test("a 422 without a Gantral body still maps by status", async () => {
  const fake = await fakeServer((_, res) => json(res, 422, { detail: "nope" }));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const err = await client.getInstance(IID).catch((e: unknown) => e);
    assert.ok(err instanceof InvalidInput);
    assert.equal(err.reason, "invalid_input");
  } finally {
    await fake.close();
  }
});

test("every mutating call sends a fresh idempotency key, and a resend after a dropped connection reuses it", async () => {
  const fake = await fakeServer((seen, res, i) => {
    if (i === 0) {
      res.socket?.destroy(); // the response is lost
      return;
    }
    json(res, 200, seen.path.endsWith("/authorize") ? authorizeResult("ALLOW", null, null) : eventResult);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    await client.authorize(IID, "deploy", { arguments: { a: 1 } });
    await client.authorize(IID, "deploy", { arguments: { a: 1 } });
    const keys = fake.seen.map((s) => s.body?.["idempotency_key"]);
    assert.equal(keys.length, 3);
    assert.equal(keys[0], keys[1], "the resend carries the first key");
    assert.notEqual(keys[1], keys[2], "a new call gets a new key");
    for (const verb of ["cancel", "complete", "fail"] as const) {
      await client[verb](IID, "why").catch(() => undefined);
    }
    await client.startInstance("wf", "team").catch(() => undefined);
    await client.report(IID, "STEP_COMPLETED", { stepId: "s" });
    await client.decide(IID, "r-1", "APPROVE", { seenArgsDigest: "sha256:ab" }).catch(() => undefined);
    const later = fake.seen.slice(3).map((s) => s.body?.["idempotency_key"]);
    assert.equal(later.length, 6);
    assert.ok(later.every((k) => typeof k === "string" && k.startsWith("sdk-")));
    assert.equal(new Set(later).size, 6);
  } finally {
    await fake.close();
  }
});

test("a transport error is typed after the resends run out", async () => {
  const fake = await fakeServer((_, res) => res.socket?.destroy());
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const err = await client.getInstance(IID).catch((e: unknown) => e);
    assert.ok(err instanceof TransportError);
    assert.equal(err.reason, "transport");
    assert.equal(fake.seen.length, 3);
  } finally {
    await fake.close();
  }
});

test("client credentials: cached, refreshed once on 401, secret sent as Basic", async () => {
  let issued = 0;
  const fake = await fakeServer((seen, res) => {
    if (seen.path === "/token") {
      issued += 1;
      json(res, 200, { access_token: `tok-${issued}`, expires_in: 600 });
      return;
    }
    // The API accepts only the second token (the first was revoked).
    if (seen.headers.authorization !== "Bearer tok-2") {
      json(res, 401, { error: "unauthenticated", reason: "revoked", message: "no" });
      return;
    }
    json(res, 200, { items: [], next_page_token: null });
  });
  try {
    const auth = new ClientCredentials(`${fake.url}/token`, "agent 7", "s3cr:et");
    assert.ok(!JSON.stringify(auth).includes("s3cr"));
    const client = new GantralClient({ baseUrl: fake.url, auth });
    await client.listInstances();
    await client.listInstances();
    assert.equal(issued, 2, "fetched once, then once more after the 401, then cached");
    const tokenCall = fake.seen[0];
    assert.equal(tokenCall?.raw, "grant_type=client_credentials");
    const basic = Buffer.from(String(tokenCall?.headers.authorization).slice(6), "base64").toString();
    assert.equal(basic, "agent%207:s3cr%3Aet");
  } finally {
    await fake.close();
  }
});

test("a refused token is Unauthenticated with the server's reason", async () => {
  const fake = await fakeServer((_, res) => json(res, 401, { error: "unauthenticated", reason: "expired", message: "old" }));
  try {
    const client = new GantralClient({ baseUrl: fake.url, auth: new BearerToken(() => "x") });
    const err = await client.getInstance(IID).catch((e: unknown) => e);
    assert.ok(err instanceof Unauthenticated);
    assert.equal(err.reason, "expired");
    assert.equal(fake.seen.length, 1);
  } finally {
    await fake.close();
  }
});

test("governed step: a grant for other arguments is refused before anything starts", async () => {
  const other = grant("deploy", "deploy.run", { service: "billing", version: "9.9.9" });
  const fake = await fakeServer((seen, res) =>
    json(res, 200, seen.path.endsWith("/authorize") ? authorizeResult("ALLOW", other, null) : eventResult),
  );
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    let ran = false;
    const err = await client
      .governedStep(IID, "deploy", { action: "deploy.run", arguments: { service: "billing", version: "2.4.1" } }, () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof DigestMismatch);
    assert.equal(err.reason, "args_digest_mismatch");
    assert.equal(ran, false);
    assert.deepEqual(fake.seen.map((s) => s.path), [`/v1/instances/${IID}/steps/deploy/authorize`]);
  } finally {
    await fake.close();
  }
});

test("governed step: waits for a human, runs an override's arguments, reports start, cost, end", async () => {
  const edited = { service: "billing", version: "2.4.2" };
  const g = grant("deploy", "deploy.run", edited);
  let polls = 0;
  const fake = await fakeServer((seen, res) => {
    if (seen.path.endsWith("/authorize")) return json(res, 200, authorizeResult("PENDING", null, request("PENDING", null)));
    if (seen.path.includes("/requests/")) {
      polls += 1;
      return json(res, 200, polls < 2 ? request("PENDING", null) : request("OVERRIDDEN", g, { context_delta: { version: "2.4.2" } }));
    }
    return json(res, 200, eventResult);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url, pollWait: 1 });
    const pending: string[] = [];
    const ran = await client.governedStep(
      IID,
      "deploy",
      { action: "deploy.run", arguments: { service: "billing", version: "2.4.1" }, onPending: (r) => void pending.push(r.request_id) },
      (step) => {
        step.cost = { tokens: 10 };
        step.detail["url"] = "u";
        return step.arguments;
      },
    );
    assert.deepEqual(ran, edited);
    assert.deepEqual(pending, ["r-1"]);
    assert.ok(fake.seen.some((s) => s.path.includes("wait=1")));
    const events = fake.seen.filter((s) => s.path.endsWith("/events")).map((s) => s.body);
    assert.deepEqual(events.map((e) => e?.["kind"]), ["STEP_STARTED", "COST", "STEP_COMPLETED"]);
    assert.equal(events[0]?.["grant_id"], "g-1");
    assert.equal(events[0]?.["args_digest"], argsDigest("deploy.run", edited));
    assert.deepEqual(events[2]?.["detail"], { url: "u" });
  } finally {
    await fake.close();
  }
});

test("governed step: a rejection never runs; a failing body reports STEP_FAILED with the type only", async () => {
  const fake = await fakeServer((seen, res) => {
    if (seen.path.endsWith("/authorize")) {
      const args = seen.body?.["arguments"] as Record<string, unknown>;
      return args["reject"]
        ? json(res, 200, authorizeResult("PENDING", null, request("REJECTED", null)))
        : json(res, 200, authorizeResult("ALLOW", grant("deploy", "deploy", args), null));
    }
    return json(res, 200, eventResult);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const rejected = await client.governedStep(IID, "deploy", { arguments: { reject: true } }, () => assert.fail("ran")).catch((e: unknown) => e);
    assert.ok(rejected instanceof StepRejected);
    class Boom extends Error {}
    const err = await client
      .governedStep(IID, "deploy", { arguments: { n: 1 } }, () => {
        throw new Boom("secret data");
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof Boom);
    const last = fake.seen.at(-1);
    assert.equal(last?.body?.["kind"], "STEP_FAILED");
    assert.deepEqual(last?.body?.["detail"], { error_type: "Boom" });
  } finally {
    await fake.close();
  }
});

test("a step stopped at PENDING resumes from a token that holds nothing secret", async () => {
  const args = { service: "billing", version: "2.4.1" };
  let decided = false;
  const fake = await fakeServer((seen, res) => {
    if (seen.path.endsWith("/authorize")) return json(res, 200, authorizeResult("PENDING", null, request("PENDING", null)));
    if (seen.path.includes("/requests/")) {
      return json(res, 200, decided ? request("APPROVED", grant("deploy", "deploy.run", args)) : request("PENDING", null));
    }
    return json(res, 200, eventResult);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const first = await client.prepareStep(IID, "deploy", { action: "deploy.run", arguments: args, stopAtPending: true });
    assert.ok("pending" in first);
    const text = encodeResumeToken(first.resume);
    assert.ok(!text.includes("billing") && !Buffer.from(text, "base64url").toString().includes("billing"));
    const token = decodeResumeToken(text);
    await assert.rejects(client.resumeStep(token), { reason: "decision_timeout" });
    decided = true;
    const step = await client.resumeStep(token);
    assert.deepEqual(step.arguments, args);
    assert.equal(step.outcome, "APPROVED");
    await client.runStep(step, () => undefined);
    assert.equal(fake.seen.at(-1)?.body?.["kind"], "STEP_COMPLETED");
    const forged = { ...token, args_digest: argsDigest("deploy.run", { service: "other" }) };
    await assert.rejects(client.resumeStep(forged), DigestMismatch);
  } finally {
    await fake.close();
  }
});

test("the audit chain is re-verified locally; tampering is found", () => {
  const events = [];
  let prev = "0".repeat(64);
  for (let seq = 1; seq <= 3; seq++) {
    const body = JSON.stringify({ at: "t", instance_id: IID, payload: { n: seq }, seq, type: "STEP" });
    const hash = createHash("sha256").update(Buffer.from(prev, "hex")).update(body).digest("hex");
    events.push({ seq, log_index: seq, type: "STEP", at: "t", actor: {}, payload: { n: seq }, snapshot: null, prev_hash: prev, hash, body });
    prev = hash;
  }
  const view: AuditTrailView = { instance_id: IID, events, sealed: false, head: prev, bundle_keys: [] };
  assert.deepEqual(verifyAuditChain(view), []);
  const tampered = structuredClone(view);
  const second = tampered.events[1];
  assert.ok(second);
  second.body = second.body.replace('"n":2', '"n":20');
  assert.deepEqual(verifyAuditChain(tampered).map((p) => p.code), ["hash_mismatch"]);
  tampered.events.splice(1, 1);
  assert.ok(verifyAuditChain(tampered).some((p) => p.code === "missing_event"));
});

test("the inbox asks for the caller's requests", async () => {
  const fake = await fakeServer((_, res) => json(res, 200, { items: [], truncated: false }));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    assert.deepEqual(await client.inbox({ pendingForMe: true, team: "payments", limit: 5 }), { items: [], truncated: false });
    await client.inbox();
    await client.inbox({ pageToken: "next-1" });
    assert.deepEqual(fake.seen.map((s) => s.path), [
      "/v1/requests?pending_for=me&team=payments&limit=5",
      "/v1/requests",
      "/v1/requests?page_token=next-1",
    ]);
  } finally {
    await fake.close();
  }
});

test("a resume token is the same text in every SDK (sdk/go/governed_test.go has it too)", () => {
  const token = { v: 1, instance_id: "inst-1", request_id: "r-1", step_id: "deploy", action: "deploy.run", args_digest: "sha256:ab" } as const;
  const text = "eyJ2IjoxLCJpbnN0YW5jZV9pZCI6Imluc3QtMSIsInJlcXVlc3RfaWQiOiJyLTEiLCJzdGVwX2lkIjoiZGVwbG95IiwiYWN0aW9uIjoiZGVwbG95LnJ1biIsImFyZ3NfZGlnZXN0Ijoic2hhMjU2OmFiIn0";
  assert.equal(encodeResumeToken(token), text);
  assert.deepEqual(decodeResumeToken(text), token);
  assert.throws(() => decodeResumeToken(Buffer.from(JSON.stringify({ ...token, args_digest: "" })).toString("base64url")), TypeError);
});
