// The cross-SDK contract scenario (tests/integration/test_sdk_contract.py runs it, and
// the same scenario through the Python and Go SDKs, against one real stack). It prints
// one JSON object of what happened; the Python test asserts on it and on the server.
//
// Env: GANTRAL_URL, GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID, GANTRAL_CLIENT_SECRET (the
// agent), GANTRAL_HUMAN_TOKEN (a tech lead), GANTRAL_AUDITOR_TOKEN; GANTRAL_CAPACITY_URL
// (an API of the same stack whose readiness rules allow one running `deploy` step);
// GANTRAL_CALLBACK_URL (where this process listens for the callback) and
// GANTRAL_WEBHOOK_SECRET (the callback worker's signing secret); GANTRAL_ADMIN_TOKEN (a
// platform admin, who halts and lifts the capacity workflow).
import { createServer, type IncomingHttpHeaders } from "node:http";
import {
  argsDigest,
  BearerToken,
  checkGrant,
  ClientCredentials,
  Conflict,
  decodeResumeToken,
  encodeResumeToken,
  GantralClient,
  GantralError,
  Halted,
  StepNotReady,
  StepRefused,
  verifyAuditChain,
  verifyWebhook,
  type HumanRequest,
} from "../src/index.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const url = env("GANTRAL_URL");
const agent = new GantralClient({
  baseUrl: url,
  pollWait: 5,
  auth: new ClientCredentials(env("GANTRAL_TOKEN_URL"), env("GANTRAL_CLIENT_ID"), env("GANTRAL_CLIENT_SECRET")),
});
const human = new GantralClient({ baseUrl: url, auth: new BearerToken(env("GANTRAL_HUMAN_TOKEN")) });
const auditor = new GantralClient({ baseUrl: url, auth: new BearerToken(env("GANTRAL_AUDITOR_TOKEN")) });

const ARGS = { service: "billing", version: "2.4.1", replicas: 3 };
const CONTEXT = { env: "production", change: "CHG-1042", sdk: "typescript" };
const ACTION = "deploy.run";

async function start(): Promise<string> {
  const inst = await agent.startInstance("deploy", "payments", { ticket: "CHG-1042", sdk: "typescript" });
  await agent.governedStep(inst.instance_id, "plan", {}, () => undefined);
  return inst.instance_id;
}

/** The approver checks what they are shown with a digest computed on their side. */
function seen(request: HumanRequest): string {
  return argsDigest(request.action, request.arguments);
}

async function sealedAudit(iid: string): Promise<Awaited<ReturnType<GantralClient["getAuditLog"]>>> {
  for (let i = 0; i < 200; i++) {
    const view = await auditor.getAuditLog(iid);
    if (view.sealed) return view;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`audit of ${iid} not sealed in time`);
}

async function approved(): Promise<Record<string, unknown>> {
  const iid = await start();
  let ran: Record<string, unknown> | undefined;
  let outcome = "";
  let digest = "";
  let grantDigest = "";
  let inboxListed = false;
  await agent.governedStep(
    iid,
    "deploy",
    {
      action: ACTION,
      arguments: ARGS,
      context: CONTEXT,
      wait: 60,
      onPending: async (request) => {
        // The approver finds it in their inbox (once the sink stored the request, just
        // after the agent's PENDING), then decides.
        let item;
        for (let tries = 0; tries < 50 && item === undefined; tries++) {
          if (tries > 0) await new Promise((r) => setTimeout(r, 100));
          const inbox = await human.inbox({ pendingForMe: true });
          item = inbox.items.find((i) => i.request_id === request.request_id);
        }
        inboxListed = item !== undefined;
        await human.decide(iid, item ?? request, "APPROVE"); // as shown: its id and digest
      },
    },
    (step) => {
      ran = step.arguments;
      outcome = step.outcome;
      digest = step.argsDigest;
      grantDigest = step.grant.args_digest;
      step.cost = { tokens: 1200, money: 0.42, wall_time_seconds: 3.5 };
      step.detail["rollout"] = "ok";
    },
  );
  const final = await agent.complete(iid, "deployed");
  const audit = await sealedAudit(iid);
  const verdict = await auditor.verifyAudit(iid);
  return {
    instance_id: iid,
    inbox_listed: inboxListed,
    outcome,
    ran,
    args_digest: digest,
    grant_args_digest: grantDigest,
    state: final.state,
    cost_tokens: final.cost.tokens,
    audit_types: audit.events.map((e) => e.type),
    chain_problems: verifyAuditChain(audit).map((p) => p.code),
    server_verify_ok: verdict.ok,
  };
}

async function rejected(): Promise<Record<string, unknown>> {
  const iid = await start();
  let ran = false;
  let refusal = "";
  let message = "";
  let decidedBy: string | undefined;
  let justification: string | null | undefined;
  try {
    await agent.governedStep(
      iid,
      "deploy",
      {
        action: ACTION,
        arguments: ARGS,
        wait: 60,
        onPending: async (request) => {
          await human.decide(iid, request, "REJECT", { justification: "not today" });
        },
      },
      () => {
        ran = true;
      },
    );
  } catch (err) {
    if (!(err instanceof StepRefused)) throw err;
    refusal = err.reason;
    message = err.message;
    decidedBy = err.decision?.human_actor_id;
    justification = err.decision?.justification;
  }
  const view = await agent.getInstance(iid);
  return { instance_id: iid, refusal, ran, state: view.state, message, decided_by: decidedBy, justification };
}

async function overridden(): Promise<Record<string, unknown>> {
  const iid = await start();
  // A serverless agent: stop at PENDING with a token, resume after the human decided.
  const first = await agent.prepareStep(iid, "deploy", { action: ACTION, arguments: ARGS, stopAtPending: true });
  if (!("pending" in first)) throw new Error("expected PENDING");
  const token = encodeResumeToken(first.resume);
  await human.decide(iid, first.request.request_id, "OVERRIDE", {
    justification: "2.4.1 fails canary; ship the last good build",
    contextDelta: { version: "2.4.0" },
    seenArgsDigest: seen(first.request),
  });
  const step = await agent.resumeStep(decodeResumeToken(token), { wait: 30, arguments: ARGS });
  let ran: Record<string, unknown> | undefined;
  await agent.runStep(step, (s) => {
    ran = s.arguments;
  });
  const final = await agent.complete(iid);
  return { instance_id: iid, pending: true, outcome: step.outcome, ran, state: final.state };
}

async function otherArguments(): Promise<Record<string, unknown>> {
  const iid = await start();
  const step = await agent.prepareStep(iid, "deploy", {
    action: ACTION,
    arguments: ARGS,
    wait: 60,
    onPending: async (request) => {
      await human.decide(iid, request, "APPROVE"); // the request as shown: its id and digest
    },
  });
  const other = { ...ARGS, version: "9.9.9" };
  let localRefusal = "";
  try {
    checkGrant(step.grant, "deploy", ACTION, other);
  } catch (err) {
    if (!(err instanceof GantralError)) throw err;
    localRefusal = err.reason;
  }
  let serverStatus = 0;
  let serverReason = "";
  try {
    await agent.report(iid, "STEP_STARTED", { stepId: "deploy", grantId: step.grant.grant_id, argsDigest: argsDigest(ACTION, other) });
  } catch (err) {
    if (!(err instanceof Conflict)) throw err;
    serverStatus = err.status;
    serverReason = err.reason;
  }
  await agent.cancel(iid, "contract test");
  return { instance_id: iid, local_refusal: localRefusal, server_status: serverStatus, server_reason: serverReason };
}

/** NOT_READY: another step holds the only slot. A short wait is refused with the
 *  server's reason; a long one waits the server's hint, asks again, and runs once the
 *  slot is free. */
async function notReady(): Promise<Record<string, unknown>> {
  const capacity = new GantralClient({
    baseUrl: env("GANTRAL_CAPACITY_URL"),
    auth: new ClientCredentials(env("GANTRAL_TOKEN_URL"), env("GANTRAL_CLIENT_ID"), env("GANTRAL_CLIENT_SECRET")),
  });
  const begin = async (): Promise<string> =>
    (await capacity.startInstance(env("GANTRAL_CAPACITY_WORKFLOW"), "payments", { sdk: "typescript", phase: "not_ready" })).instance_id;
  const holder = await begin();
  const waiter = await begin();
  const order: string[] = [];
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = await capacity.prepareStep(holder, "plan");
  const holding = capacity.runStep(held, async () => {
    await released;
    order.push("holder_done");
  });
  let short: StepNotReady | undefined;
  try {
    await capacity.governedStep(waiter, "plan", { wait: 1 }, () => order.push("ran_too_early"));
  } catch (err) {
    if (!(err instanceof StepNotReady)) throw err;
    short = err;
  }
  const answers: { reason: string | null | undefined; retry_after: number | null | undefined; pause: number }[] = [];
  await capacity.governedStep(
    waiter,
    "plan",
    {
      wait: 60,
      onNotReady: (result, pause) => {
        answers.push({ reason: result.reason, retry_after: result.retry_after, pause });
        if (answers.length === 2) release(); // seen waiting twice: free the slot
      },
    },
    () => order.push("waiter_ran"),
  );
  await holding;
  await capacity.complete(holder);
  const final = await capacity.complete(waiter);
  return {
    instance_ids: [holder, waiter],
    short_reason: short?.reason,
    short_why: short?.why,
    short_message: short?.message,
    answers,
    order,
    state: final.state,
  };
}

/** A hosted agent: stop at PENDING, be woken by the signed callback, verify it, resume. */
async function callback(): Promise<Record<string, unknown>> {
  const target = new URL(env("GANTRAL_CALLBACK_URL"));
  const secret = env("GANTRAL_WEBHOOK_SECRET");
  let deliver = (_: { headers: IncomingHttpHeaders; body: string }): void => undefined;
  const delivered = new Promise<{ headers: IncomingHttpHeaders; body: string }>((resolve) => (deliver = resolve));
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      res.writeHead(204).end();
      if (req.method === "POST" && req.url === target.pathname) deliver({ headers: req.headers, body });
    });
  });
  await new Promise<void>((resolve) => server.listen(Number(target.port), target.hostname, resolve));
  try {
    const inst = await agent.startInstance("deploy", "payments", { sdk: "typescript", phase: "callback" }, {
      callbackUrl: target.href,
    });
    const iid = inst.instance_id;
    await agent.governedStep(iid, "plan", {}, () => undefined);
    const first = await agent.prepareStep(iid, "deploy", { action: ACTION, arguments: ARGS, stopAtPending: true });
    if (!("pending" in first)) throw new Error("expected PENDING");
    const token = encodeResumeToken(first.resume);
    await human.decide(iid, first.request, "APPROVE");
    let timer: NodeJS.Timeout | undefined;
    const hook = await Promise.race([
      delivered,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no callback within 90 s")), 90_000);
      }),
    ]).finally(() => clearTimeout(timer)); // a pending timer keeps node from exiting for 90 s
    let forged = "";
    try {
      verifyWebhook(secret, hook.headers, hook.body.replace("APPROVED", "REJECTED"));
    } catch (err) {
      if (!(err instanceof GantralError)) throw err;
      forged = err.reason;
    }
    const event = verifyWebhook(secret, hook.headers, hook.body);
    const step = await agent.resumeStep(decodeResumeToken(token), { arguments: ARGS });
    let ran: Record<string, unknown> | undefined;
    await agent.runStep(step, (s) => {
      ran = s.arguments;
    });
    const final = await agent.complete(iid);
    return {
      instance_id: iid,
      request_id: first.request.request_id,
      webhook_id: hook.headers["webhook-id"],
      event_type: event.type,
      event: event.data,
      forged,
      ran,
      state: final.state,
    };
  } finally {
    server.close();
  }
}

/** An operator halts a workflow: the agent's authorize and start throw `Halted` naming
 *  the halt; once lifted, the step runs. */
async function halted(): Promise<Record<string, unknown>> {
  const admin = new GantralClient({ baseUrl: url, auth: new BearerToken(env("GANTRAL_ADMIN_TOKEN")) });
  const workflow = env("GANTRAL_CAPACITY_WORKFLOW");
  const begin = (): ReturnType<GantralClient["startInstance"]> =>
    agent.startInstance(workflow, "payments", { sdk: "typescript", phase: "halted" });
  const iid = (await begin()).instance_id;
  const halt = await admin.raiseHalt({ workflow }, "contract test: typescript");
  const out: Record<string, unknown> = { instance_id: iid, halt_id: halt.halt_id, raised_by: halt.raised_by, scope: halt.scope };
  const refusal = async (call: Promise<unknown>): Promise<Halted> => {
    try {
      await call;
    } catch (err) {
      if (err instanceof Halted) return err;
      throw err;
    }
    throw new Error("a call under a halt was answered");
  };
  try {
    const refused = await refusal(agent.authorize(iid, "plan", { action: "plan" }));
    out["refusal"] = {
      typed: true, status: refused.status, reason: refused.reason,
      halt_id: refused.haltId, halt_reason: refused.haltReason, scope: refused.scope,
    };
    out["start_halt_id"] = (await refusal(begin())).haltId;
    out["listed"] = (await admin.listHalts()).some((h) => h.halt_id === halt.halt_id);
  } finally {
    // never leave the workflow halted for the next scenario
    out["lifted_by"] = (await admin.liftHalt(halt.halt_id, "contract test over")).lifted_by;
  }
  let ran = false;
  await agent.governedStep(iid, "plan", {}, () => {
    ran = true;
  });
  out["ran"] = ran;
  out["state"] = (await agent.complete(iid)).state;
  return out;
}

const result = {
  approved: await approved(),
  rejected: await rejected(),
  overridden: await overridden(),
  other_arguments: await otherArguments(),
  not_ready: await notReady(),
  callback: await callback(),
  halted: await halted(),
};
process.stdout.write(JSON.stringify(result) + "\n");
