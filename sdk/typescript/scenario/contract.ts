// The cross-SDK contract scenario (tests/integration/test_sdk_contract.py runs it, and
// the same scenario through the Python and Go SDKs, against one real stack). It prints
// one JSON object of what happened; the Python test asserts on it and on the server.
//
// Env: GANTRAL_URL, GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID, GANTRAL_CLIENT_SECRET (the
// agent), GANTRAL_HUMAN_TOKEN (a tech lead), GANTRAL_AUDITOR_TOKEN.
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
  verifyAuditChain,
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
        // The approver finds it in their inbox, then decides.
        const inbox = await human.inbox({ pendingForMe: true });
        inboxListed = inbox.items.some((item) => item.request_id === request.request_id);
        await human.decide(iid, request.request_id, "APPROVE", { seenArgsDigest: seen(request) });
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
  try {
    await agent.governedStep(
      iid,
      "deploy",
      {
        action: ACTION,
        arguments: ARGS,
        wait: 60,
        onPending: async (request) => {
          await human.decide(iid, request.request_id, "REJECT", { justification: "not today", seenArgsDigest: seen(request) });
        },
      },
      () => {
        ran = true;
      },
    );
  } catch (err) {
    if (!(err instanceof GantralError)) throw err;
    refusal = err.reason;
  }
  const view = await agent.getInstance(iid);
  return { instance_id: iid, refusal, ran, state: view.state };
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
      await human.decide(iid, request.request_id, "APPROVE", { seenArgsDigest: seen(request) });
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

const result = {
  approved: await approved(),
  rejected: await rejected(),
  overridden: await overridden(),
  other_arguments: await otherArguments(),
};
process.stdout.write(JSON.stringify(result) + "\n");
