// NOT_READY, refusals that say who and why, and the callback URL, against a scripted API.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  argsDigest,
  GantralClient,
  StepCancelled,
  StepExpired,
  StepNotReady,
  StepRejected,
  type AuthorizeResult,
  type Decision,
  type Grant,
  type HumanRequest,
} from "../src/index.js";
import { fakeServer, json } from "./fake.js";

const IID = "inst-1";
const ARGS = { service: "billing" };
const events = { accepted: true, state: "RUNNING" };

function grant(): Grant {
  return { grant_id: "g-1", step_id: "deploy", request_id: null, args_digest: argsDigest("deploy", ARGS),
    arguments: ARGS, expires_at: "2030-01-01T00:00:00Z" };
}

function result(outcome: AuthorizeResult["outcome"], extra: Partial<AuthorizeResult> = {}): AuthorizeResult {
  return { outcome, step_id: "deploy", args_digest: "", materiality: null, explanation: [], grant: null,
    request: null, ...extra };
}

function request(status: string, extra: Partial<HumanRequest> = {}): HumanRequest {
  return { request_id: "r-1", step_id: "deploy", action: "deploy", arguments: ARGS,
    args_digest: argsDigest("deploy", ARGS), materiality: "HIGH", required_approvers: ["TECH_LEAD"],
    deadline: "2026-01-01T01:00:00Z", context_snapshot: {}, created_at: "2026-01-01T00:00:00Z",
    status: status as HumanRequest["status"], grant: null,
    resolved_at: status === "PENDING" ? null : "2026-01-01T00:01:00Z", ...extra };
}

const decision: Decision = { decision_id: "d-1", instance_id: IID, request_id: "r-1", decision_type: "REJECT",
  human_actor_id: "alice", role: "TECH_LEAD", justification: "not during the freeze", args_digest: "",
  idempotency_key: "k", at: "2026-01-01T00:01:00Z", channel: "slack" };

test("NOT_READY: waits the server's retry_after and asks again, then runs", async () => {
  const fake = await fakeServer((seen, res, i) => {
    if (!seen.path.endsWith("/authorize")) return json(res, 200, events);
    return i < 2
      ? json(res, 200, result("NOT_READY", { reason: "concurrency", retry_after: 0.2 }))
      : json(res, 200, result("ALLOW", { grant: grant() }));
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const seenNotReady: [string | null | undefined, number][] = [];
    const started = Date.now();
    const ran = await client.governedStep(IID, "deploy",
      { arguments: ARGS, wait: 30, onNotReady: (r, pause) => void seenNotReady.push([r.reason, pause]) },
      (step) => step.arguments);
    assert.deepEqual(ran, ARGS);
    assert.deepEqual(seenNotReady, [["concurrency", 0.2], ["concurrency", 0.2]]);
    assert.ok(Date.now() - started >= 400, "waited the hint each time");
    assert.deepEqual(fake.seen.map((s) => s.body?.["kind"] ?? "authorize"),
      ["authorize", "authorize", "authorize", "STEP_STARTED", "STEP_COMPLETED"]);
  } finally {
    await fake.close();
  }
});

test("NOT_READY past the step's wait: StepNotReady with the server's reason and hint; nothing ran", async () => {
  // A hint of an hour is capped (a freed slot or a raised budget is noticed soon); a
  // hint of 0 is not a busy loop.
  const hints = [3600, 0];
  const fake = await fakeServer((_, res, i) =>
    json(res, 200, result("NOT_READY", { reason: "budget", retry_after: hints[i % 2] ?? 1 })));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const pauses: number[] = [];
    const err = await client.governedStep(IID, "deploy",
      { arguments: ARGS, wait: 0.5, onNotReady: (_, pause) => void pauses.push(pause) },
      () => assert.fail("ran")).catch((e: unknown) => e);
    assert.ok(err instanceof StepNotReady);
    assert.equal(err.reason, "not_ready");
    assert.equal(err.why, "budget");
    assert.match(err.message, /still not ready after 0\.5s \(budget; the server suggests asking again in/);
    assert.equal(pauses[0], 60);
    assert.ok(fake.seen.every((s) => s.path.endsWith("/authorize")), "no event reported");
  } finally {
    await fake.close();
  }
});

test("a refusal says who refused and why", async () => {
  let status = "REJECTED";
  const fake = await fakeServer((seen, res) => {
    if (seen.path.endsWith("/authorize")) return json(res, 200, result("PENDING", { request: request("PENDING") }));
    if (seen.path.includes("/requests/")) {
      return json(res, 200, request(status, { decided_by: status === "EXPIRED" ? "system" : "alice",
        decided_via: status === "EXPIRED" ? "timeout" : "slack", decision_id: "d-1" }));
    }
    if (seen.path === `/v1/instances/${IID}`) {
      return json(res, 200, { instance_id: IID, decisions: status === "REJECTED" ? [decision] : [] });
    }
    return json(res, 200, events);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const run = () => client.governedStep(IID, "deploy", { arguments: ARGS, wait: 5 }, () => assert.fail("ran"))
      .catch((e: unknown) => e);
    const rejected = await run();
    assert.ok(rejected instanceof StepRejected);
    assert.equal(rejected.message,
      "request r-1 for step deploy was REJECTED by alice (TECH_LEAD, via slack): not during the freeze");
    assert.equal(rejected.decision?.justification, "not during the freeze");
    status = "EXPIRED";
    const expired = await run();
    assert.ok(expired instanceof StepExpired);
    assert.equal(expired.message,
      "request r-1 for step deploy was EXPIRED by system (via timeout): nobody decided by 2026-01-01T01:00:00Z");
    status = "CANCELLED";
    const cancelled = await run();
    assert.ok(cancelled instanceof StepCancelled);
    assert.match(cancelled.message, /was CANCELLED by alice \(via slack\): cancelled with its instance$/);
  } finally {
    await fake.close();
  }
});

test("startInstance sends the callback URL", async () => {
  const fake = await fakeServer((_, res) => json(res, 201, { instance_id: IID }));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    await client.startInstance("deploy", "payments", {}, { callbackUrl: "https://fn.example.com/hooks/1" });
    await client.startInstance("deploy", "payments");
    assert.equal(fake.seen[0]?.body?.["callback_url"], "https://fn.example.com/hooks/1");
    assert.ok(!("callback_url" in (fake.seen[1]?.body ?? {})));
  } finally {
    await fake.close();
  }
});
