// Fleet governance through the client: a halt's refusal (the body the server answers,
// gantral/governance/halts.py `halted`) from every call it covers, and the helpers for
// halts, batch decisions and delegations, against a local HTTP stand-in.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  batchRefusals,
  Conflict,
  Forbidden,
  GantralClient,
  Halted,
  NotFound,
  type BatchDecisionResult,
  type Halt,
} from "../src/index.js";
import { fakeServer, json } from "./fake.js";

const IID = "inst-1";

/** The 409 the API answers while a halt covers the call (GantralError.to_dict of `halted`). */
function haltedBody(what: string): Record<string, unknown> {
  return {
    error: "conflict",
    reason: "halted",
    message: `${what} refused: team payments is halted (halt_7): INC-42 card fraud`,
    details: { halt_id: "halt_7", halt_reason: "INC-42 card fraud", scope: { team: "payments" } },
  };
}

const HALT: Halt = {
  halt_id: "halt_7",
  scope: { team: "payments" },
  reason: "INC-42 card fraud",
  raised_by: "alice",
  raised_at: "2026-12-07T00:00:00Z",
};

async function halted(call: (client: GantralClient) => Promise<unknown>, what: string): Promise<Halted> {
  const fake = await fakeServer((_, res) => json(res, 409, haltedBody(what)));
  try {
    const err = await call(new GantralClient({ baseUrl: fake.url })).then(
      () => assert.fail("a halted call must throw"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Halted, `expected Halted, got ${String(err)}`);
    assert.ok(err instanceof Conflict); // code that catches Conflict still sees it
    assert.equal(fake.seen.length, 1, "a halt's refusal is not retried");
    return err;
  } finally {
    await fake.close();
  }
}

test("authorize under a halt throws Halted naming the halt, its reason and its scope", async () => {
  const err = await halted((c) => c.authorize(IID, "refund", { arguments: { amount: 5 } }), "authorizing step refund");
  assert.equal(err.status, 409);
  assert.equal(err.reason, "halted");
  assert.equal(err.haltId, "halt_7");
  assert.equal(err.haltReason, "INC-42 card fraud");
  assert.deepEqual(err.scope, { team: "payments" });
  assert.match(err.message, /team payments is halted \(halt_7\)/);
});

test("starting an instance and a governed step under a halt throw Halted too", async () => {
  const started = await halted((c) => c.startInstance("refunds", "payments"), "starting an instance");
  assert.equal(started.haltId, "halt_7");
  let ran = false;
  const step = await halted(
    (c) => c.governedStep(IID, "refund", { arguments: { amount: 5 } }, () => (ran = true)),
    "authorizing step refund",
  );
  assert.equal(step.haltId, "halt_7");
  assert.equal(ran, false, "nothing runs under a halt");
});

test("another conflict is not a halt", async () => {
  const fake = await fakeServer((_, res) => json(res, 409, { error: "conflict", reason: "stale", message: "changed" }));
  try {
    const err = await new GantralClient({ baseUrl: fake.url }).getInstance(IID).catch((e: unknown) => e);
    assert.ok(err instanceof Conflict && !(err instanceof Halted));
  } finally {
    await fake.close();
  }
});

test("raise, list, lift and exempt a halt: routes and bodies as the API takes them", async () => {
  const fake = await fakeServer((seen, res) => {
    if (seen.method === "GET" && seen.path.startsWith("/v1/halts?")) return json(res, 200, [HALT]);
    if (seen.path === "/v1/halts") return json(res, 201, HALT);
    if (seen.path.endsWith(":lift")) return json(res, 200, { ...HALT, lifted_by: "bob", lifted_at: "2026-12-07T00:05:00Z" });
    if (seen.path.endsWith(":exempt")) return json(res, 200, HALT);
    return json(res, 404, { error: "not_found", reason: "unknown_halt", message: "unknown halt" });
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const raised = await client.raiseHalt({ team: "payments" }, "INC-42 card fraud", { liftByAnother: true });
    assert.equal(raised.halt_id, "halt_7");
    assert.deepEqual(await client.listHalts({ includeLifted: true }), [HALT]);
    const lifted = await client.liftHalt("halt_7", "fixed");
    assert.equal(lifted.lifted_by, "bob");
    await client.exemptFromHalt("halt_7", { agent: "bot-1" }, "staged");
    const unknown = await client.getHalt("nope").catch((e: unknown) => e);
    assert.ok(unknown instanceof NotFound && unknown.reason === "unknown_halt");
    assert.deepEqual(
      fake.seen.map((s) => [s.method, s.path, s.body]),
      [
        ["POST", "/v1/halts", { scope: { team: "payments" }, reason: "INC-42 card fraud", lift_by_another: true }],
        ["GET", "/v1/halts?include_lifted=true", undefined],
        ["POST", "/v1/halts/halt_7:lift", { reason: "fixed" }],
        ["POST", "/v1/halts/halt_7:exempt", { scope: { agent: "bot-1" }, reason: "staged" }],
        ["GET", "/v1/halts/nope", undefined],
      ],
    );
  } finally {
    await fake.close();
  }
});

test("a batch decision answered 207 surfaces each refusal as its typed error", async () => {
  const result: BatchDecisionResult = {
    decided: 1,
    refused: 2,
    items: [
      { instance_id: "i-1", request_id: "r-1", status: 200, result: null },
      { instance_id: "i-2", request_id: "r-2", status: 409,
        error: { error: "conflict", reason: "stale", message: "arguments changed since shown" } },
      { instance_id: "i-3", request_id: "r-3", status: 403,
        error: { error: "forbidden", reason: "separation_of_duties", message: "you requested it", details: { role: "TECH_LEAD" } } },
    ],
  };
  const fake = await fakeServer((_, res) => json(res, 207, result));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const inboxItem = { instance_id: "i-1", request_id: "r-1", args_digest: "sha256:a" };
    const answer = await client.decideBatch(
      [inboxItem, ["i-2", { request_id: "r-2", args_digest: "sha256:b" }],
        { instance_id: "i-3", request_id: "r-3", seen_args_digest: "sha256:c" }],
      "APPROVE",
      { justification: "routine", idempotencyKey: "k-1" },
    );
    assert.equal(answer.refused, 2);
    const [stale, sod] = batchRefusals(answer);
    assert.ok(stale instanceof Conflict && stale.reason === "stale" && stale.status === 409);
    assert.deepEqual(stale.details, { instance_id: "i-2", request_id: "r-2" });
    assert.ok(sod instanceof Forbidden && sod.reason === "separation_of_duties");
    assert.deepEqual(sod.details, { role: "TECH_LEAD", instance_id: "i-3", request_id: "r-3" });
    assert.equal(answer.items[2]?.error?.details?.["instance_id"], undefined, "the answer itself is left as sent");
    const sent = fake.seen[0];
    assert.equal(sent?.path, "/v1/decisions:batch");
    assert.deepEqual(sent?.body, {
      decision_type: "APPROVE",
      items: [
        { instance_id: "i-1", request_id: "r-1", seen_args_digest: "sha256:a" },
        { instance_id: "i-2", request_id: "r-2", seen_args_digest: "sha256:b" },
        { instance_id: "i-3", request_id: "r-3", seen_args_digest: "sha256:c" },
      ],
      idempotency_key: "k-1",
      justification: "routine",
    });
    assert.deepEqual(batchRefusals({ decided: 1, refused: 0, items: [result.items[0]!] }), []);
  } finally {
    await fake.close();
  }
});

test("put, get and end my delegation", async () => {
  const delegation = {
    delegation_id: "dlg-1", delegator: "alice", deputy: "bob", roles: ["TECH_LEAD"],
    starts_at: "2026-12-07T00:00:00Z", ends_at: "2026-12-08T00:00:00Z", created_at: "2026-12-07T00:00:00Z",
  };
  const fake = await fakeServer((seen, res) => {
    if (seen.method === "GET") return json(res, 200, { given: delegation, received: [] });
    if (seen.method === "DELETE" && fake.seen.length > 3) {
      return json(res, 404, { error: "not_found", reason: "no_delegation", message: "none in effect" });
    }
    return json(res, 200, delegation);
  });
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const given = await client.delegate("bob", new Date("2026-12-08T00:00:00Z"), {
      roles: ["TECH_LEAD"], startsAt: "2026-12-07T01:00:00+01:00", reason: "out of office",
    });
    assert.equal(given.deputy, "bob");
    assert.equal((await client.myDelegations()).given?.delegation_id, "dlg-1");
    await client.endDelegation();
    const none = await client.endDelegation().catch((e: unknown) => e);
    assert.ok(none instanceof NotFound && none.reason === "no_delegation");
    assert.deepEqual(
      fake.seen.map((s) => [s.method, s.path, s.body]),
      [
        ["PUT", "/v1/delegations/me", {
          deputy: "bob", ends_at: "2026-12-08T00:00:00.000Z", roles: ["TECH_LEAD"],
          starts_at: "2026-12-07T01:00:00+01:00", reason: "out of office",
        }],
        ["GET", "/v1/delegations/me", undefined],
        ["DELETE", "/v1/delegations/me", undefined],
        ["DELETE", "/v1/delegations/me", undefined],
      ],
    );
  } finally {
    await fake.close();
  }
});

test("a decision may give a standing grant, or be a deputy's on behalf of another", async () => {
  const fake = await fakeServer((_, res) => json(res, 409, { error: "conflict", reason: "stale", message: "x" }));
  try {
    const client = new GantralClient({ baseUrl: fake.url });
    const standing = { pattern: { amount: { max: 100 } }, ttl: "1h", max_uses: 5 };
    await client
      .decide(IID, { request_id: "r-1", args_digest: "sha256:a" }, "APPROVE", { standing, onBehalfOf: "alice" })
      .catch(() => undefined);
    assert.deepEqual(fake.seen[0]?.body?.["standing"], standing);
    assert.equal(fake.seen[0]?.body?.["on_behalf_of"], "alice");
  } finally {
    await fake.close();
  }
});
